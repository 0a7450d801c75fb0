//! The server's per-call metrics: `grpc.server.call.*`.

use std::sync::Arc;

use grpc_core::Code;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::buckets::{latency_histogram, size_histogram};
use crate::labels::{MethodLabel, ServerEnded, ServerStarted};
use crate::tally::{Sizes, Tally, as_f64};

type Histograms = Family<ServerEnded, Histogram, fn() -> Histogram>;

/// The four server metrics of gRFC A66, registered in a
/// [`Registry`]; cheap to clone (all clones record into the same
/// families).
///
/// | gRPC name | Prometheus name | labels |
/// | --- | --- | --- |
/// | `grpc.server.call.started` | `grpc_server_call_started_total` | `grpc_method` |
/// | `grpc.server.call.duration` | `grpc_server_call_duration_seconds` | `grpc_method`, `grpc_status` |
/// | `grpc.server.call.sent_total_compressed_message_size` | `grpc_server_call_sent_total_compressed_message_size_bytes` | `grpc_method`, `grpc_status` |
/// | `grpc.server.call.rcvd_total_compressed_message_size` | `grpc_server_call_rcvd_total_compressed_message_size_bytes` | `grpc_method`, `grpc_status` |
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    families: Arc<ServerFamilies>,
}

#[derive(Debug)]
struct ServerFamilies {
    started: Family<ServerStarted, Counter>,
    duration: Histograms,
    sent: Histograms,
    received: Histograms,
}

impl ServerMetrics {
    /// Creates the four metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> ServerMetrics {
        let families = ServerFamilies {
            started: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            sent: Family::new_with_constructor(size_histogram),
            received: Family::new_with_constructor(size_histogram),
        };
        registry.register(
            "grpc_server_call_started",
            "The total number of RPCs started, including those that have not completed",
            families.started.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_duration",
            "Time from receiving the request headers to sending the status, per RPC",
            Unit::Seconds,
            families.duration.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_sent_total_compressed_message_size",
            "Total bytes (compressed, not encrypted) sent across all response messages per RPC",
            Unit::Bytes,
            families.sent.clone(),
        );
        registry.register_with_unit(
            "grpc_server_call_rcvd_total_compressed_message_size",
            "Total bytes (compressed, not encrypted) received across all request messages per RPC",
            Unit::Bytes,
            families.received.clone(),
        );
        ServerMetrics {
            families: Arc::new(families),
        }
    }

    /// A call to `method` started (its request headers arrived): counts
    /// `grpc.server.call.started` and returns the recorder of the call.
    pub fn call_started(&self, method: MethodLabel) -> ServerCallRecorder {
        self.start(method, Sizes::Tracked)
    }

    /// A call started whose messages nobody reports (the interceptor's).
    pub(crate) fn call_started_without_sizes(&self, method: MethodLabel) -> ServerCallRecorder {
        self.start(method, Sizes::Untracked)
    }

    fn start(&self, method: MethodLabel, sizes: Sizes) -> ServerCallRecorder {
        let grpc_method = method.into_string();
        self.families
            .started
            .get_or_create(&ServerStarted {
                grpc_method: grpc_method.clone(),
            })
            .inc();
        ServerCallRecorder {
            metrics: self.clone(),
            grpc_method,
            tally: Tally::start(sizes),
        }
    }
}

/// One server call in progress. `Send + Sync`: the receiving and sending
/// paths of a streaming call may share it (in an `Arc`).
///
/// [`finish`](Self::finish) records the duration and the sizes under the
/// final status; a recorder dropped before that records them as
/// `CANCELLED` (the call ended without a status being sent).
#[derive(Debug)]
pub struct ServerCallRecorder {
    metrics: ServerMetrics,
    grpc_method: String,
    tally: Tally,
}

impl ServerCallRecorder {
    /// A response message went out: `wire_len` is its size on the wire
    /// (compressed if it was), without the 5-byte gRPC frame prefix.
    pub fn message_sent(&self, wire_len: usize) {
        self.tally.add_sent(wire_len);
    }

    /// A request message came in: `wire_len` is its size on the wire
    /// (compressed if it was), without the 5-byte gRPC frame prefix.
    pub fn message_received(&self, wire_len: usize) {
        self.tally.add_received(wire_len);
    }

    /// The call ended with `code` (the status was sent). Only the first
    /// call records; later ones are ignored.
    pub fn finish(&self, code: Code) {
        let Some(totals) = self.tally.end() else {
            return;
        };
        let labels = ServerEnded {
            grpc_method: self.grpc_method.clone(),
            grpc_status: code.name(),
        };
        let families = &self.metrics.families;
        families
            .duration
            .get_or_create(&labels)
            .observe(totals.elapsed.as_secs_f64());
        if self.tally.sizes == Sizes::Untracked {
            return;
        }
        families
            .sent
            .get_or_create(&labels)
            .observe(as_f64(totals.sent));
        families
            .received
            .get_or_create(&labels)
            .observe(as_f64(totals.received));
    }
}

impl Drop for ServerCallRecorder {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}
