//! gRPC's standard per-call metrics (the names of gRFC A66, as grpc-java,
//! grpc-go and grpcio's OpenTelemetry plugin report them) and server and
//! client spans following the OpenTelemetry RPC conventions, joined
//! through W3C `traceparent` metadata, for rustgrpc.
//!
//! Metrics are recorded into a [`prometheus_client`] [`Registry`] the
//! application owns (no global recorder), and exposed as Prometheus /
//! OpenMetrics text with [`prometheus_client::encoding::text::encode`].
//! gRPC's dotted names become Prometheus names with the unit as suffix:
//! `grpc.server.call.duration` is `grpc_server_call_duration_seconds`,
//! labels `grpc.method` / `grpc.status` are `grpc_method` / `grpc_status`.
//!
//! The metrics are fed by grpc-core's call tracers, which see what
//! crosses the wire:
//!
//! - server: [`ServerMetrics::tracer`], registered with
//!   `ServerBuilder::tracer`, records `grpc.server.call.started`,
//!   `.duration` and the compressed sizes of the messages sent and
//!   received, by method and status, for every call, on gRPC, gRPC-Web
//!   and Connect alike; [`SpanInterceptor`] runs each call in its span;
//! - client: [`ClientMetrics::attempt_tracer`], registered with
//!   `ChannelBuilder::tracer`, records `grpc.client.attempt.*` for every
//!   attempt the channel makes (the retries and hedges of the service
//!   config's policies and transparent retries included), and
//!   [`ClientMetrics::call_interceptor`] (through `intercept_channel`)
//!   records `grpc.client.call.duration` as the application sees the call;
//! - spans: [`SpanInterceptor`] on the server joins the caller's trace
//!   from its `traceparent`; [`ClientSpanInterceptor`] on a channel opens
//!   the client's span of each call and sends its `traceparent`.
//!
//! ```
//! use grpc_core::{ChannelBuilder, Server, intercept_channel};
//! use grpc_metrics::prometheus_client::registry::Registry;
//! use grpc_metrics::{ClientMetrics, ServerMetrics, SpanInterceptor};
//!
//! let mut registry = Registry::default();
//! let server_metrics = ServerMetrics::register(&mut registry);
//! let server = Server::builder()
//!     .tracer(server_metrics.tracer())
//!     .interceptor(SpanInterceptor)
//!     .build();
//!
//! let client_metrics = ClientMetrics::register(&mut registry);
//! let channel = ChannelBuilder::new("localhost:50051")
//!     .tracer(client_metrics.attempt_tracer())
//!     .build()?;
//! let call_metrics = client_metrics.call_interceptor(channel.target());
//! let channel = intercept_channel(channel, call_metrics);
//! # drop((server, channel));
//! # Ok::<(), grpc_core::Error>(())
//! ```
//!
//! The recorders underneath are public, for a call path of one's own:
//!
//! - server, per call: [`ServerMetrics::call_started`] when the request
//!   headers arrive, [`ServerCallRecorder::message_received`] /
//!   [`message_sent`](ServerCallRecorder::message_sent) per message,
//!   [`ServerCallRecorder::finish`] with the status sent;
//! - client, per call and per attempt: [`ClientMetrics::call_started`],
//!   [`ClientCallRecorder::attempt_started`] (or
//!   [`ClientMetrics::attempt_started`]) for each attempt, the
//!   attempt's message sizes and [`AttemptRecorder::finish`], then
//!   [`ClientCallRecorder::finish`] with the status the application sees.
//!
//! ```
//! use grpc_core::Code;
//! use grpc_metrics::prometheus_client::{encoding::text::encode, registry::Registry};
//! use grpc_metrics::{MethodLabel, ServerMetrics};
//!
//! let mut registry = Registry::default();
//! let metrics = ServerMetrics::register(&mut registry);
//!
//! let call = metrics.call_started(MethodLabel::registered("/helloworld.Greeter/SayHello"));
//! call.message_received(7);
//! call.message_sent(13);
//! call.finish(Code::Ok);
//!
//! let mut text = String::new();
//! encode(&mut text, &registry)?;
//! assert!(text.contains(
//!     "grpc_server_call_started_total{grpc_method=\"helloworld.Greeter/SayHello\"} 1"
//! ));
//! assert!(text.contains(
//!     "grpc_server_call_sent_total_compressed_message_size_bytes_sum{grpc_method=\"helloworld.Greeter/SayHello\",grpc_status=\"OK\"} 13.0"
//! ));
//! # Ok::<(), std::fmt::Error>(())
//! ```
//!
//! [`Registry`]: prometheus_client::registry::Registry

mod buckets;
mod client;
mod client_interceptor;
mod interceptor;
mod labels;
mod server;
mod tally;
mod trace;
mod tracer;

pub use buckets::{LATENCY_SECONDS, SIZE_BYTES};
pub use client::{AttemptRecorder, ClientCallRecorder, ClientMetrics};
pub use client_interceptor::{
    AttemptMetricsInterceptor, CallMetricsInterceptor, ClientSpanInterceptor,
};
pub use interceptor::{MetricsInterceptor, SpanInterceptor};
pub use labels::MethodLabel;
pub use prometheus_client;
pub use server::{ServerCallRecorder, ServerMetrics};
pub use trace::{TRACEPARENT, TraceParent, client_span, record_status, server_span};
pub use tracer::{AttemptMetricsTracer, ServerMetricsTracer};
