//! The rustgrpc demo: one program that starts a greeter and a route guide
//! server in-process and walks through the whole blocking API, checking
//! each step. It prints numbered sections, ends with `demo finished`, and
//! exits non-zero if anything did not behave as expected.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin demo
//! ```

use std::fmt::Display;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Channel, ChannelBuilder, ChannelConnectivity, Code, Compression, Metadata,
    RpcError, Server, ServicerContext, Status,
};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{
    GreeterServicer, GreeterStub, HelloReply, HelloRequest, add_greeter_servicer_to_server,
};
use rustgrpc_examples::route_guide::{
    RouteGuide, default_db_path, format_point, in_rectangle, load_db, point, rectangle, route_note,
};
use rustgrpc_examples::routeguide::{
    Feature, Point, RouteGuideStub, RouteNote, add_route_guide_servicer_to_server,
};

const USAGE: &str = "\
demo: starts a greeter and a route guide server in-process and exercises
every blocking client and server feature, checking each step

usage: demo [--workers N]
  --workers N   worker threads of the demo server (default 8)

Exits 0 after printing `demo finished` when every check passed.";

/// The whole demo must finish well before this; a hang is a failure.
const WATCHDOG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Checks and output
// ---------------------------------------------------------------------------

/// Counts checks and remembers the failed ones.
struct Checks {
    section: usize,
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    fn new() -> Checks {
        Checks {
            section: 0,
            passed: 0,
            failed: Vec::new(),
        }
    }

    fn section(&mut self, title: &str) {
        self.section += 1;
        println!("\n== {}. {title} ==", self.section);
    }

    fn check(&mut self, ok: bool, what: impl Display) -> bool {
        if ok {
            self.passed += 1;
            println!("   ok    {what}");
        } else {
            let failure = format!("section {}: {what}", self.section);
            println!("   FAIL  {what}");
            self.failed.push(failure);
        }
        ok
    }

    /// Checks that `result` failed with `code`.
    fn expect_code<T>(&mut self, result: Result<T, RpcError>, code: Code, what: &str) -> bool {
        match result {
            Ok(_) => self.check(false, format!("{what}: succeeded, expected {code}")),
            Err(e) => self.check(
                e.code() == code,
                format!("{what}: {} {:?}", e.code(), e.details()),
            ),
        }
    }

    /// Records an unexpected error and carries on; returns false.
    fn fail(&mut self, what: impl Display) -> bool {
        self.check(false, what)
    }
}

fn info(line: impl Display) {
    println!("   ..    {line}");
}

fn request(name: &str) -> HelloRequest {
    HelloRequest {
        name: name.to_owned(),
    }
}

fn metadata<const N: usize>(pairs: [(&str, &str); N]) -> Metadata {
    Metadata::from_pairs(pairs).expect("valid demo metadata")
}

/// Waits up to `timeout` for a server event containing `needle`.
fn wait_event(events: &Receiver<String>, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if event.contains(needle) => return Some(event),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

// ---------------------------------------------------------------------------
// The demo's greeter: SayHello and SayHelloStreamReply only, so that
// SayHelloBidiStream answers UNIMPLEMENTED (the trait's default).
// ---------------------------------------------------------------------------

struct DemoGreeter {
    /// What the server side observed, for the demo to check.
    events: Mutex<Sender<String>>,
}

impl DemoGreeter {
    fn event(&self, event: String) {
        let _ = self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(event);
    }

    fn ended_callback(&self, context: &ServicerContext, what: &'static str) {
        let events = self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let started = Instant::now();
        let ctx = context.clone();
        context.add_callback(move || {
            let _ = events.send(format!(
                "{what} ended after {:?} (active={})",
                started.elapsed(),
                ctx.is_active()
            ));
        });
    }
}

impl GreeterServicer for DemoGreeter {
    fn say_hello(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<HelloReply, Status> {
        match request.name.as_str() {
            "" => return Err(context.abort(Code::InvalidArgument, "name must not be empty")),
            "status" => {
                // A whole status, trailing metadata included.
                return Err(context.abort_with_status(
                    Status::failed_precondition("the greeter is on a break")
                        .with_metadata(metadata([("retry-after", "5")])),
                ));
            }
            "slow" => {
                // Works for up to 3 s, but gives up as soon as the client
                // has gone (deadline or cancellation).
                self.ended_callback(context, "server: slow SayHello");
                let start = Instant::now();
                while context.is_active() && start.elapsed() < Duration::from_secs(3) {
                    thread::sleep(Duration::from_millis(10));
                }
            }
            _ => {}
        }
        let metadata_in = context.invocation_metadata();
        self.event(format!(
            "server: SayHello({:?}) from {} deadline {:?}",
            request.name,
            context.peer(),
            context.time_remaining()
        ));
        context
            .send_initial_metadata(metadata([("greeter", "demo")]))
            .map_err(|e| Status::internal(e.to_string()))?;
        let agent = metadata_in.get("user-agent").unwrap_or("").to_owned();
        let mut trailing = metadata([("echo-user-agent", agent.as_str())]);
        if let Some(id) = metadata_in.get("request-id") {
            trailing
                .insert("request-id", id)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        context.set_trailing_metadata(trailing);
        Ok(HelloReply {
            message: format!("Hello, {}!", request.name),
        })
    }

    fn say_hello_stream_reply(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        self.ended_callback(context, "server: SayHelloStreamReply");
        let context = context.clone();
        let count = if request.name == "forever" { 1000 } else { 3 };
        Ok((0..count)
            .take_while(move |_| context.is_active())
            .map(move |i| {
                if i > 0 {
                    thread::sleep(Duration::from_millis(20));
                }
                Ok(HelloReply {
                    message: format!("Hello #{i}, {}!", request.name),
                })
            }))
    }
}

/// A route point every `pause`, drawn on the request thread.
fn slow_points(points: Vec<Point>, pause: Duration) -> impl Iterator<Item = Point> + Send {
    points.into_iter().inspect(move |_| thread::sleep(pause))
}

// ---------------------------------------------------------------------------
// The sections
// ---------------------------------------------------------------------------

struct Demo {
    checks: Checks,
    server: Server,
    port: u16,
    ipv6_port: Option<u16>,
    unix_path: std::path::PathBuf,
    events: Receiver<String>,
    channel: Channel,
    greeter: GreeterStub,
    guide: RouteGuideStub,
    guide_db: Vec<Feature>,
    states: Arc<Mutex<Vec<ChannelConnectivity>>>,
}

fn start_servers(mut checks: Checks, workers: usize) -> Result<Demo, Box<dyn std::error::Error>> {
    checks.section("Start a server with a greeter and a route guide on port 0");
    let features = load_db(default_db_path())?;
    info(format!("loaded {} features", features.len()));
    let (events_tx, events) = mpsc::channel();
    let server = Server::builder()
        .max_workers(workers)
        .maximum_concurrent_rpcs(64)
        .build();
    add_greeter_servicer_to_server(
        DemoGreeter {
            events: Mutex::new(events_tx),
        },
        &server,
    );
    add_route_guide_servicer_to_server(RouteGuide::new(features.clone()), &server);
    let port = server.add_insecure_port("127.0.0.1:0")?;
    checks.check(port != 0, format!("bound 127.0.0.1:{port}"));
    let unix_path = std::env::temp_dir().join(format!("rustgrpc-demo-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&unix_path);
    server.add_insecure_port(&format!("unix:{}", unix_path.display()))?;
    info(format!("also listening on unix:{}", unix_path.display()));
    // IPv6 loopback, where the machine has it.
    let ipv6_port = server.add_insecure_port("[::1]:0").ok();
    info(format!("TCP addresses: {:?}", server.local_addrs()));
    server.start()?;
    checks.check(
        server.start().is_err(),
        "starting twice is refused (bad state)",
    );

    let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .primary_user_agent("rustgrpc-demo/1.0")
        .max_receive_message_length(16 << 20)
        .keepalive_time(Duration::from_secs(30))
        .build()?;
    Ok(Demo {
        checks,
        server,
        port,
        ipv6_port,
        unix_path,
        events,
        greeter: GreeterStub::new(channel.clone()),
        guide: RouteGuideStub::new(channel.clone()),
        channel,
        guide_db: features,
        states: Arc::new(Mutex::new(Vec::new())),
    })
}

impl Demo {
    /// The states the subscription reported, once the last one is `state`
    /// (the callback runs on an I/O thread, a moment after the change).
    fn wait_for_state(&self, state: ChannelConnectivity) -> Vec<ChannelConnectivity> {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let seen = self
                .states
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if seen.last() == Some(&state) || Instant::now() > deadline {
                return seen;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn connectivity(&mut self) {
        self.checks
            .section("Channel connectivity: subscribe and channel_ready_future");
        let channel = &self.channel;
        self.checks.check(
            channel.connectivity() == ChannelConnectivity::Idle,
            format!("a new channel is lazy: {:?}", channel.connectivity()),
        );
        let states = Arc::clone(&self.states);
        // The subscription lives as long as the channel; its callback runs
        // on an I/O thread.
        let _subscription = channel.subscribe(
            move |state| states.lock().unwrap_or_else(|p| p.into_inner()).push(state),
            true,
        );
        let ready = grpc_core::channel_ready_future(channel);
        let result = ready.result(Some(Duration::from_secs(5)));
        self.checks
            .check(result.is_ok(), format!("channel_ready_future: {result:?}"));
        self.checks.check(
            ready.done() && channel.connectivity() == ChannelConnectivity::Ready,
            format!("connectivity now {:?}", channel.connectivity()),
        );
        let seen = self.wait_for_state(ChannelConnectivity::Ready);
        self.checks.check(
            seen.last() == Some(&ChannelConnectivity::Ready),
            format!("subscribe saw {seen:?}"),
        );

        // A port where nobody listens: the channel fails, backs off, retries.
        let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let dead = ChannelBuilder::new(format!("ipv4:127.0.0.1:{dead_port}"))
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(100))
            .build()
            .expect("valid target");
        let result =
            grpc_core::channel_ready_future(&dead).result(Some(Duration::from_millis(300)));
        self.checks.check(
            result.as_ref().is_err_and(RpcError::is_future_timeout),
            format!(
                "ready future on a dead port times out; state {:?}",
                dead.connectivity()
            ),
        );
        let stub = GreeterStub::new(dead.clone());
        let fail_fast = stub.say_hello().call(request("anyone"));
        self.checks
            .expect_code(fail_fast, Code::Unavailable, "fail-fast call on it");
        let waiting = stub
            .say_hello()
            .with_options(
                CallOptions::new()
                    .wait_for_ready(true)
                    .timeout(Duration::from_millis(200)),
            )
            .call(request("anyone"));
        self.checks.expect_code(
            waiting,
            Code::DeadlineExceeded,
            "wait_for_ready call waits until its deadline",
        );
        dead.close();
    }

    fn unary(&mut self) {
        self.checks
            .section("Unary call, with_call and call options");
        match self.greeter.say_hello().call(request("Ada")) {
            Ok(reply) => self.checks.check(
                reply.message == "Hello, Ada!",
                format!("call -> {:?}", reply.message),
            ),
            Err(e) => self.checks.fail(format!("call: {e}")),
        };
        let options = CallOptions::new()
            .timeout(Duration::from_secs(5))
            .metadata(metadata([
                ("user-agent", "my-client/1.0"),
                ("request-id", "42"),
            ]))
            .wait_for_ready(true)
            .compression(Compression::Gzip);
        match self
            .greeter
            .say_hello()
            .with_options(options)
            .with_call(request("Grace"))
        {
            Ok((reply, call)) => {
                info(format!("reply {:?}", reply.message));
                info(format!("code {} details {:?}", call.code(), call.details()));
                info(format!("initial metadata  {:?}", call.initial_metadata()));
                info(format!("trailing metadata {:?}", call.trailing_metadata()));
                info(format!("time_remaining {:?}", call.time_remaining()));
                self.checks.check(
                    call.code() == Code::Ok && call.details().is_empty(),
                    "with_call: Call reports OK",
                );
                self.checks.check(
                    call.initial_metadata().get("greeter") == Some("demo"),
                    "initial metadata from send_initial_metadata",
                );
                let trailing = call.trailing_metadata();
                self.checks.check(
                    trailing.get("request-id") == Some("42")
                        && trailing
                            .get("echo-user-agent")
                            .is_some_and(|ua| ua.starts_with("my-client/1.0 rustgrpc-demo/1.0")),
                    "server read the invocation metadata (user-agent, request-id)",
                );
                self.checks.check(
                    call.time_remaining()
                        .is_some_and(|left| left > Duration::ZERO && left < Duration::from_secs(5)),
                    "time_remaining counts down from the 5 s timeout",
                );
                self.checks.check(
                    !call.is_active() && !call.add_callback(|| {}),
                    "a finished Call is inactive; add_callback returns false",
                );
            }
            Err(e) => {
                self.checks.fail(format!("with_call: {e}"));
            }
        }
        if let Some(event) = wait_event(&self.events, "Grace", Duration::from_secs(1)) {
            info(event);
        }
    }

    fn futures(&mut self) {
        self.checks
            .section("CallFuture: result, callbacks, timeout, cancel");
        let future = self.greeter.say_hello().future(request("Linus"));
        info(format!(
            "just started: running={} done={}",
            future.running(),
            future.done()
        ));
        let (done_tx, done_rx) = mpsc::channel();
        future.add_done_callback(move |f| {
            let _ = done_tx.send(f.done());
        });
        let result = future.result(Some(Duration::from_secs(5)));
        self.checks.check(
            result.as_ref().is_ok_and(|r| r.message == "Hello, Linus!"),
            format!("result(5 s) -> {:?}", result.map(|r| r.message)),
        );
        self.checks.check(
            done_rx.recv_timeout(Duration::from_secs(1)) == Ok(true),
            "add_done_callback ran with done() == true",
        );
        self.checks.check(
            future.exception(None).is_none() && !future.cancelled() && !future.cancel(),
            "exception() is None; a done future cannot be cancelled",
        );

        // result(timeout) gives up waiting; the RPC goes on.
        let future = self.greeter.say_hello().future(request("slow"));
        let early = future.result(Some(Duration::from_millis(100)));
        self.checks.check(
            early.as_ref().is_err_and(RpcError::is_future_timeout),
            "result(100 ms) on a slow RPC: FutureTimeoutError",
        );
        self.checks
            .check(future.running(), "the RPC is still running afterwards");
        let cancelled = future.cancel();
        let outcome = future.result(Some(Duration::from_secs(1)));
        self.checks.check(
            cancelled
                && future.cancelled()
                && outcome.as_ref().is_err_and(RpcError::is_future_cancelled),
            format!(
                "cancel() -> cancelled(), result: {:?}",
                outcome.err().map(|e| e.code())
            ),
        );
        let server_side = wait_event(&self.events, "slow SayHello ended", Duration::from_secs(1));
        self.checks.check(
            server_side.is_some(),
            format!(
                "the server saw the cancellation: {}",
                server_side.unwrap_or_else(|| "nothing".into())
            ),
        );
    }

    fn get_feature(&mut self) {
        self.checks.section("RouteGuide.GetFeature (unary)");
        let known = self.guide_db[0].clone();
        let location = known.location.unwrap_or_default();
        match self.guide.get_feature().call(location) {
            Ok(feature) => self.checks.check(
                feature.name == known.name,
                format!("at {}: {:?}", format_point(&location), feature.name),
            ),
            Err(e) => self.checks.fail(format!("GetFeature: {e}")),
        };
        match self.guide.get_feature().call(point(0, 0)) {
            Ok(feature) => self.checks.check(
                feature.name.is_empty() && feature.location == Some(point(0, 0)),
                "at 0, 0: no feature (empty name)",
            ),
            Err(e) => self.checks.fail(format!("GetFeature: {e}")),
        };
    }

    fn list_features(&mut self) {
        self.checks
            .section("RouteGuide.ListFeatures (server streaming)");
        let rect = rectangle(
            point(386_000_000, -94_000_000),
            point(389_000_000, -91_000_000),
        );
        let expected = self
            .guide_db
            .iter()
            .filter(|f| f.location.is_some_and(|l| in_rectangle(&rect, &l)))
            .count();
        let mut features = match self.guide.list_features().call(rect) {
            Ok(features) => features,
            Err(e) => {
                self.checks.fail(format!("ListFeatures: {e}"));
                return;
            }
        };
        let initial = features.initial_metadata();
        info(format!("initial metadata {initial:?}"));
        let mut received = 0;
        for feature in &mut features {
            match feature {
                Ok(feature) => {
                    received += 1;
                    if received <= 3 {
                        info(format!(
                            "{:?} at {}",
                            feature.name,
                            format_point(&feature.location.unwrap_or_default())
                        ));
                    }
                }
                Err(e) => {
                    self.checks.fail(format!("ListFeatures: {e}"));
                    return;
                }
            }
        }
        info(format!("... {received} features in all"));
        self.checks.check(
            received == expected
                && initial.get("matching-features") == Some(expected.to_string().as_str()),
            format!("{received} features, as announced in the initial metadata"),
        );
        self.checks.check(
            features.code() == Code::Ok && !features.is_active(),
            format!("stream ended with {}", features.code()),
        );

        // Early break: read two, then cancel the rest.
        let mut features = match self.guide.list_features().call(rect) {
            Ok(features) => features,
            Err(e) => {
                self.checks.fail(format!("ListFeatures: {e}"));
                return;
            }
        };
        let mut taken = 0;
        for feature in &mut features {
            if feature.is_ok() {
                taken += 1;
            }
            if taken == 2 {
                break;
            }
        }
        // cancel() ends the RPC with CANCELLED, unless the server had
        // already sent everything (a small rectangle): then it stays OK.
        features.cancel();
        let code = features.code();
        self.checks.check(
            taken == 2 && !features.is_active() && matches!(code, Code::Cancelled | Code::Ok),
            format!("break after 2, cancel(): {code}"),
        );
    }

    fn record_route(&mut self) {
        self.checks
            .section("RouteGuide.RecordRoute (client streaming)");
        let route: Vec<Point> = self
            .guide_db
            .iter()
            .take(5)
            .filter_map(|f| f.location)
            .collect();
        let named = self.guide_db[..5]
            .iter()
            .filter(|f| !f.name.is_empty())
            .count() as i32;
        // An iterator that sleeps between points, like a Python generator
        // with time.sleep: drawn on its own thread.
        match self
            .guide
            .record_route()
            .call(slow_points(route.clone(), Duration::from_millis(30)))
        {
            Ok(summary) => self.checks.check(
                summary.point_count == 5 && summary.feature_count == named && summary.distance > 0,
                format!(
                    "call: {} points, {} features, {} m",
                    summary.point_count, summary.feature_count, summary.distance
                ),
            ),
            Err(e) => self.checks.fail(format!("RecordRoute: {e}")),
        };
        match self.guide.record_route().with_call(route.clone()) {
            Ok((summary, call)) => self.checks.check(
                summary.point_count == 5 && call.code() == Code::Ok,
                format!("with_call: {} points, {}", summary.point_count, call.code()),
            ),
            Err(e) => self.checks.fail(format!("RecordRoute.with_call: {e}")),
        };
        let future = self.guide.record_route().future(route);
        match future.result(Some(Duration::from_secs(5))) {
            Ok(summary) => self.checks.check(
                summary.point_count == 5,
                format!("future: {} points", summary.point_count),
            ),
            Err(e) => self.checks.fail(format!("RecordRoute.future: {e}")),
        };
    }

    fn route_chat(&mut self) {
        self.checks
            .section("RouteGuide.RouteChat (bidirectional streaming)");
        // Requests from a bounded queue fed by another thread...
        let (tx, rx) = mpsc::sync_channel::<RouteNote>(2);
        let feeder = thread::spawn(move || {
            let notes = [
                route_note("First message", 0, 0),
                route_note("Second message", 0, 1),
                route_note("Third message", 1, 0),
                route_note("Fourth message", 0, 0),
                route_note("Fifth message", 1, 0),
            ];
            for note in notes {
                if tx.send(note).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            // Dropping tx half-closes the request stream.
        });
        let responses = match self.guide.route_chat().call(rx) {
            Ok(responses) => responses,
            Err(e) => {
                self.checks.fail(format!("RouteChat: {e}"));
                return;
            }
        };
        // ...and responses printed by yet another.
        let printer = thread::spawn(move || {
            let mut got = Vec::new();
            for note in responses {
                match note {
                    Ok(note) => {
                        info(format!(
                            "received {:?} at {}",
                            note.message,
                            format_point(&note.location.unwrap_or_default())
                        ));
                        got.push(note.message);
                    }
                    Err(e) => got.push(format!("error {e}")),
                }
            }
            got
        });
        let _ = feeder.join();
        let got = printer.join().unwrap_or_default();
        self.checks.check(
            got == ["First message", "Third message"],
            "the server answered with the earlier notes at the same points",
        );
    }

    fn stream_call_object(&mut self) {
        self.checks
            .section("A response stream is a Call: callbacks, cancel from another thread");
        let options = CallOptions::new().timeout(Duration::from_secs(10));
        let mut replies = match self
            .greeter
            .say_hello_stream_reply()
            .with_options(options)
            .call(request("forever"))
        {
            Ok(replies) => replies,
            Err(e) => {
                self.checks.fail(format!("SayHelloStreamReply: {e}"));
                return;
            }
        };
        let (ended_tx, ended_rx) = mpsc::channel();
        let registered = replies.add_callback(move || {
            let _ = ended_tx.send(());
        });
        self.checks.check(
            registered && replies.is_active(),
            "add_callback on an active stream returns true",
        );
        info(format!("time_remaining {:?}", replies.time_remaining()));
        let first: Vec<_> = replies.by_ref().take(2).collect();
        self.checks.check(
            first.iter().all(Result::is_ok) && first.len() == 2,
            "read two replies",
        );
        // Cancel from another thread while this one keeps reading.
        let call = replies.call().clone();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            call.cancel();
        });
        let started = Instant::now();
        let last = replies.find(Result::is_err);
        let _ = canceller.join();
        self.checks.check(
            last.as_ref()
                .is_some_and(|r| r.as_ref().is_err_and(RpcError::is_cancelled)),
            format!(
                "the reading thread saw CANCELLED after {:?}",
                started.elapsed()
            ),
        );
        self.checks.check(
            ended_rx.recv_timeout(Duration::from_secs(1)).is_ok(),
            "the client callback ran",
        );
        let server_side = wait_event(
            &self.events,
            "SayHelloStreamReply ended",
            Duration::from_secs(1),
        );
        self.checks.check(
            server_side.is_some(),
            format!(
                "the server side ended too: {}",
                server_side.unwrap_or_else(|| "nothing".into())
            ),
        );
    }

    fn deadlines(&mut self) {
        self.checks.section("Deadlines");
        let short = CallOptions::new().timeout(Duration::from_millis(200));
        let started = Instant::now();
        let result = self
            .greeter
            .say_hello()
            .with_options(short.clone())
            .call(request("slow"));
        let took = started.elapsed();
        self.checks.expect_code(
            result,
            Code::DeadlineExceeded,
            &format!("slow SayHello with a 200 ms timeout (after {took:?})"),
        );
        let server_side = wait_event(&self.events, "slow SayHello ended", Duration::from_secs(1));
        self.checks.check(
            server_side.is_some(),
            format!(
                "the server saw the deadline pass: {}",
                server_side.unwrap_or_else(|| "nothing".into())
            ),
        );
        let route: Vec<Point> = self.guide_db.iter().filter_map(|f| f.location).collect();
        let result = self
            .guide
            .record_route()
            .with_options(short)
            .call(slow_points(route, Duration::from_millis(50)));
        self.checks.expect_code(
            result,
            Code::DeadlineExceeded,
            "RecordRoute whose points come slower than its 200 ms timeout",
        );
    }

    fn errors(&mut self) {
        self.checks
            .section("Errors: abort, abort_with_status, UNIMPLEMENTED, credentials");
        let result = self.greeter.say_hello().call(request(""));
        self.checks
            .expect_code(result, Code::InvalidArgument, "empty name -> context.abort");
        match self.greeter.say_hello().call(request("status")) {
            Ok(_) => self.checks.fail("abort_with_status: succeeded"),
            Err(e) => self.checks.check(
                e.code() == Code::FailedPrecondition
                    && e.trailing_metadata().get("retry-after") == Some("5"),
                format!(
                    "abort_with_status: {} {:?} trailing {:?}",
                    e.code(),
                    e.details(),
                    e.trailing_metadata()
                ),
            ),
        };
        // The demo greeter leaves SayHelloBidiStream at the trait default.
        let result = self
            .greeter
            .say_hello_bidi_stream()
            .call(vec![request("Ann")])
            .and_then(|mut replies| replies.next().unwrap_or(Ok(HelloReply::default())));
        self.checks.expect_code(
            result,
            Code::Unimplemented,
            "a servicer method left unimplemented",
        );
        // A method the server does not know at all.
        let unknown = self
            .channel
            .unary_unary::<HelloRequest, HelloReply>("/helloworld.Greeter/SayGoodbye");
        let result = unknown.call(request("Ann"));
        self.checks
            .expect_code(result, Code::Unimplemented, "an unknown method path");
        // Call credentials never travel over an insecure channel; with TLS
        // this would be composite_channel_credentials(ssl, [token]).
        let token = grpc_core::access_token_call_credentials("secret");
        let result = self
            .greeter
            .say_hello()
            .with_options(CallOptions::new().credentials(token))
            .call(request("Ann"));
        self.checks.expect_code(
            result,
            Code::Unavailable,
            "access-token credentials on an insecure channel",
        );
    }

    fn targets(&mut self) {
        self.checks.section("Other target forms");
        let mut targets = vec![
            ("dns", format!("dns:///localhost:{}", self.port)),
            ("ipv4", format!("ipv4:127.0.0.1:{}", self.port)),
            ("unix", format!("unix:{}", self.unix_path.display())),
        ];
        match self.ipv6_port {
            Some(port) => targets.push(("ipv6", format!("ipv6:[::1]:{port}"))),
            None => info("no IPv6 loopback here: skipping ipv6:[::1]"),
        }
        for (kind, target) in targets {
            let result = grpc_core::insecure_channel(&target)
                .map_err(|e| e.to_string())
                .and_then(|channel| {
                    let reply = GreeterStub::new(channel.clone())
                        .say_hello()
                        .with_options(CallOptions::new().timeout(Duration::from_secs(5)))
                        .call(request(kind))
                        .map_err(|e| e.to_string());
                    channel.close();
                    reply
                });
            self.checks.check(
                result.is_ok(),
                format!(
                    "{target}: {}",
                    result.map_or_else(|e| e, |reply| reply.message)
                ),
            );
        }
    }

    fn concurrency_limit(&mut self) {
        self.checks
            .section("maximum_concurrent_rpcs: RESOURCE_EXHAUSTED, never a hang");
        let server = Server::builder()
            .max_workers(2)
            .maximum_concurrent_rpcs(1)
            .build();
        add_route_guide_servicer_to_server(RouteGuide::new(self.guide_db.clone()), &server);
        let port = match server
            .add_insecure_port("127.0.0.1:0")
            .and_then(|port| server.start().map(|()| port))
        {
            Ok(port) => port,
            Err(e) => {
                self.checks.fail(format!("limited server: {e}"));
                return;
            }
        };
        let channel = match grpc_core::insecure_channel(&format!("127.0.0.1:{port}")) {
            Ok(channel) => channel,
            Err(e) => {
                self.checks.fail(format!("channel: {e}"));
                return;
            }
        };
        let stub = RouteGuideStub::new(channel.clone());
        // Hold one RPC open: its points come from a queue we control.
        let (tx, rx) = mpsc::sync_channel::<Point>(1);
        let held = stub.record_route().future(rx);
        let _ = tx.send(point(1, 1));
        let deadline = Instant::now() + Duration::from_secs(2);
        while server.active_rpcs() == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        info(format!(
            "active_rpcs {} queued_rpcs {}",
            server.active_rpcs(),
            server.queued_rpcs()
        ));
        let result = stub
            .get_feature()
            .with_options(CallOptions::new().timeout(Duration::from_secs(2)))
            .call(point(0, 0));
        self.checks.expect_code(
            result,
            Code::ResourceExhausted,
            "a second RPC over the limit",
        );
        drop(tx); // the held RPC completes
        let summary = held.result(Some(Duration::from_secs(2)));
        self.checks.check(
            summary.as_ref().is_ok_and(|s| s.point_count == 1),
            "the held RPC completed normally",
        );
        channel.close();
        server.stop(None).wait();
    }

    fn graceful_stop(&mut self) {
        self.checks
            .section("Graceful stop: stop(grace) lets in-flight RPCs finish");
        // An RPC in flight whose last point we send after calling stop.
        let (tx, rx) = mpsc::sync_channel::<Point>(1);
        let in_flight = self.guide.record_route().future(rx);
        let _ = tx.send(point(1, 1));
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.server.active_rpcs() == 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let stop = self.server.stop(Some(Duration::from_secs(5)));
        self.checks.check(
            !stop.is_set(),
            "stop(5 s) returned at once; the server is draining",
        );
        // New RPCs are refused during the grace period.
        let result = grpc_core::insecure_channel(&format!("127.0.0.1:{}", self.port))
            .map_err(|e| RpcError::from(Status::internal(e.to_string())))
            .and_then(|channel| {
                GreeterStub::new(channel)
                    .say_hello()
                    .with_options(CallOptions::new().timeout(Duration::from_secs(2)))
                    .call(request("late"))
            });
        self.checks.expect_code(
            result,
            Code::Unavailable,
            "a new RPC on a new channel while draining",
        );
        let result = self
            .greeter
            .say_hello()
            .with_options(CallOptions::new().timeout(Duration::from_secs(2)))
            .call(request("late"));
        self.checks.expect_code(
            result,
            Code::Unavailable,
            "a new RPC on the draining connection",
        );
        let _ = tx.send(point(2, 2));
        drop(tx);
        let summary = in_flight.result(Some(Duration::from_secs(3)));
        self.checks.check(
            summary.as_ref().is_ok_and(|s| s.point_count == 2),
            format!(
                "the in-flight RPC finished: {:?}",
                summary.map(|s| s.point_count).map_err(|e| e.code())
            ),
        );
        let started = Instant::now();
        stop.wait();
        self.checks.check(
            self.server.wait_for_termination(Some(Duration::ZERO)),
            format!("stop(..).wait() returned after {:?}", started.elapsed()),
        );

        // Closing the channel: SHUTDOWN, and calls fail at once.
        self.channel.close();
        let result = self.greeter.say_hello().call(request("closed"));
        self.checks
            .expect_code(result, Code::Unavailable, "a call on a closed channel");
        let seen = self.wait_for_state(ChannelConnectivity::Shutdown);
        self.checks.check(
            seen.last() == Some(&ChannelConnectivity::Shutdown),
            format!("subscribe saw {seen:?}"),
        );
        let _ = std::fs::remove_file(&self.unix_path);
    }
}

fn main() {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["workers"]);
    let workers: usize = args.get_or("workers", 8);

    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        eprintln!("demo: still running after {WATCHDOG:?}; giving up");
        std::process::exit(2);
    });
    let started = Instant::now();
    let mut demo = match start_servers(Checks::new(), workers) {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("demo: cannot start the server: {error}");
            std::process::exit(1);
        }
    };
    demo.connectivity();
    demo.unary();
    demo.futures();
    demo.get_feature();
    demo.list_features();
    demo.record_route();
    demo.route_chat();
    demo.stream_call_object();
    demo.deadlines();
    demo.errors();
    demo.targets();
    demo.concurrency_limit();
    demo.graceful_stop();

    let checks = &demo.checks;
    println!(
        "\n{} checks passed, {} failed in {:.1?}",
        checks.passed,
        checks.failed.len(),
        started.elapsed()
    );
    if !checks.failed.is_empty() {
        for failure in &checks.failed {
            eprintln!("FAILED: {failure}");
        }
        std::process::exit(1);
    }
    println!("demo finished");
}
