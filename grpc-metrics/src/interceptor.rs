//! Server interceptors: [`SpanInterceptor`] runs every call in its span;
//! the deprecated [`MetricsInterceptor`] also counts calls and durations
//! (but sees no messages: [`ServerMetrics::tracer`] records everything).

use grpc_core::{Continuation, HandlerCallDetails, ServerInterceptor, Status};
use tracing::Instrument;

use crate::labels::MethodLabel;
use crate::server::ServerMetrics;
use crate::trace::{record_status, server_span};

/// A [`ServerInterceptor`] that runs every call inside [`server_span`]
/// (OpenTelemetry RPC fields, the caller's `traceparent`) and records its
/// final status code on the span. Pair it with
/// [`ServerMetrics::tracer`] for the metrics.
///
/// ```
/// use grpc_metrics::{ServerMetrics, SpanInterceptor};
/// use grpc_metrics::prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ServerMetrics::register(&mut registry);
/// let server = grpc_core::Server::builder()
///     .tracer(metrics.tracer())
///     .interceptor(SpanInterceptor)
///     .build();
/// # drop(server);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanInterceptor;

impl ServerInterceptor for SpanInterceptor {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        in_span(continuation, details).await
    }
}

/// Runs the rest of the call inside its span; its status.
async fn in_span(continuation: Continuation, details: &HandlerCallDetails) -> Status {
    let span = server_span(
        details.method(),
        details.peer(),
        details.invocation_metadata(),
    );
    let status = continuation.call(details).instrument(span.clone()).await;
    record_status(&span, status.code());
    status
}

/// A [`ServerInterceptor`] that records `grpc.server.call.started` and
/// `grpc.server.call.duration` (by method and final status) for every
/// call, and runs the call inside [`server_span`].
///
/// An interceptor sees no messages, so the two message-size histograms
/// stay empty with it. Prefer [`ServerMetrics::tracer`] (all four
/// metrics, on every protocol) with [`SpanInterceptor`] for the span.
#[derive(Clone, Debug)]
pub struct MetricsInterceptor {
    metrics: ServerMetrics,
}

impl ServerMetrics {
    /// The interceptor that records the call counts and durations (not
    /// the message sizes) and the span of every call.
    #[deprecated(
        since = "0.1.0",
        note = "records no message sizes: register `ServerMetrics::tracer()` with \
                `ServerBuilder::tracer` (all four metrics) and `SpanInterceptor` for the span"
    )]
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
        let status = in_span(continuation, details).await;
        call.finish(status.code());
        status
    }
}
