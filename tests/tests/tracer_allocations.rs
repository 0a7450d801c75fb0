//! What call tracers cost in heap allocations per call, counted by a
//! global allocator that counts (this binary only, one test, so nothing
//! else allocates meanwhile). Server and client run in this process over
//! a real loopback socket, sequential unary calls.
//!
//! A tracer registered on neither side and one registered that opts out
//! of every call cost the same; one that traces every call costs its own
//! allocations plus a small fixed number on each side.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use grpc_core::{
    AttemptInfo, AttemptTracer, Channel, ChannelBuilder, ClientTracer, Code, HandlerCallDetails,
    Server, ServerBuilder, ServerCallTracer, ServerTracer, ServiceBuilder, Status, WireMessage,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations so far (`alloc` and `realloc` calls), as bench-alloc counts.
fn allocations() -> usize {
    let stats = GLOBAL.stats();
    stats.allocations + stats.reallocations
}

const METHOD: &str = "/alloc.Echo/Say";
const WARM: usize = 200;
const CALLS: usize = 2000;

/// Traces nothing: every call opts out.
struct OptOut;

impl ServerTracer for OptOut {
    fn start_call(&self, _call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>> {
        None
    }
}

impl ClientTracer for OptOut {
    fn start_attempt(&self, _attempt: &AttemptInfo<'_>) -> Option<Box<dyn AttemptTracer>> {
        None
    }
}

/// Counts bytes in a counter shared by all calls (one box per call).
#[derive(Clone, Default)]
struct Bytes(Arc<AtomicUsize>);

impl ServerTracer for Bytes {
    fn start_call(&self, _call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>> {
        Some(Box::new(self.clone()))
    }
}

impl ServerCallTracer for Bytes {
    fn message_received(&self, message: WireMessage) {
        self.0.fetch_add(message.wire_len(), Ordering::Relaxed);
    }
    fn call_ended(&self, _code: Code) {}
}

impl ClientTracer for Bytes {
    fn start_attempt(&self, _attempt: &AttemptInfo<'_>) -> Option<Box<dyn AttemptTracer>> {
        Some(Box::new(self.clone()))
    }
}

impl AttemptTracer for Bytes {
    fn message_received(&self, message: WireMessage) {
        self.0.fetch_add(message.wire_len(), Ordering::Relaxed);
    }
    fn attempt_ended(&self, _status: &Status) {}
}

fn serve(builder: ServerBuilder) -> (Server, u16) {
    let server = builder.max_workers(2).build();
    let mut service = ServiceBuilder::new("alloc.Echo");
    service.unary_unary("Say", |text: String, _| Ok(text));
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0").expect("port");
    server.start().expect("start");
    (server, port)
}

/// Heap allocations per sequential unary call, client and server together.
fn allocations_per_call(
    server: ServerBuilder,
    channel: fn(ChannelBuilder) -> ChannelBuilder,
) -> f64 {
    let (server, port) = serve(server);
    let channel: Channel = channel(ChannelBuilder::new(format!("127.0.0.1:{port}")))
        .build()
        .expect("channel");
    let say = channel.unary_unary::<String, String>(METHOD);
    let request = String::from("counted");
    for _ in 0..WARM {
        say.call(request.clone()).expect("warm-up call");
    }
    let before = allocations();
    for _ in 0..CALLS {
        say.call(request.clone()).expect("call");
    }
    let after = allocations();
    channel.close();
    server.stop(None).wait();
    (after - before) as f64 / CALLS as f64
}

#[test]
fn tracers_cost_nothing_unless_they_trace() {
    let none = allocations_per_call(Server::builder(), |channel| channel);
    let opted_out = allocations_per_call(Server::builder().tracer(OptOut), |c| c.tracer(OptOut));
    let counted = Bytes::default();
    let traced = allocations_per_call(Server::builder().tracer(counted.clone()), |c| {
        c.tracer(Bytes::default())
    });
    eprintln!(
        "allocations per unary call, client + server: no tracer {none:.2}, \
         tracers opting out {opted_out:.2}, tracing every call {traced:.2}"
    );
    assert!(
        counted.0.load(Ordering::Relaxed) > 0,
        "the tracer saw no bytes"
    );
    // Same code path but for the tracer lookups: within counting noise.
    assert!((opted_out - none).abs() < 0.5, "{opted_out} vs {none}");
    // On each side, the call's (attempt's) holder and the tracer's Box.
    let extra = traced - none;
    assert!(
        (3.5..=4.5).contains(&extra),
        "{extra} more allocations per call"
    );
}
