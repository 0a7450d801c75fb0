//! Backends for the channel tests (`channels_*.rs`): in-process servers on
//! their own loopback ports, each answering with its name, counting the
//! calls and attempts it sees (`grpc-previous-rpc-attempts`), and failing
//! or stalling on demand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpc_core::{Code, Server, ServerBuilder, ServiceBuilder, ServicerContext, Status};

/// The service every backend serves.
pub const SERVICE: &str = "demo.Lb";
/// `/demo.Lb/Who`: unary, answers the backend's name.
pub const WHO: &str = "/demo.Lb/Who";
/// `/demo.Lb/Stream`: server streaming, one name message, then the
/// failure budget applies to the trailers.
pub const STREAM: &str = "/demo.Lb/Stream";
/// `/demo.Lb/Collect`: client streaming, answers the requests joined by `,`.
pub const COLLECT: &str = "/demo.Lb/Collect";
/// The request metadata key grouping a call's attempts.
pub const CALL_ID: &str = "call-id";
/// The request metadata key asking to fail a call's first K attempts.
pub const FAIL_FIRST: &str = "fail-first";

/// What a backend saw and how it behaves; shared with its handlers.
#[derive(Default)]
pub struct Behaviour {
    /// Requests handled (attempts, not calls).
    pub attempts: AtomicUsize,
    /// Attempts that ended with OK.
    pub served: AtomicUsize,
    /// Attempts the client cancelled while the handler waited.
    pub cancelled: AtomicUsize,
    /// The next this many attempts fail with `fail_code`.
    pub fail_next: AtomicUsize,
    /// Every attempt fails with `fail_code` while this is non-zero.
    pub fail_always: AtomicUsize,
    /// The code of failures (UNAVAILABLE unless set).
    pub fail_code: Mutex<Option<Code>>,
    /// Each attempt waits this long before answering.
    pub delay_ms: AtomicU64,
    /// `grpc-previous-rpc-attempts` of each attempt ("" when absent).
    pub previous_attempts: Mutex<Vec<String>>,
    /// Attempts per `call-id`.
    pub per_call: Mutex<HashMap<String, usize>>,
    /// The requests each `Collect` attempt received, in order.
    pub collected: Mutex<Vec<Vec<String>>>,
}

impl Behaviour {
    /// Records an attempt; the failure it must end with, if any.
    fn attempt(&self, ctx: &ServicerContext) -> Option<Status> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let metadata = ctx.invocation_metadata();
        let text = |key: &str| metadata.get(key).map(str::to_owned);
        let previous = text("grpc-previous-rpc-attempts").unwrap_or_default();
        lock(&self.previous_attempts).push(previous);
        let mut attempt_of_call = 0;
        if let Some(id) = text(CALL_ID) {
            let mut per_call = lock(&self.per_call);
            let count = per_call.entry(id).or_default();
            *count += 1;
            attempt_of_call = *count;
        }
        // `fail-first: K`: the call's first K attempts fail (-1: all).
        let planned = text(FAIL_FIRST)
            .and_then(|k| k.parse::<i64>().ok())
            .is_some_and(|k| k < 0 || attempt_of_call as i64 <= k);
        let failing = planned
            || self.fail_always.load(Ordering::SeqCst) > 0
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        failing.then(|| {
            let code = lock(&self.fail_code).unwrap_or(Code::Unavailable);
            Status::new(code, "failing on purpose")
        })
    }

    /// Attempts seen for the call `id`.
    pub fn attempts_of(&self, id: &str) -> usize {
        lock(&self.per_call).get(id).copied().unwrap_or(0)
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.attempts.store(0, Ordering::SeqCst);
        self.served.store(0, Ordering::SeqCst);
        self.cancelled.store(0, Ordering::SeqCst);
        lock(&self.previous_attempts).clear();
        lock(&self.per_call).clear();
        lock(&self.collected).clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts the attempt as cancelled when dropped before `finish`.
struct CancelWatch(Option<Arc<Behaviour>>);

impl CancelWatch {
    fn finish(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        if let Some(behaviour) = self.0.take() {
            behaviour.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Waits `delay_ms`, or until the client cancels (then `false`).
async fn wait_or_cancel(behaviour: &Arc<Behaviour>, ctx: &ServicerContext) -> bool {
    let delay = Duration::from_millis(behaviour.delay_ms.load(Ordering::SeqCst));
    if delay.is_zero() {
        return true;
    }
    let watch = CancelWatch(Some(Arc::clone(behaviour)));
    let end = tokio::time::Instant::now() + delay;
    while tokio::time::Instant::now() < end {
        if !ctx.is_active() {
            return false; // the watch counts the cancellation
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    watch.finish();
    true
}

fn service(name: &str, behaviour: &Arc<Behaviour>) -> grpc_core::Service {
    let mut service = ServiceBuilder::new(SERVICE);
    let (who, b) = (name.to_owned(), Arc::clone(behaviour));
    service.unary_unary_async(&WHO[SERVICE.len() + 2..], move |_: String, ctx| {
        let (who, b) = (who.clone(), Arc::clone(&b));
        async move {
            if let Some(status) = b.attempt(&ctx) {
                return Err(status);
            }
            if !wait_or_cancel(&b, &ctx).await {
                return Err(Status::cancelled("cancelled"));
            }
            b.served.fetch_add(1, Ordering::SeqCst);
            Ok(who)
        }
    });
    let (who, b) = (name.to_owned(), Arc::clone(behaviour));
    service.unary_stream(&STREAM[SERVICE.len() + 2..], move |_: String, ctx| {
        let failure = b.attempt(ctx);
        Ok(std::iter::once(Ok(who.clone())).chain(failure.map(Err)))
    });
    let b = Arc::clone(behaviour);
    service.stream_unary(&COLLECT[SERVICE.len() + 2..], move |requests, ctx| {
        let received: Vec<String> = requests.filter_map(Result::ok).collect();
        lock(&b.collected).push(received.clone());
        match b.attempt(ctx) {
            Some(status) => Err(status),
            None => Ok(received.join(",")),
        }
    });
    service.build()
}

/// A backend: a server on a loopback port.
pub struct Backend {
    /// Its name (what `Who` answers).
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Its behaviour and counters.
    pub behaviour: Arc<Behaviour>,
    server: Option<Server>,
}

impl Backend {
    /// A backend on a free port.
    pub fn start(name: &str) -> Backend {
        Backend::start_with(name, Server::builder(), 0)
    }

    /// A backend built from `builder`, on `port` (0: a free one).
    pub fn start_with(name: &str, builder: ServerBuilder, port: u16) -> Backend {
        let behaviour = Arc::new(Behaviour::default());
        let mut backend = Backend {
            name: name.to_owned(),
            port,
            behaviour,
            server: None,
        };
        backend.serve(builder);
        backend
    }

    fn serve(&mut self, builder: ServerBuilder) {
        let server = builder.max_workers(8).build();
        server.add_service(service(&self.name, &self.behaviour));
        self.port = server
            .add_insecure_port(&format!("127.0.0.1:{}", self.port))
            .expect("bind a backend port");
        server.start().expect("start a backend");
        self.server = Some(server);
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (GOAWAY; calls in flight get `grace` to finish).
    pub fn stop(&mut self, grace: Option<Duration>) {
        if let Some(server) = self.server.take() {
            server.stop(grace).wait();
        }
    }

    /// Starts it again on the same port, with the same counters.
    pub fn restart(&mut self) {
        self.serve(Server::builder());
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop(None);
    }
}

/// An `ipv4:` target listing `backends`.
pub fn ipv4_target(backends: &[&Backend]) -> String {
    let list: Vec<String> = backends.iter().map(|b| b.address()).collect();
    format!("ipv4:{}", list.join(","))
}
