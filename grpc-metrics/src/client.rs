//! The client's metrics: `grpc.client.attempt.*` per attempt and
//! `grpc.client.call.duration` per call.

use std::sync::Arc;

use grpc_core::Code;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::buckets::{latency_histogram, size_histogram};
use crate::labels::{ClientEnded, ClientStarted, MethodLabel};
use crate::tally::{Sizes, Tally, as_f64};

type Histograms = Family<ClientEnded, Histogram, fn() -> Histogram>;

/// The five client metrics of gRFC A66, registered in a [`Registry`];
/// cheap to clone.
///
/// | gRPC name | Prometheus name | labels |
/// | --- | --- | --- |
/// | `grpc.client.attempt.started` | `grpc_client_attempt_started_total` | `grpc_method`, `grpc_target` |
/// | `grpc.client.attempt.duration` | `grpc_client_attempt_duration_seconds` | + `grpc_status` |
/// | `grpc.client.attempt.sent_total_compressed_message_size` | `grpc_client_attempt_sent_total_compressed_message_size_bytes` | + `grpc_status` |
/// | `grpc.client.attempt.rcvd_total_compressed_message_size` | `grpc_client_attempt_rcvd_total_compressed_message_size_bytes` | + `grpc_status` |
/// | `grpc.client.call.duration` | `grpc_client_call_duration_seconds` | + `grpc_status` |
#[derive(Clone, Debug)]
pub struct ClientMetrics {
    families: Arc<ClientFamilies>,
}

#[derive(Debug)]
struct ClientFamilies {
    attempt_started: Family<ClientStarted, Counter>,
    attempt_duration: Histograms,
    attempt_sent: Histograms,
    attempt_received: Histograms,
    call_duration: Histograms,
}

impl ClientMetrics {
    /// Creates the five metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> ClientMetrics {
        let families = ClientFamilies {
            attempt_started: Family::default(),
            attempt_duration: Family::new_with_constructor(latency_histogram),
            attempt_sent: Family::new_with_constructor(size_histogram),
            attempt_received: Family::new_with_constructor(size_histogram),
            call_duration: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "grpc_client_attempt_started",
            "The total number of RPC attempts started, including those that have not completed",
            families.attempt_started.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_duration",
            "End-to-end time taken to complete an RPC attempt",
            Unit::Seconds,
            families.attempt_duration.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_sent_total_compressed_message_size",
            "Total bytes (compressed, not encrypted) sent across all request messages per attempt",
            Unit::Bytes,
            families.attempt_sent.clone(),
        );
        registry.register_with_unit(
            "grpc_client_attempt_rcvd_total_compressed_message_size",
            "Total bytes (compressed, not encrypted) received across all response messages per attempt",
            Unit::Bytes,
            families.attempt_received.clone(),
        );
        registry.register_with_unit(
            "grpc_client_call_duration",
            "Time the application sees for an RPC: from creating the call to its status",
            Unit::Seconds,
            families.call_duration.clone(),
        );
        ClientMetrics {
            families: Arc::new(families),
        }
    }

    /// The application started a call to `method` on the channel to
    /// `target` (`grpc.target`, e.g. `dns:///example.com:443`).
    pub fn call_started(&self, method: MethodLabel, target: &str) -> ClientCallRecorder {
        ClientCallRecorder {
            metrics: self.clone(),
            grpc_method: method.into_string(),
            grpc_target: target.to_owned(),
            tally: Tally::start(Sizes::Tracked),
        }
    }
}

impl ClientMetrics {
    /// An attempt of a call to `method` on the channel to `target` starts,
    /// whatever its call (the channel's retry layer makes attempts the
    /// application does not see): counts `grpc.client.attempt.started`.
    pub fn attempt_started(&self, method: MethodLabel, target: &str) -> AttemptRecorder {
        self.start_attempt(method.into_string(), target.to_owned())
    }

    fn start_attempt(&self, grpc_method: String, grpc_target: String) -> AttemptRecorder {
        self.families
            .attempt_started
            .get_or_create(&ClientStarted {
                grpc_method: grpc_method.clone(),
                grpc_target: grpc_target.clone(),
            })
            .inc();
        AttemptRecorder {
            metrics: self.clone(),
            grpc_method,
            grpc_target,
            tally: Tally::start(Sizes::Tracked),
        }
    }
}

/// One client call: one or more attempts (retries, hedging), then one
/// status. [`finish`](Self::finish) records `grpc.client.call.duration`;
/// dropped before that, the call is recorded as `CANCELLED`.
#[derive(Debug)]
pub struct ClientCallRecorder {
    metrics: ClientMetrics,
    grpc_method: String,
    grpc_target: String,
    tally: Tally,
}

impl ClientCallRecorder {
    /// An attempt of this call starts (its request headers are about to go
    /// out): counts `grpc.client.attempt.started`.
    pub fn attempt_started(&self) -> AttemptRecorder {
        self.metrics
            .start_attempt(self.grpc_method.clone(), self.grpc_target.clone())
    }

    /// The call ended with `code`, as the application sees it. Only the
    /// first call records.
    pub fn finish(&self, code: Code) {
        let Some(totals) = self.tally.end() else {
            return;
        };
        self.metrics
            .families
            .call_duration
            .get_or_create(&ended(&self.grpc_method, &self.grpc_target, code))
            .observe(totals.elapsed.as_secs_f64());
    }
}

impl Drop for ClientCallRecorder {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// One attempt of a client call; `Send + Sync`, like
/// [`ServerCallRecorder`](crate::ServerCallRecorder). Dropped before
/// [`finish`](Self::finish), the attempt is recorded as `CANCELLED`.
#[derive(Debug)]
pub struct AttemptRecorder {
    metrics: ClientMetrics,
    grpc_method: String,
    grpc_target: String,
    tally: Tally,
}

impl AttemptRecorder {
    /// A request message went out: its size on the wire (compressed if it
    /// was), without the 5-byte frame prefix.
    pub fn message_sent(&self, wire_len: usize) {
        self.tally.add_sent(wire_len);
    }

    /// A response message came in: its size on the wire, without the
    /// 5-byte frame prefix.
    pub fn message_received(&self, wire_len: usize) {
        self.tally.add_received(wire_len);
    }

    /// The attempt ended with `code`. Only the first call records.
    pub fn finish(&self, code: Code) {
        let Some(totals) = self.tally.end() else {
            return;
        };
        let labels = ended(&self.grpc_method, &self.grpc_target, code);
        let families = &self.metrics.families;
        families
            .attempt_duration
            .get_or_create(&labels)
            .observe(totals.elapsed.as_secs_f64());
        families
            .attempt_sent
            .get_or_create(&labels)
            .observe(as_f64(totals.sent));
        families
            .attempt_received
            .get_or_create(&labels)
            .observe(as_f64(totals.received));
    }
}

impl Drop for AttemptRecorder {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

fn ended(method: &str, target: &str, code: Code) -> ClientEnded {
    ClientEnded {
        grpc_method: method.to_owned(),
        grpc_target: target.to_owned(),
        grpc_status: code.name(),
    }
}
