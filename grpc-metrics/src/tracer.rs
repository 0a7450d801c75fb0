//! The metrics as grpc-core call tracers: [`ServerMetricsTracer`] records
//! every server call, sizes included, and [`AttemptMetricsTracer`] every
//! client attempt the channel makes, retries and hedges included.

use grpc_core::{
    AttemptInfo, AttemptTracer, ClientTracer, Code, HandlerCallDetails, ServerCallTracer,
    ServerTracer, Status, WireMessage,
};

use crate::client::{AttemptRecorder, ClientMetrics};
use crate::labels::MethodLabel;
use crate::server::{ServerCallRecorder, ServerMetrics};

/// A [`ServerTracer`] recording the four `grpc.server.call.*` metrics of
/// every call, by method and final status: started, duration, and the
/// total compressed sizes of the messages sent and received, on gRPC,
/// gRPC-Web and Connect alike. Register it with
/// [`ServerBuilder::tracer`](grpc_core::ServerBuilder::tracer).
///
/// ```
/// use grpc_metrics::ServerMetrics;
/// use grpc_metrics::prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ServerMetrics::register(&mut registry);
/// let server = grpc_core::Server::builder()
///     .tracer(metrics.tracer())
///     .build();
/// # drop(server);
/// ```
#[derive(Clone, Debug)]
pub struct ServerMetricsTracer {
    metrics: ServerMetrics,
}

impl ServerMetrics {
    /// The tracer that records these metrics for every call.
    pub fn tracer(&self) -> ServerMetricsTracer {
        ServerMetricsTracer {
            metrics: self.clone(),
        }
    }
}

impl ServerTracer for ServerMetricsTracer {
    fn start_call(&self, call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>> {
        let method = MethodLabel::registered(call.method());
        Some(Box::new(TracedCall(self.metrics.call_started(method))))
    }
}

/// A server call's recorder, fed by the call path.
struct TracedCall(ServerCallRecorder);

impl ServerCallTracer for TracedCall {
    fn message_received(&self, message: WireMessage) {
        self.0.message_received(message.wire_len());
    }

    fn message_sent(&self, message: WireMessage) {
        self.0.message_sent(message.wire_len());
    }

    fn call_ended(&self, code: Code) {
        self.0.finish(code);
    }
}

/// A [`ClientTracer`] recording `grpc.client.attempt.started`,
/// `.duration` and the sent and received compressed message sizes of
/// every attempt the channel puts on the wire: retries and hedges of the
/// service config's policies and transparent retries each count as one.
/// Register it with
/// [`ChannelBuilder::tracer`](grpc_core::ChannelBuilder::tracer); the
/// `grpc.target` label is the channel's target.
///
/// `grpc.client.call.duration` is the application's view of a call, so it
/// stays with [`CallMetricsInterceptor`](crate::CallMetricsInterceptor).
///
/// ```
/// use grpc_core::{ChannelBuilder, intercept_channel};
/// use grpc_metrics::ClientMetrics;
/// use grpc_metrics::prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ClientMetrics::register(&mut registry);
/// let channel = ChannelBuilder::new("localhost:50051")
///     .tracer(metrics.attempt_tracer())
///     .build()?;
/// let call_metrics = metrics.call_interceptor(channel.target());
/// let channel = intercept_channel(channel, call_metrics);
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AttemptMetricsTracer {
    metrics: ClientMetrics,
}

impl ClientMetrics {
    /// The tracer that records the attempt metrics of every attempt.
    pub fn attempt_tracer(&self) -> AttemptMetricsTracer {
        AttemptMetricsTracer {
            metrics: self.clone(),
        }
    }
}

impl ClientTracer for AttemptMetricsTracer {
    fn start_attempt(&self, attempt: &AttemptInfo<'_>) -> Option<Box<dyn AttemptTracer>> {
        let method = MethodLabel::registered(attempt.method());
        let recorder = self.metrics.attempt_started(method, attempt.target());
        Some(Box::new(TracedAttempt(recorder)))
    }
}

/// A client attempt's recorder, fed by the channel's attempt path.
struct TracedAttempt(AttemptRecorder);

impl AttemptTracer for TracedAttempt {
    fn message_sent(&self, message: WireMessage) {
        self.0.message_sent(message.wire_len());
    }

    fn message_received(&self, message: WireMessage) {
        self.0.message_received(message.wire_len());
    }

    fn attempt_ended(&self, status: &Status) {
        self.0.finish(status.code());
    }
}
