//! The service config over real sockets: retries (with the
//! `grpc-previous-rpc-attempts` header, throttling, buffered request
//! streams, no retry after response headers), hedging against a slow and
//! a fast backend, per-method timeouts, wait-for-ready and message limits,
//! and the config coming from the resolver.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Channel, ChannelBuilder, Code, LbPolicy, Metadata, Resolution, Resolver,
    ServiceConfig, Status,
};
use rustgrpc_tests::backends::{Backend, CALL_ID, COLLECT, STREAM, WHO, ipv4_target};
use rustgrpc_tests::ms;

const PATIENCE: Duration = Duration::from_secs(20);

/// A service config retrying UNAVAILABLE up to `attempts` times, quickly,
/// with `extra` top-level fields.
fn retrying(attempts: u32, extra: &str) -> ServiceConfig {
    ServiceConfig::from_json(&format!(
        r#"{{ {extra}
            "methodConfig": [{{
              "name": [{{"service": "demo.Lb"}}],
              "retryPolicy": {{
                "maxAttempts": {attempts}, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
                "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
              }}
            }}]
        }}"#
    ))
    .expect("service config")
}

fn channel_with(target: &str, config: ServiceConfig) -> Channel {
    ChannelBuilder::new(target)
        .service_config(config)
        .build()
        .expect("channel")
}

fn call_who(channel: &Channel, id: &str) -> Result<String, grpc_core::RpcError> {
    channel
        .unary_unary::<String, String>(WHO)
        .with_options(
            CallOptions::new()
                .timeout(PATIENCE)
                .metadata(Metadata::from_pairs([(CALL_ID, id)]).expect("metadata")),
        )
        .call(String::new())
}

#[test]
fn retries_succeed_and_the_backend_sees_the_previous_attempts() {
    let backend = Backend::start("flaky");
    let channel = channel_with(&backend.address(), retrying(4, ""));
    backend.behaviour.fail_next.store(2, Ordering::SeqCst);
    assert_eq!(call_who(&channel, "one").expect("retried call"), "flaky");
    let previous = backend.behaviour.previous_attempts.lock().unwrap().clone();
    eprintln!("attempts of a call failing twice: grpc-previous-rpc-attempts = {previous:?}");
    assert_eq!(previous, ["", "1", "2"]);
    // More failures than attempts: the last status comes back.
    backend.behaviour.reset();
    backend.behaviour.fail_next.store(10, Ordering::SeqCst);
    let error = call_who(&channel, "two").expect_err("attempts used up");
    assert_eq!(error.code(), Code::Unavailable);
    assert_eq!(backend.behaviour.attempts_of("two"), 4);
    // A status the policy does not name is not retried.
    backend.behaviour.reset();
    backend.behaviour.fail_next.store(1, Ordering::SeqCst);
    *backend.behaviour.fail_code.lock().unwrap() = Some(Code::Internal);
    let error = call_who(&channel, "three").expect_err("not retryable");
    assert_eq!(error.code(), Code::Internal);
    assert_eq!(backend.behaviour.attempts_of("three"), 1);
}

#[test]
fn throttling_stops_retries_when_most_calls_fail() {
    let backend = Backend::start("down");
    let config = retrying(
        3,
        r#""retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},"#,
    );
    let channel = channel_with(&backend.address(), config);
    backend.behaviour.fail_always.store(1, Ordering::SeqCst);
    let attempts: Vec<usize> = (0..20)
        .map(|i| {
            let id = format!("call-{i}");
            call_who(&channel, &id).expect_err("always failing");
            backend.behaviour.attempts_of(&id)
        })
        .collect();
    eprintln!("attempts per call while throttled: {attempts:?}");
    // 10 tokens, one per failed attempt, retries while more than 5 remain.
    assert_eq!(attempts[..3], [3, 2, 1]);
    assert!(attempts[2..].iter().all(|&n| n == 1));
    // Successes refill the bucket (0.1 each): after 70, 7 tokens, and a
    // failure leaves 6, more than half: retries are allowed again.
    backend.behaviour.fail_always.store(0, Ordering::SeqCst);
    for i in 0..70 {
        call_who(&channel, &format!("ok-{i}")).expect("healthy again");
    }
    backend.behaviour.fail_next.store(1, Ordering::SeqCst);
    assert_eq!(call_who(&channel, "after").expect("retried again"), "down");
    assert_eq!(backend.behaviour.attempts_of("after"), 2);
}

#[test]
fn no_retry_once_response_headers_arrived() {
    let backend = Backend::start("streamer");
    let channel = channel_with(&backend.address(), retrying(4, ""));
    backend.behaviour.fail_next.store(1, Ordering::SeqCst);
    let mut responses = channel
        .unary_stream::<String, String>(STREAM)
        .with_options(CallOptions::new().timeout(PATIENCE))
        .call(String::new())
        .expect("stream");
    assert_eq!(
        responses.next().expect("one message").expect("ok"),
        "streamer"
    );
    let error = responses.next().expect("the failure").expect_err("failed");
    assert_eq!(error.code(), Code::Unavailable);
    assert_eq!(backend.behaviour.attempts.load(Ordering::SeqCst), 1);
}

#[test]
fn client_streams_are_retried_from_the_buffer_while_they_fit() {
    let backend = Backend::start("collector");
    let channel = channel_with(&backend.address(), retrying(3, ""));
    let collect = channel
        .stream_unary::<String, String>(COLLECT)
        .with_options(CallOptions::new().timeout(PATIENCE));
    backend.behaviour.fail_next.store(1, Ordering::SeqCst);
    let words = ["x", "y", "z"].map(String::from);
    assert_eq!(collect.call(words.into_iter()).expect("retried"), "x,y,z");
    let collected = backend.behaviour.collected.lock().unwrap().clone();
    assert_eq!(collected, [["x", "y", "z"], ["x", "y", "z"]]);
    // Past the retry buffer (256 KiB) the call is committed: no retry.
    backend.behaviour.reset();
    backend.behaviour.fail_next.store(1, Ordering::SeqCst);
    let big = (0..5).map(|_| "b".repeat(100_000));
    let error = collect.call(big).expect_err("not retried");
    assert_eq!(error.code(), Code::Unavailable);
    assert_eq!(backend.behaviour.attempts.load(Ordering::SeqCst), 1);
}

#[test]
fn hedging_returns_the_fast_answer_and_cancels_the_slow_attempt() {
    let slow = Backend::start("slow");
    let fast = Backend::start("fast");
    slow.behaviour.delay_ms.store(10_000, Ordering::SeqCst);
    let config = ServiceConfig::from_json(
        r#"{"methodConfig": [{"name": [{"service": "demo.Lb"}],
            "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.1s",
                              "nonFatalStatusCodes": ["UNAVAILABLE"]}}]}"#,
    )
    .expect("config");
    let channel = ChannelBuilder::new(ipv4_target(&[&slow, &fast]))
        .lb_policy(LbPolicy::RoundRobin)
        .service_config(config)
        .build()
        .expect("channel");
    grpc_core::channel_ready_future(&channel)
        .result(Some(PATIENCE))
        .expect("ready");
    // Both subchannels connected: picks alternate between the two.
    let started = Instant::now();
    while slow.behaviour.attempts.load(Ordering::SeqCst) == 0 || started.elapsed() < ms(200) {
        assert!(started.elapsed() < PATIENCE);
        assert_eq!(call_who(&channel, "warm").expect("hedged"), "fast");
    }
    // The warm-up's slow attempts end (cancelled) before the count starts,
    // so that none of them is counted as one of the three calls' below.
    wait_cancelled(&slow, slow.behaviour.attempts.load(Ordering::SeqCst));
    slow.behaviour.reset();
    for i in 0..3 {
        assert_eq!(
            call_who(&channel, &format!("h{i}")).expect("hedged"),
            "fast"
        );
    }
    let (slow_started, slow_cancelled) = (
        slow.behaviour.attempts.load(Ordering::SeqCst),
        wait_cancelled(&slow, slow.behaviour.attempts.load(Ordering::SeqCst)),
    );
    eprintln!(
        "3 hedged calls: slow backend got {slow_started} attempts, {slow_cancelled} cancelled, 0 answered"
    );
    assert!(slow_started >= 2, "the slow backend was not tried first");
    assert_eq!(slow_cancelled, slow_started);
    assert_eq!(slow.behaviour.served.load(Ordering::SeqCst), 0);
}

/// Waits until the slow backend saw `count` cancellations; how many it saw.
fn wait_cancelled(backend: &Backend, count: usize) -> usize {
    let started = Instant::now();
    while backend.behaviour.cancelled.load(Ordering::SeqCst) < count && started.elapsed() < PATIENCE
    {
        std::thread::sleep(ms(10));
    }
    backend.behaviour.cancelled.load(Ordering::SeqCst)
}

#[test]
fn method_config_sets_timeouts_wait_for_ready_and_message_limits() {
    let backend = Backend::start("limited");
    let config = ServiceConfig::from_json(
        r#"{"methodConfig": [
            {"name": [{"service": "demo.Lb", "method": "Who"}], "timeout": "0.2s"},
            {"name": [{"service": "demo.Lb", "method": "Collect"}],
             "maxRequestMessageBytes": 100},
            {"name": [{"service": "demo.Lb", "method": "Stream"}],
             "maxResponseMessageBytes": 3}
        ]}"#,
    )
    .expect("config");
    let channel = channel_with(&backend.address(), config.clone());
    backend.behaviour.delay_ms.store(3000, Ordering::SeqCst);
    let error = call_who(&channel, "slow").expect_err("config timeout");
    assert_eq!(error.code(), Code::DeadlineExceeded);
    backend.behaviour.delay_ms.store(0, Ordering::SeqCst);
    let error = channel
        .stream_unary::<String, String>(COLLECT)
        .call(std::iter::once("x".repeat(200)))
        .expect_err("request too large");
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    let mut responses = channel
        .unary_stream::<String, String>(STREAM)
        .call(String::new())
        .expect("stream");
    let error = responses
        .next()
        .expect("an item")
        .expect_err("response too large");
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    // waitForReady from the config: a call to a dead port waits (until
    // its deadline) instead of failing at once.
    let dead = Backend::start("dead");
    let dead_address = dead.address();
    drop(dead);
    let waiting = ServiceConfig::from_json(
        r#"{"methodConfig": [{"name": [{}], "waitForReady": true, "timeout": "0.5s"}]}"#,
    )
    .expect("config");
    let error = channel_with(&dead_address, waiting)
        .unary_unary::<String, String>(WHO)
        .call(String::new())
        .expect_err("nothing listens");
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
}

/// A resolver that hands out a service config with the addresses.
struct WithConfig(Vec<std::net::SocketAddr>, ServiceConfig);

impl Resolver for WithConfig {
    async fn resolve(&self) -> Result<Resolution, Status> {
        Ok(Resolution::addresses(self.0.clone()).with_service_config(self.1.clone()))
    }
}

#[test]
fn a_resolver_s_service_config_chooses_the_policy_and_retries() {
    let backends = [Backend::start("a"), Backend::start("b")];
    let addresses = backends
        .iter()
        .map(|b| b.address().parse().unwrap())
        .collect();
    let config = retrying(3, r#""loadBalancingConfig": [{"round_robin": {}}],"#);
    let channel = ChannelBuilder::new("configured")
        .resolver(WithConfig(addresses, config))
        .service_config(ServiceConfig::default())
        .build()
        .expect("channel");
    let mut names = std::collections::HashSet::new();
    let started = Instant::now();
    while names.len() < 2 {
        assert!(started.elapsed() < PATIENCE, "round_robin never used both");
        names.insert(call_who(&channel, "rr").expect("call"));
    }
    backends[0].behaviour.fail_next.store(1, Ordering::SeqCst);
    backends[1].behaviour.fail_next.store(1, Ordering::SeqCst);
    call_who(&channel, "retried").expect("retried on the other backend");
    let attempts =
        backends[0].behaviour.attempts_of("retried") + backends[1].behaviour.attempts_of("retried");
    assert!(attempts >= 2, "{attempts}");
    let error = ServiceConfig::from_json(r#"{"methodConfig": [{"name": [{}], "timeout": 5}]}"#)
        .expect_err("bad timeout");
    assert!(error.is_invalid_argument() && error.to_string().contains("timeout"));
}

/// The calls of a comparison: `(id, attempts to fail)`; -1 fails all.
fn plan(prefix: &str) -> Vec<(String, i64)> {
    let mut plan: Vec<(String, i64)> = (0..=5).map(|k| (format!("{prefix}-k{k}"), k)).collect();
    // Then a run of calls that always fail, for the throttle.
    plan.extend((0..12).map(|i| (format!("{prefix}-down{i}"), -1)));
    plan
}

#[test]
fn grpcio_and_this_client_make_the_same_attempts_with_the_same_config() {
    use rustgrpc_tests::backends::FAIL_FIRST;
    let json = r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        "methodConfig": [{"name": [{"service": "demo.Lb"}],
          "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
                          "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let backend = Backend::start("planned");
    // grpcio first.
    let python_plan = plan("py");
    let spec: Vec<String> = python_plan
        .iter()
        .map(|(id, k)| format!("{id}:{k}"))
        .collect();
    let target_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    let mut command = rustgrpc_tests::peers::python_script(target_dir, "retry_client.py");
    command.args([backend.address().as_str(), json, &spec.join(",")]);
    let output = command.output().expect("run the python client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let python_codes: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("RESULT "))
        .map(|rest| rest.split(' ').nth(1).unwrap_or_default().to_owned())
        .collect();
    // Then this client, with the same config, on a fresh channel.
    let channel = channel_with(&backend.address(), ServiceConfig::from_json(json).unwrap());
    let ours_plan = plan("rs");
    let our_codes: Vec<String> = ours_plan
        .iter()
        .map(|(id, k)| {
            let metadata =
                Metadata::from_pairs([(CALL_ID, id.as_str()), (FAIL_FIRST, &k.to_string())])
                    .expect("metadata");
            let result = channel
                .unary_unary::<String, String>(WHO)
                .with_options(CallOptions::new().timeout(PATIENCE).metadata(metadata))
                .call(String::new());
            match result {
                Ok(_) => "OK".to_owned(),
                Err(error) => error.code().name().to_owned(),
            }
        })
        .collect();
    let attempts = |plan: &[(String, i64)]| -> Vec<usize> {
        plan.iter()
            .map(|(id, _)| backend.behaviour.attempts_of(id))
            .collect()
    };
    let (python_attempts, our_attempts) = (attempts(&python_plan), attempts(&ours_plan));
    eprintln!("grpcio attempts:     {python_attempts:?} {python_codes:?}");
    eprintln!("rustgrpc attempts:   {our_attempts:?} {our_codes:?}");
    assert_eq!(python_attempts, our_attempts);
    assert_eq!(python_codes, our_codes);
    assert_eq!(our_attempts[..3], [1, 2, 3]);
}

#[test]
fn async_calls_balance_and_retry_like_blocking_ones() {
    let backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (split, served) = runtime.block_on(async {
        // Consecutive attempts go to different backends: up to 4 are needed.
        let config = retrying(4, r#""loadBalancingConfig": [{"round_robin": {}}],"#);
        let target = ipv4_target(&[&backends[0], &backends[1], &backends[2]]);
        let channel = channel_with(&target, config);
        let who = channel
            .unary_unary::<String, String>(WHO)
            .with_options(CallOptions::new().wait_for_ready(true).timeout(PATIENCE));
        let mut seen = std::collections::HashSet::new();
        while seen.len() < 3 {
            seen.insert(who.call_async(String::new()).await.expect("call"));
        }
        for backend in &backends {
            backend.behaviour.reset();
            backend.behaviour.fail_next.store(1, Ordering::SeqCst);
        }
        let mut split = std::collections::BTreeMap::new();
        for _ in 0..30 {
            let name = who.call_async(String::new()).await.expect("retried");
            *split.entry(name).or_insert(0) += 1;
        }
        let served: Vec<(usize, usize)> = backends
            .iter()
            .map(|b| {
                (
                    b.behaviour.attempts.load(Ordering::SeqCst),
                    b.behaviour.served.load(Ordering::SeqCst),
                )
            })
            .collect();
        (split, served)
    });
    eprintln!(
        "async round_robin with one failure per backend: {split:?}, (attempts, served) {served:?}"
    );
    assert_eq!(split.len(), 3, "{split:?}");
    assert_eq!(served.iter().map(|(a, _)| a).sum::<usize>(), 33);
    assert_eq!(served.iter().map(|(_, s)| s).sum::<usize>(), 30);
}
