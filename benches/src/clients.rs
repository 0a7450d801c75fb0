//! The load-generating clients: rustgrpc's blocking face (one thread per
//! call in flight), rustgrpc's async face and tonic (one task per call in
//! flight, on a default multi-thread tokio runtime), spread round-robin
//! over `conns` channels (one HTTP/2 connection each).
//!
//! Every run warms up first; only calls that complete inside the measured
//! window count. Streaming counts messages as they arrive and cancels the
//! call in progress when the window closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::pb::{rg, tn};

/// Which client to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientImpl {
    /// rustgrpc's blocking face (`call`).
    RustgrpcBlocking,
    /// rustgrpc's async face (`call_async`).
    RustgrpcAsync,
    /// tonic's generated client.
    Tonic,
}

impl ClientImpl {
    /// Every client.
    pub const ALL: [ClientImpl; 3] = [
        ClientImpl::RustgrpcBlocking,
        ClientImpl::RustgrpcAsync,
        ClientImpl::Tonic,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ClientImpl::RustgrpcBlocking => "rustgrpc-blocking",
            ClientImpl::RustgrpcAsync => "rustgrpc-async",
            ClientImpl::Tonic => "tonic",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Result<ClientImpl, String> {
        ClientImpl::ALL
            .into_iter()
            .find(|imp| imp.name() == name)
            .ok_or_else(|| format!("unknown client {name:?}"))
    }
}

/// Which RPC to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rpc {
    /// `Unary`: one echoed message per call.
    Unary,
    /// `ServerStream`: `count` messages of `size` bytes per call.
    ServerStream,
    /// `PingPong`: one long bidi stream per worker, one round trip per op.
    PingPong,
}

impl Rpc {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Rpc::Unary => "unary",
            Rpc::ServerStream => "stream",
            Rpc::PingPong => "pingpong",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Result<Rpc, String> {
        [Rpc::Unary, Rpc::ServerStream, Rpc::PingPong]
            .into_iter()
            .find(|rpc| rpc.name() == name)
            .ok_or_else(|| format!("unknown rpc {name:?}"))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// The client.
    pub imp: ClientImpl,
    /// Server port on 127.0.0.1.
    pub port: u16,
    /// The RPC.
    pub rpc: Rpc,
    /// Message size in bytes (request for unary/ping-pong, response for streaming).
    pub size: u32,
    /// Messages per server-streaming call.
    pub count: u32,
    /// Calls (or ping-pong streams) in flight.
    pub concurrency: usize,
    /// Channels (connections) they share.
    pub conns: usize,
    /// Warm-up before measuring.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Instead of a time window: exactly this many ops per worker, all measured.
    pub calls: Option<u64>,
    /// Print `PHASE measure` and `PHASE stop` on stdout as the window opens
    /// and closes, so that a parent can sample the server at those moments.
    pub announce: bool,
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Completed calls (unary, streaming) or round trips (ping-pong).
    pub ops: u64,
    /// Response messages received.
    pub msgs: u64,
    /// Response payload bytes received.
    pub bytes: u64,
    /// Failed calls.
    pub errors: u64,
    /// Length of the measured window, seconds.
    pub secs: f64,
    /// This process's CPU seconds inside the window.
    pub cpu_secs: f64,
    /// Per-op latencies in nanoseconds, sorted.
    pub latencies_ns: Vec<u64>,
}

impl LoadResult {
    /// The `RESULT ...` line the `client` subcommand prints.
    pub fn to_line(&self) -> String {
        let p = |q| crate::percentile(&self.latencies_ns, q);
        format!(
            "RESULT ops={} msgs={} bytes={} errors={} secs={:.6} cpu={:.4} p50_ns={} p99_ns={} p999_ns={} hwm_kib={}",
            self.ops,
            self.msgs,
            self.bytes,
            self.errors,
            self.secs,
            self.cpu_secs,
            p(0.5),
            p(0.99),
            p(0.999),
            crate::proc::peak_rss_kib(std::process::id()).unwrap_or(0),
        )
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Shared phase of a run.
struct Control {
    phase: AtomicU8,
    limit: Option<u64>,
}

impl Control {
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }
}

/// One worker's counts.
#[derive(Default)]
struct Tally {
    ops: u64,
    msgs: u64,
    bytes: u64,
    errors: u64,
    latencies: Vec<u64>,
}

impl Tally {
    /// Records a finished op started at `start` if measuring; returns false
    /// when the worker should stop.
    fn op(&mut self, control: &Control, start: Instant, ok: bool, msgs: u64, bytes: u64) -> bool {
        match control.phase() {
            MEASURE => {
                if ok {
                    self.ops += 1;
                    self.msgs += msgs;
                    self.bytes += bytes;
                    self.latencies.push(start.elapsed().as_nanos() as u64);
                } else {
                    self.errors += 1;
                }
                control
                    .limit
                    .is_none_or(|limit| self.ops + self.errors < limit)
            }
            STOP => false,
            _ => true,
        }
    }

    /// Records one streamed message; returns false when the window closed.
    fn msg(&mut self, control: &Control, bytes: usize) -> bool {
        match control.phase() {
            MEASURE => {
                self.msgs += 1;
                self.bytes += bytes as u64;
                true
            }
            STOP => false,
            _ => true,
        }
    }

    fn error(&mut self, control: &Control) {
        if control.phase() == MEASURE {
            self.errors += 1;
        }
        // A failing server must not turn the worker into a busy loop.
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn merge(tallies: Vec<Tally>, secs: f64, cpu_secs: f64) -> LoadResult {
    let mut result = LoadResult {
        secs,
        cpu_secs,
        ..LoadResult::default()
    };
    for tally in tallies {
        result.ops += tally.ops;
        result.msgs += tally.msgs;
        result.bytes += tally.bytes;
        result.errors += tally.errors;
        result.latencies_ns.extend(tally.latencies);
    }
    result.latencies_ns.sort_unstable();
    result
}

/// Steps a timed run through warm-up and the window; returns (secs, cpu).
fn drive(control: &Control, spec: &LoadSpec) -> (f64, f64) {
    let announce = |phase: &str| {
        if spec.announce {
            println!("PHASE {phase}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
    };
    std::thread::sleep(spec.warmup);
    announce("measure");
    let cpu0 = crate::proc::own_cpu_seconds();
    let start = Instant::now();
    control.phase.store(MEASURE, Ordering::Relaxed);
    std::thread::sleep(spec.duration);
    control.phase.store(STOP, Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let cpu = crate::proc::own_cpu_seconds() - cpu0;
    announce("stop");
    (secs, cpu)
}

/// Runs `spec` and reports.
pub fn run_load(spec: &LoadSpec) -> Result<LoadResult, String> {
    let control = Arc::new(Control {
        phase: AtomicU8::new(if spec.calls.is_some() {
            MEASURE
        } else {
            WARMUP
        }),
        limit: spec.calls,
    });
    let conns = spec.conns.max(1);
    let target = format!("127.0.0.1:{}", spec.port);
    match spec.imp {
        ClientImpl::RustgrpcBlocking => {
            let channels = (0..conns)
                .map(|_| grpc_core::insecure_channel(&target))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| error.to_string())?;
            let started = Instant::now();
            let cpu0 = crate::proc::own_cpu_seconds();
            let workers = (0..spec.concurrency)
                .map(|i| {
                    let stub = rg::BenchStub::new(channels[i % conns].clone());
                    let control = Arc::clone(&control);
                    let spec = spec.clone();
                    std::thread::Builder::new()
                        .name(format!("client-{i}"))
                        .spawn(move || blocking_worker(&stub, &spec, &control))
                        .map_err(|error| error.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (secs, cpu) = match spec.calls {
                Some(_) => (0.0, 0.0),
                None => drive(&control, spec),
            };
            let tallies = workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .map_err(|_| "client thread panicked".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (secs, cpu) = match spec.calls {
                Some(_) => (
                    started.elapsed().as_secs_f64(),
                    crate::proc::own_cpu_seconds() - cpu0,
                ),
                None => (secs, cpu),
            };
            Ok(merge(tallies, secs, cpu))
        }
        ClientImpl::RustgrpcAsync | ClientImpl::Tonic => {
            let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
            let started = Instant::now();
            let cpu0 = crate::proc::own_cpu_seconds();
            let workers = runtime.block_on(spawn_async_workers(spec, &control))?;
            let (secs, cpu) = match spec.calls {
                Some(_) => (0.0, 0.0),
                None => drive(&control, spec),
            };
            let tallies = runtime.block_on(async {
                let mut tallies = Vec::new();
                for worker in workers {
                    tallies.push(worker.await.map_err(|error| error.to_string())?);
                }
                Ok::<_, String>(tallies)
            })?;
            let (secs, cpu) = match spec.calls {
                Some(_) => (
                    started.elapsed().as_secs_f64(),
                    crate::proc::own_cpu_seconds() - cpu0,
                ),
                None => (secs, cpu),
            };
            Ok(merge(tallies, secs, cpu))
        }
    }
}

fn payload(size: u32) -> Vec<u8> {
    vec![0; size as usize]
}

fn blocking_worker(stub: &rg::BenchStub, spec: &LoadSpec, control: &Control) -> Tally {
    let mut tally = Tally::default();
    match spec.rpc {
        Rpc::Unary => {
            let unary = stub.unary();
            let request = rg::Payload {
                body: payload(spec.size),
            };
            loop {
                let start = Instant::now();
                let (ok, bytes) = match unary.call(request.clone()) {
                    Ok(response) => (true, response.body.len() as u64),
                    Err(_) => (false, 0),
                };
                if !ok {
                    tally.error(control);
                }
                if !tally.op(control, start, ok, 1, bytes) {
                    break;
                }
            }
        }
        Rpc::ServerStream => {
            let stream = stub.server_stream();
            let request = rg::StreamRequest {
                count: spec.count,
                size: spec.size,
            };
            'calls: loop {
                let start = Instant::now();
                let mut ok = true;
                match stream.call(request) {
                    Ok(responses) => {
                        for response in responses {
                            match response {
                                Ok(message) => {
                                    if !tally.msg(control, message.body.len()) {
                                        break 'calls;
                                    }
                                }
                                Err(_) => {
                                    ok = false;
                                    break;
                                }
                            }
                        }
                    }
                    Err(_) => ok = false,
                }
                if !ok {
                    tally.error(control);
                }
                if !tally.op(control, start, ok, 0, 0) {
                    break;
                }
            }
        }
        Rpc::PingPong => {
            let request = rg::Payload {
                body: payload(spec.size),
            };
            'streams: loop {
                let (tx, rx) = std::sync::mpsc::sync_channel::<rg::Payload>(1);
                let Ok(mut responses) = stub.ping_pong().call(rx) else {
                    tally.error(control);
                    continue;
                };
                loop {
                    let start = Instant::now();
                    if tx.send(request.clone()).is_err() {
                        tally.error(control);
                        continue 'streams;
                    }
                    match responses.next() {
                        Some(Ok(message)) => {
                            if !tally.op(control, start, true, 1, message.body.len() as u64) {
                                break 'streams;
                            }
                        }
                        _ => {
                            tally.error(control);
                            continue 'streams;
                        }
                    }
                }
            }
        }
    }
    tally
}

async fn spawn_async_workers(
    spec: &LoadSpec,
    control: &Arc<Control>,
) -> Result<Vec<tokio::task::JoinHandle<Tally>>, String> {
    let conns = spec.conns.max(1);
    let mut workers = Vec::with_capacity(spec.concurrency);
    match spec.imp {
        ClientImpl::RustgrpcAsync => {
            let target = format!("127.0.0.1:{}", spec.port);
            let channels = (0..conns)
                .map(|_| grpc_core::insecure_channel(&target))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| error.to_string())?;
            for i in 0..spec.concurrency {
                let stub = rg::BenchStub::new(channels[i % conns].clone());
                let control = Arc::clone(control);
                let spec = spec.clone();
                workers.push(tokio::spawn(async move {
                    rustgrpc_async_worker(&stub, &spec, &control).await
                }));
            }
        }
        ClientImpl::Tonic => {
            let endpoint =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", spec.port))
                    .map_err(|error| error.to_string())?;
            let mut channels = Vec::with_capacity(conns);
            for _ in 0..conns {
                channels.push(
                    endpoint
                        .connect()
                        .await
                        .map_err(|error| format!("tonic connect: {error}"))?,
                );
            }
            for i in 0..spec.concurrency {
                let client = tn::bench_client::BenchClient::new(channels[i % conns].clone());
                let control = Arc::clone(control);
                let spec = spec.clone();
                workers.push(tokio::spawn(async move {
                    tonic_worker(client, &spec, &control).await
                }));
            }
        }
        ClientImpl::RustgrpcBlocking => unreachable!("blocking workers are threads"),
    }
    Ok(workers)
}

/// A request stream fed from a channel (for ping-pong).
fn channel_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

async fn rustgrpc_async_worker(stub: &rg::BenchStub, spec: &LoadSpec, control: &Control) -> Tally {
    let mut tally = Tally::default();
    match spec.rpc {
        Rpc::Unary => {
            let unary = stub.unary();
            let request = rg::Payload {
                body: payload(spec.size),
            };
            loop {
                let start = Instant::now();
                let (ok, bytes) = match unary.call_async(request.clone()).await {
                    Ok(response) => (true, response.body.len() as u64),
                    Err(_) => (false, 0),
                };
                if !ok {
                    async_error(&mut tally, control).await;
                }
                if !tally.op(control, start, ok, 1, bytes) {
                    break;
                }
            }
        }
        Rpc::ServerStream => {
            let stream = stub.server_stream();
            let request = rg::StreamRequest {
                count: spec.count,
                size: spec.size,
            };
            'calls: loop {
                let start = Instant::now();
                let mut ok = true;
                match stream.call_async(request).await {
                    Ok(mut responses) => {
                        while let Some(response) = responses.next().await {
                            match response {
                                Ok(message) => {
                                    if !tally.msg(control, message.body.len()) {
                                        break 'calls;
                                    }
                                }
                                Err(_) => {
                                    ok = false;
                                    break;
                                }
                            }
                        }
                    }
                    Err(_) => ok = false,
                }
                if !ok {
                    async_error(&mut tally, control).await;
                }
                if !tally.op(control, start, ok, 0, 0) {
                    break;
                }
            }
        }
        Rpc::PingPong => {
            let request = rg::Payload {
                body: payload(spec.size),
            };
            let ping_pong = stub.ping_pong();
            'streams: loop {
                let (tx, rx) = tokio::sync::mpsc::channel::<rg::Payload>(1);
                let Ok(mut responses) = ping_pong.call_async(channel_stream(rx)).await else {
                    async_error(&mut tally, control).await;
                    continue;
                };
                loop {
                    let start = Instant::now();
                    if tx.send(request.clone()).await.is_err() {
                        async_error(&mut tally, control).await;
                        continue 'streams;
                    }
                    match responses.next().await {
                        Some(Ok(message)) => {
                            if !tally.op(control, start, true, 1, message.body.len() as u64) {
                                break 'streams;
                            }
                        }
                        _ => {
                            async_error(&mut tally, control).await;
                            continue 'streams;
                        }
                    }
                }
            }
        }
    }
    tally
}

async fn tonic_worker(
    mut client: tn::bench_client::BenchClient<tonic::transport::Channel>,
    spec: &LoadSpec,
    control: &Control,
) -> Tally {
    let mut tally = Tally::default();
    match spec.rpc {
        Rpc::Unary => {
            let request = tn::Payload {
                body: payload(spec.size),
            };
            loop {
                let start = Instant::now();
                let (ok, bytes) = match client.unary(request.clone()).await {
                    Ok(response) => (true, response.into_inner().body.len() as u64),
                    Err(_) => (false, 0),
                };
                if !ok {
                    async_error(&mut tally, control).await;
                }
                if !tally.op(control, start, ok, 1, bytes) {
                    break;
                }
            }
        }
        Rpc::ServerStream => {
            let request = tn::StreamRequest {
                count: spec.count,
                size: spec.size,
            };
            'calls: loop {
                let start = Instant::now();
                let mut ok = true;
                match client.server_stream(request).await {
                    Ok(response) => {
                        let mut responses = response.into_inner();
                        loop {
                            match responses.message().await {
                                Ok(Some(message)) => {
                                    if !tally.msg(control, message.body.len()) {
                                        break 'calls;
                                    }
                                }
                                Ok(None) => break,
                                Err(_) => {
                                    ok = false;
                                    break;
                                }
                            }
                        }
                    }
                    Err(_) => ok = false,
                }
                if !ok {
                    async_error(&mut tally, control).await;
                }
                if !tally.op(control, start, ok, 0, 0) {
                    break;
                }
            }
        }
        Rpc::PingPong => {
            let request = tn::Payload {
                body: payload(spec.size),
            };
            'streams: loop {
                let (tx, rx) = tokio::sync::mpsc::channel::<tn::Payload>(1);
                // tonic waits for the response headers before returning, so
                // the first message goes into the channel beforehand.
                let first = Instant::now();
                if tx.send(request.clone()).await.is_err() {
                    continue;
                }
                let mut responses = match client.ping_pong(channel_stream(rx)).await {
                    Ok(response) => response.into_inner(),
                    Err(_) => {
                        async_error(&mut tally, control).await;
                        continue;
                    }
                };
                let mut start = first;
                loop {
                    match responses.message().await {
                        Ok(Some(message)) => {
                            if !tally.op(control, start, true, 1, message.body.len() as u64) {
                                break 'streams;
                            }
                        }
                        _ => {
                            async_error(&mut tally, control).await;
                            continue 'streams;
                        }
                    }
                    start = Instant::now();
                    if tx.send(request.clone()).await.is_err() {
                        async_error(&mut tally, control).await;
                        continue 'streams;
                    }
                }
            }
        }
    }
    tally
}

async fn async_error(tally: &mut Tally, control: &Control) {
    if control.phase() == MEASURE {
        tally.errors += 1;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// For the allocation counts: `warm` then `calls` sequential unary calls
/// of `size` bytes over one channel, calling `mark` before and after the
/// measured calls.
pub fn unary_sequence(
    imp: ClientImpl,
    port: u16,
    size: u32,
    warm: u64,
    calls: u64,
    mark: &mut dyn FnMut(),
) -> Result<(), String> {
    let target = format!("127.0.0.1:{port}");
    match imp {
        ClientImpl::RustgrpcBlocking => {
            let channel = grpc_core::insecure_channel(&target).map_err(|e| e.to_string())?;
            let unary = rg::BenchStub::new(channel).unary();
            let request = rg::Payload {
                body: payload(size),
            };
            for _ in 0..warm {
                unary.call(request.clone()).map_err(|e| e.to_string())?;
            }
            mark();
            for _ in 0..calls {
                unary.call(request.clone()).map_err(|e| e.to_string())?;
            }
            mark();
            Ok(())
        }
        ClientImpl::RustgrpcAsync => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let channel = grpc_core::insecure_channel(&target).map_err(|e| e.to_string())?;
                let unary = rg::BenchStub::new(channel).unary();
                let request = rg::Payload {
                    body: payload(size),
                };
                for _ in 0..warm {
                    unary
                        .call_async(request.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                mark();
                for _ in 0..calls {
                    unary
                        .call_async(request.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                mark();
                Ok(())
            })
        }
        ClientImpl::Tonic => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut client = tn::bench_client::BenchClient::connect(format!("http://{target}"))
                    .await
                    .map_err(|e| e.to_string())?;
                let request = tn::Payload {
                    body: payload(size),
                };
                for _ in 0..warm {
                    client
                        .unary(request.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                mark();
                for _ in 0..calls {
                    client
                        .unary(request.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                mark();
                Ok(())
            })
        }
    }
}
