//! The soak: one server with blocking and async handlers of every RPC
//! shape, hammered for a while by thousands of async calls in flight and
//! a few blocking callers, with random deadlines and cancellations. Every
//! message carries its stream's id and a sequence number, so each side
//! checks that what was sent arrived exactly once and in order; the run
//! samples throughput, RSS, threads and descriptors as it goes.
//!
//! `cargo run --release -p rustgrpc-bench --bin soak -- --secs 1800` for a
//! long run; `benches/tests/soak.rs` is the bounded CI form.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grpc_core::{
    CallOptions, Channel, Code, RequestStream, Requests, Server, ServiceBuilder, Status,
};

use crate::pb::rg::Payload;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct SoakConfig {
    /// How long to keep calling.
    pub duration: Duration,
    /// Async calls kept in flight.
    pub in_flight: usize,
    /// Threads making blocking calls.
    pub blocking_callers: usize,
    /// Messages per streaming call (at most).
    pub stream_len: u32,
    /// Seconds between samples.
    pub sample_every: Duration,
    /// The server's `max_workers` (threads running handler code).
    pub max_workers: usize,
    /// The server's `max_waiting_handlers` (extra threads for blocking
    /// handlers parked on the network).
    pub max_waiting_handlers: usize,
}

impl Default for SoakConfig {
    fn default() -> SoakConfig {
        SoakConfig {
            duration: Duration::from_secs(60),
            in_flight: 2_000,
            blocking_callers: 8,
            stream_len: 20,
            sample_every: Duration::from_secs(5),
            max_workers: 64,
            max_waiting_handlers: 128,
        }
    }
}

/// One sample of the process.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Seconds since the start.
    pub at: f64,
    /// Calls finished so far.
    pub calls: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Threads of the process.
    pub threads: usize,
    /// Open descriptors of the process.
    pub fds: usize,
}

/// What the run saw.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// Calls that ended OK.
    pub ok: u64,
    /// Calls that ended with the DEADLINE_EXCEEDED or CANCELLED they asked for.
    pub expected_failures: u64,
    /// Messages checked (both directions).
    pub messages: u64,
    /// Messages missing from a stream that ended OK.
    pub lost: u64,
    /// Messages received twice.
    pub duplicated: u64,
    /// Messages received out of order.
    pub reordered: u64,
    /// Calls that failed in a way nobody asked for (first few kept).
    pub unexpected: Vec<String>,
    /// Number of unexpected failures.
    pub unexpected_count: u64,
    /// Calls per second.
    pub throughput: f64,
    /// Latency percentiles of OK calls, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Samples over time (the first after warm-up, the last after the
    /// server stopped and the clients were dropped).
    pub samples: Vec<Sample>,
}

impl SoakReport {
    /// A table of the samples and the totals.
    pub fn table(&self) -> String {
        let mut out = String::from("    secs      calls   RSS MiB  threads  fds\n");
        for s in &self.samples {
            out.push_str(&format!(
                "{:8.1} {:10} {:9.1} {:8} {:4}\n",
                s.at,
                s.calls,
                s.rss_kib as f64 / 1024.0,
                s.threads,
                s.fds
            ));
        }
        out.push_str(&format!(
            "ok {} | expected deadline/cancel {} | unexpected {} | messages {} | lost {} | duplicated {} | reordered {}\nthroughput {:.0} calls/s | p50 {} us | p99 {} us\n",
            self.ok,
            self.expected_failures,
            self.unexpected_count,
            self.messages,
            self.lost,
            self.duplicated,
            self.reordered,
            self.throughput,
            self.p50_us,
            self.p99_us
        ));
        for failure in &self.unexpected {
            out.push_str(&format!("unexpected: {failure}\n"));
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Messages: 8-byte stream id, 4-byte sequence number (or count).
// ---------------------------------------------------------------------------

fn body(id: u64, seq: u32) -> Payload {
    let mut body = id.to_be_bytes().to_vec();
    body.extend_from_slice(&seq.to_be_bytes());
    Payload { body }
}

fn parse(payload: &Payload) -> Option<(u64, u32)> {
    let b = &payload.body;
    if b.len() != 12 {
        return None;
    }
    let id = u64::from_be_bytes(b[..8].try_into().ok()?);
    let seq = u32::from_be_bytes(b[8..].try_into().ok()?);
    Some((id, seq))
}

/// Tracks one stream's sequence numbers.
#[derive(Default)]
struct SeqCheck {
    next: u32,
    duplicated: u64,
    reordered: u64,
}

impl SeqCheck {
    fn see(&mut self, seq: u32) {
        if seq == self.next {
            self.next += 1;
        } else if seq < self.next {
            self.duplicated += 1;
        } else {
            self.reordered += 1;
            self.next = seq + 1;
        }
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// The summary a client-streaming handler returns: count, then 1 if the
/// sequence was intact.
fn summary(requests: impl Iterator<Item = Result<Payload, Status>>) -> Result<Payload, Status> {
    let mut check = SeqCheck::default();
    let mut id = 0;
    for request in requests {
        let (stream, seq) = parse(&request?).ok_or_else(|| Status::invalid_argument("bad body"))?;
        id = stream;
        check.see(seq);
    }
    let intact = check.duplicated == 0 && check.reordered == 0;
    Ok(body(id, check.next * 2 + u32::from(intact)))
}

fn stream_of(
    request: &Payload,
) -> Result<impl Iterator<Item = Result<Payload, Status>> + use<>, Status> {
    let (id, count) = parse(request).ok_or_else(|| Status::invalid_argument("bad body"))?;
    Ok((0..count).map(move |seq| Ok(body(id, seq))))
}

/// The soak service: each shape with a blocking and an async handler.
pub fn service() -> grpc_core::Service {
    let mut service = ServiceBuilder::new("soak.Soak");
    service
        .unary_unary("Unary", |request: Payload, _ctx| Ok::<_, Status>(request))
        .unary_stream("ServerStream", |request: Payload, _ctx| stream_of(&request))
        .stream_unary("ClientStream", |requests: Requests<Payload>, _ctx| {
            summary(requests)
        })
        .stream_stream("Bidi", |requests: Requests<Payload>, _ctx| {
            Ok::<_, Status>(requests)
        })
        .unary_unary_async("UnaryAsync", |request: Payload, _ctx| async move {
            Ok::<_, Status>(request)
        })
        .unary_stream_async("ServerStreamAsync", |request: Payload, _ctx| async move {
            stream_of(&request).map(futures_util::stream::iter)
        })
        .stream_unary_async(
            "ClientStreamAsync",
            |mut requests: RequestStream<Payload>, _ctx| async move {
                let mut all = Vec::new();
                while let Some(request) = StreamExt::next(&mut requests).await {
                    all.push(request);
                }
                summary(all.into_iter())
            },
        )
        .stream_stream_async(
            "BidiAsync",
            |requests: RequestStream<Payload>, _ctx| async move { Ok::<_, Status>(requests) },
        );
    service.build()
}

// ---------------------------------------------------------------------------
// The callers
// ---------------------------------------------------------------------------

/// Shared tallies.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    expected: AtomicU64,
    messages: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    unexpected: AtomicU64,
    failures: Mutex<Vec<String>>,
    latencies: Mutex<Vec<u64>>,
}

impl Tally {
    fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.expected.load(Ordering::Relaxed)
            + self.unexpected.load(Ordering::Relaxed)
    }

    /// Records a call's end: `fate` is what the caller asked for.
    fn end(&self, what: &str, fate: Fate, result: Result<(), Status>, started: Instant) {
        match result {
            Ok(()) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                let micros = started.elapsed().as_micros() as u64;
                if let Ok(mut latencies) = self.latencies.lock() {
                    latencies.push(micros);
                }
            }
            Err(status) if fate.allows(status.code()) => {
                self.expected.fetch_add(1, Ordering::Relaxed);
            }
            Err(status) => {
                self.unexpected.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut failures) = self.failures.lock()
                    && failures.len() < 10
                {
                    failures.push(format!("{what} ({fate:?}): {status:?}"));
                }
            }
        }
    }

    fn check(&self, check: &SeqCheck, expected: Option<u32>) {
        self.messages
            .fetch_add(u64::from(check.next), Ordering::Relaxed);
        self.duplicated
            .fetch_add(check.duplicated, Ordering::Relaxed);
        self.reordered.fetch_add(check.reordered, Ordering::Relaxed);
        if let Some(expected) = expected {
            self.lost.fetch_add(
                u64::from(expected.saturating_sub(check.next)),
                Ordering::Relaxed,
            );
        }
    }
}

/// What a call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Runs to the end.
    Normal,
    /// A deadline that may pass mid-call.
    Deadline(Duration),
    /// Cancelled (dropped) after this many responses.
    Cancel(u32),
}

impl Fate {
    fn allows(self, code: Code) -> bool {
        match self {
            Fate::Normal => false,
            Fate::Deadline(_) => code == Code::DeadlineExceeded,
            Fate::Cancel(_) => code == Code::Cancelled || code == Code::DeadlineExceeded,
        }
    }

    fn options(self) -> CallOptions {
        match self {
            Fate::Deadline(deadline) => CallOptions::new().timeout(deadline),
            _ => CallOptions::new().timeout(Duration::from_secs(60)),
        }
    }
}

/// A small xorshift generator (no dependency, reproducible per caller).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn fate(&mut self, stream_len: u32) -> Fate {
        match self.below(20) {
            0 => Fate::Deadline(Duration::from_millis(1 + self.below(30))),
            1 => Fate::Cancel(self.below(u64::from(stream_len)) as u32),
            _ => Fate::Normal,
        }
    }
}

fn status_of(error: grpc_core::RpcError) -> Status {
    Status::new(error.code(), error.details())
}

/// One async call of a random shape on a random face.
async fn one_async_call(channel: &Channel, tally: &Tally, rng: &mut Rng, id: u64, len: u32) {
    let suffix = if rng.below(2) == 0 { "" } else { "Async" };
    let shape = rng.below(4);
    let mut fate = rng.fate(len);
    if shape == 0 && matches!(fate, Fate::Cancel(_)) {
        fate = Fate::Deadline(Duration::from_millis(1));
    }
    let n = 1 + rng.below(u64::from(len)) as u32;
    let started = Instant::now();
    let options = fate.options();
    let (what, result) = match shape {
        0 => {
            let method = channel
                .unary_unary::<Payload, Payload>(format!("/soak.Soak/Unary{suffix}"))
                .with_options(options);
            let result = match method.call_async(body(id, 7)).await {
                Ok(reply) if parse(&reply) == Some((id, 7)) => Ok(()),
                Ok(_) => Err(Status::data_loss("unary echo differs")),
                Err(error) => Err(status_of(error)),
            };
            ("unary", result)
        }
        1 => {
            let method = channel
                .unary_stream::<Payload, Payload>(format!("/soak.Soak/ServerStream{suffix}"))
                .with_options(options);
            (
                "server stream",
                server_stream(method, id, n, fate, tally).await,
            )
        }
        2 => {
            let method = channel
                .stream_unary::<Payload, Payload>(format!("/soak.Soak/ClientStream{suffix}"))
                .with_options(options);
            let requests = futures_util::stream::iter((0..n).map(move |seq| body(id, seq)));
            let result = match method.call_async(requests).await {
                Ok(reply) => check_summary(&reply, n, tally),
                Err(error) => Err(status_of(error)),
            };
            ("client stream", result)
        }
        _ => {
            let method = channel
                .stream_stream::<Payload, Payload>(format!("/soak.Soak/Bidi{suffix}"))
                .with_options(options);
            ("bidi", bidi(method, id, n, fate, tally).await)
        }
    };
    tally.end(what, fate, result, started);
}

async fn server_stream(
    method: grpc_core::UnaryStream<Payload, Payload>,
    id: u64,
    n: u32,
    fate: Fate,
    tally: &Tally,
) -> Result<(), Status> {
    let mut responses = method.call_async(body(id, n)).await.map_err(status_of)?;
    read_checked(&mut responses, id, n, fate, tally).await
}

async fn bidi(
    method: grpc_core::StreamStream<Payload, Payload>,
    id: u64,
    n: u32,
    fate: Fate,
    tally: &Tally,
) -> Result<(), Status> {
    let requests = futures_util::stream::iter((0..n).map(move |seq| body(id, seq)));
    let mut responses = method.call_async(requests).await.map_err(status_of)?;
    read_checked(&mut responses, id, n, fate, tally).await
}

/// Reads a response stream, checking ids and order; cancels by dropping
/// when the fate says so.
async fn read_checked(
    responses: &mut grpc_core::ResponseStream<Payload>,
    id: u64,
    n: u32,
    fate: Fate,
    tally: &Tally,
) -> Result<(), Status> {
    let mut check = SeqCheck::default();
    let outcome = loop {
        if fate == Fate::Cancel(check.next) {
            responses.cancel();
            break Err(Status::cancelled("cancelled by the soak"));
        }
        match responses.next().await {
            Some(Ok(payload)) => match parse(&payload) {
                Some((got, seq)) if got == id => check.see(seq),
                _ => break Err(Status::data_loss("a message of another stream")),
            },
            Some(Err(error)) => break Err(status_of(error)),
            None => break Ok(()),
        }
    };
    tally.check(&check, outcome.is_ok().then_some(n));
    outcome
}

fn check_summary(reply: &Payload, n: u32, tally: &Tally) -> Result<(), Status> {
    let (_, code) = parse(reply).ok_or_else(|| Status::data_loss("bad summary"))?;
    let (count, intact) = (code / 2, code % 2 == 1);
    tally
        .messages
        .fetch_add(u64::from(count), Ordering::Relaxed);
    tally
        .lost
        .fetch_add(u64::from(n.saturating_sub(count)), Ordering::Relaxed);
    if !intact {
        tally.reordered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Blocking calls from a plain thread (the blocking face of the client).
fn blocking_caller(
    channel: Channel,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    seed: u64,
    len: u32,
) {
    let mut rng = Rng(seed | 1);
    let mut id = seed << 32;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let fate = match rng.fate(len) {
            Fate::Cancel(_) => Fate::Normal,
            other => other,
        };
        let n = 1 + rng.below(u64::from(len)) as u32;
        let suffix = if rng.below(2) == 0 { "" } else { "Async" };
        let started = Instant::now();
        let (what, result) = if rng.below(2) == 0 {
            let method = channel
                .unary_stream::<Payload, Payload>(format!("/soak.Soak/ServerStream{suffix}"))
                .with_options(fate.options());
            let result = method
                .call(body(id, n))
                .map_err(status_of)
                .and_then(|responses| {
                    let mut check = SeqCheck::default();
                    let mut outcome = Ok(());
                    for response in responses {
                        match response.map_err(status_of) {
                            Ok(payload) => match parse(&payload) {
                                Some((got, seq)) if got == id => check.see(seq),
                                _ => {
                                    outcome = Err(Status::data_loss("a message of another stream"))
                                }
                            },
                            Err(status) => outcome = Err(status),
                        }
                    }
                    tally.check(&check, outcome.is_ok().then_some(n));
                    outcome
                });
            ("blocking server stream", result)
        } else {
            let method = channel
                .stream_unary::<Payload, Payload>(format!("/soak.Soak/ClientStream{suffix}"))
                .with_options(fate.options());
            let requests: Vec<Payload> = (0..n).map(|seq| body(id, seq)).collect();
            let result = match method.call(requests) {
                Ok(reply) => check_summary(&reply, n, &tally),
                Err(error) => Err(status_of(error)),
            };
            ("blocking client stream", result)
        };
        tally.end(what, fate, result, started);
    }
}

fn sample(start: Instant, tally: &Tally) -> Sample {
    Sample {
        at: start.elapsed().as_secs_f64(),
        calls: tally.done(),
        rss_kib: crate::proc::rss_kib(std::process::id()).unwrap_or(0),
        threads: std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count()),
        fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
    }
}

/// Runs the soak; `progress` sees each sample as it is taken.
pub fn run(config: SoakConfig, mut progress: impl FnMut(&Sample)) -> Result<SoakReport, String> {
    let server = Server::builder()
        .max_workers(config.max_workers)
        .max_waiting_handlers(config.max_waiting_handlers)
        .build();
    server.add_service(service());
    let port = server
        .add_insecure_port("127.0.0.1:0")
        .map_err(|e| e.to_string())?;
    server.start().map_err(|e| e.to_string())?;
    let target = format!("127.0.0.1:{port}");
    let channels: Vec<Channel> = (0..4)
        .map(|_| grpc_core::insecure_channel(&target))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let tasks: Vec<_> = (0..config.in_flight)
        .map(|i| {
            let channel = channels[i % channels.len()].clone();
            let (tally, stop) = (Arc::clone(&tally), Arc::clone(&stop));
            let len = config.stream_len;
            runtime.spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
                let mut id = (i as u64 + 1) << 40;
                while !stop.load(Ordering::Relaxed) {
                    id += 1;
                    one_async_call(&channel, &tally, &mut rng, id, len).await;
                }
            })
        })
        .collect();
    let blocking: Vec<_> = (0..config.blocking_callers)
        .map(|i| {
            let channel = channels[i % channels.len()].clone();
            let (tally, stop) = (Arc::clone(&tally), Arc::clone(&stop));
            let len = config.stream_len;
            std::thread::spawn(move || blocking_caller(channel, tally, stop, 1_000 + i as u64, len))
        })
        .collect();

    let mut samples = Vec::new();
    while start.elapsed() < config.duration {
        let left = config.duration.saturating_sub(start.elapsed());
        std::thread::sleep(config.sample_every.min(left));
        let now = sample(start, &tally);
        progress(&now);
        samples.push(now);
    }
    stop.store(true, Ordering::Relaxed);
    let calls = tally.done();
    let secs = start.elapsed().as_secs_f64();
    for task in tasks {
        runtime
            .block_on(task)
            .map_err(|e| format!("a caller task failed: {e}"))?;
    }
    for thread in blocking {
        thread
            .join()
            .map_err(|_| "a blocking caller panicked".to_owned())?;
    }
    drop(runtime);
    drop(channels);
    server.stop(None).wait();
    drop(server);
    std::thread::sleep(Duration::from_millis(500));
    let last = sample(start, &tally);
    progress(&last);
    samples.push(last);

    let mut latencies = tally
        .latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let failures = tally.failures.lock().map(|f| f.clone()).unwrap_or_default();
    Ok(SoakReport {
        ok: tally.ok.load(Ordering::Relaxed),
        expected_failures: tally.expected.load(Ordering::Relaxed),
        messages: tally.messages.load(Ordering::Relaxed),
        lost: tally.lost.load(Ordering::Relaxed),
        duplicated: tally.duplicated.load(Ordering::Relaxed),
        reordered: tally.reordered.load(Ordering::Relaxed),
        unexpected: failures,
        unexpected_count: tally.unexpected.load(Ordering::Relaxed),
        throughput: calls as f64 / secs.max(0.001),
        p50_us: crate::percentile(&latencies, 0.50),
        p99_us: crate::percentile(&latencies, 0.99),
        samples,
    })
}
