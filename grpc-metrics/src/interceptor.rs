//! [`MetricsInterceptor`]: the server metrics and span of every call,
//! through grpc-core's [`ServerInterceptor`] hook.

use grpc_core::{Continuation, HandlerCallDetails, ServerInterceptor, Status};
use tracing::Instrument;

use crate::labels::MethodLabel;
use crate::server::ServerMetrics;
use crate::trace::{record_status, server_span};

/// A [`ServerInterceptor`] that records `grpc.server.call.started` and
/// `grpc.server.call.duration` (by method and final status) for every
/// call, and runs the call inside [`server_span`].
///
/// An interceptor sees no messages, so the two message-size histograms
/// stay empty with it; they need the call path to report sizes (see
/// [`ServerCallRecorder::message_sent`](crate::ServerCallRecorder::message_sent)).
/// Only registered methods reach interceptors, so `grpc.method` is never
/// a path a client made up.
///
/// ```
/// use grpc_metrics::ServerMetrics;
/// use grpc_metrics::prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ServerMetrics::register(&mut registry);
/// let server = grpc_core::Server::builder()
///     .interceptor(metrics.interceptor())
///     .build();
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
pub struct MetricsInterceptor {
    metrics: ServerMetrics,
}

impl ServerMetrics {
    /// The interceptor that records these metrics for every call.
    pub fn interceptor(&self) -> MetricsInterceptor {
        MetricsInterceptor {
            metrics: self.clone(),
        }
    }
}

impl ServerInterceptor for MetricsInterceptor {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        let call = self
            .metrics
            .call_started_without_sizes(MethodLabel::registered(details.method()));
        let span = server_span(
            details.method(),
            details.peer(),
            details.invocation_metadata(),
        );
        let status = continuation.call(details).instrument(span.clone()).await;
        record_status(&span, status.code());
        call.finish(status.code());
        status
    }
}
