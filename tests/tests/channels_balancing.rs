//! Resolution and load balancing over real sockets: three backends on
//! their own loopback ports, `round_robin` and `pick_first`, failover and
//! return of a backend, resolvers that change their addresses, and the
//! channel's aggregated connectivity.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Channel, ChannelBuilder, ChannelConnectivity, LbPolicy, Resolution, Resolver,
    Status,
};
use rustgrpc_tests::backends::{Backend, WHO, ipv4_target};
use rustgrpc_tests::ms;

/// A limit on waits that should end much sooner (a hang guard).
const PATIENCE: Duration = Duration::from_secs(20);

fn round_robin(target: &str) -> Channel {
    ChannelBuilder::new(target)
        .lb_policy(LbPolicy::RoundRobin)
        .reconnect_backoff(ms(50), ms(500))
        .build()
        .expect("channel")
}

fn who(channel: &Channel) -> Result<String, grpc_core::RpcError> {
    channel
        .unary_unary::<String, String>(WHO)
        .with_options(CallOptions::new().wait_for_ready(true).timeout(PATIENCE))
        .call(String::new())
}

/// Calls until every name in `names` answered (round_robin connects to
/// all addresses; the first calls may see only the first to connect).
fn until_all_answer(channel: &Channel, names: &[&str]) {
    let started = Instant::now();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < names.len() {
        assert!(started.elapsed() < PATIENCE, "only {seen:?} answered");
        seen.insert(who(channel).expect("call"));
        std::thread::sleep(ms(5));
    }
}

fn split(channel: &Channel, calls: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..calls {
        *counts.entry(who(channel).expect("call")).or_default() += 1;
    }
    counts
}

#[test]
fn round_robin_spreads_calls_evenly_over_three_backends() {
    let backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    let channel = round_robin(&ipv4_target(&backends.iter().collect::<Vec<_>>()));
    until_all_answer(&channel, &["a", "b", "c"]);
    let counts = split(&channel, 300);
    eprintln!("round_robin split of 300 calls: {counts:?}");
    for name in ["a", "b", "c"] {
        assert_eq!(counts.get(name), Some(&100), "{counts:?}");
    }
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
}

#[test]
fn pick_first_uses_one_backend_and_shuffling_spreads_channels() {
    let backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    let target = ipv4_target(&backends.iter().collect::<Vec<_>>());
    let channel = grpc_core::insecure_channel(&target).expect("channel");
    let counts = split(&channel, 30);
    assert_eq!(counts.get("a"), Some(&30), "{counts:?}");
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..20 {
        let shuffled = ChannelBuilder::new(&target)
            .lb_policy(LbPolicy::PickFirst {
                shuffle_address_list: true,
            })
            .build()
            .expect("channel");
        let counts = split(&shuffled, 3);
        assert_eq!(counts.len(), 1, "pick_first used several: {counts:?}");
        firsts.extend(counts.into_keys());
    }
    eprintln!("20 shuffled pick_first channels chose {firsts:?}");
    assert!(firsts.len() > 1, "shuffling never changed the choice");
}

/// Calls from four threads until `stop`, tallying who answered and failures.
struct Load {
    counts: Arc<Mutex<Vec<(Instant, String)>>>,
    failures: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(channel: &Channel) -> Load {
        let counts = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..4)
            .map(|_| {
                let (channel, counts, failures, stop) = (
                    channel.clone(),
                    counts.clone(),
                    failures.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match who(&channel) {
                            Ok(name) => counts.lock().unwrap().push((Instant::now(), name)),
                            Err(error) => {
                                eprintln!("call failed: {error:?}");
                                failures.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        std::thread::sleep(ms(2));
                    }
                })
            })
            .collect();
        Load {
            counts,
            failures,
            stop,
            workers,
        }
    }

    /// Calls answered by `name` since `since`.
    fn served_since(&self, name: &str, since: Instant) -> usize {
        let counts = self.counts.lock().unwrap();
        counts
            .iter()
            .filter(|(at, who)| *at >= since && who == name)
            .count()
    }

    /// Waits until `name` answers a call after `since`; when it did.
    fn wait_served(&self, name: &str, since: Instant) -> Instant {
        loop {
            if let Some((at, _)) = self
                .counts
                .lock()
                .unwrap()
                .iter()
                .find(|(at, who)| *at >= since && who == name)
            {
                return *at;
            }
            assert!(since.elapsed() < PATIENCE, "{name} never answered");
            std::thread::sleep(ms(5));
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.workers
            .drain(..)
            .for_each(|w| w.join().expect("worker"));
        self.failures.load(Ordering::SeqCst)
    }
}

#[test]
fn a_stopped_backend_s_share_moves_and_returns_without_failed_calls() {
    let mut backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    let channel = round_robin(&ipv4_target(&backends.iter().collect::<Vec<_>>()));
    until_all_answer(&channel, &["a", "b", "c"]);
    let load = Load::start(&channel);
    std::thread::sleep(ms(300));
    let stopped_at = Instant::now();
    backends[1].stop(Some(ms(1000)));
    let gone_at = Instant::now();
    std::thread::sleep(ms(500));
    let after_stop = Instant::now();
    std::thread::sleep(ms(500));
    let (a, b, c) = (
        load.served_since("a", after_stop),
        load.served_since("b", after_stop),
        load.served_since("c", after_stop),
    );
    eprintln!(
        "backend b stopped (stop took {:?}); calls in the next 500 ms: a={a} b={b} c={c}",
        gone_at - stopped_at
    );
    assert_eq!(b, 0, "calls still went to the stopped backend");
    assert!(a > 0 && c > 0);
    let restarted_at = Instant::now();
    backends[1].restart();
    let back_at = load.wait_served("b", restarted_at);
    eprintln!(
        "backend b restarted: first call served after {:?}",
        back_at - restarted_at
    );
    std::thread::sleep(ms(300));
    let failures = load.finish();
    eprintln!("failed wait_for_ready calls: {failures}");
    assert_eq!(failures, 0);
}

/// A resolver whose addresses the test changes, telling the channel.
#[derive(Clone, Default)]
struct Switchboard {
    addresses: Arc<Mutex<Vec<std::net::SocketAddr>>>,
    changed: Arc<tokio::sync::Notify>,
    resolutions: Arc<AtomicUsize>,
    push: bool,
}

impl Switchboard {
    fn set(&self, backends: &[&Backend]) {
        *self.addresses.lock().unwrap() = backends
            .iter()
            .map(|b| b.address().parse().unwrap())
            .collect();
        if self.push {
            self.changed.notify_one();
        }
    }
}

impl Resolver for Switchboard {
    async fn resolve(&self) -> Result<Resolution, Status> {
        self.resolutions.fetch_add(1, Ordering::SeqCst);
        Ok(Resolution::addresses(
            self.addresses.lock().unwrap().clone(),
        ))
    }

    async fn changed(&self) {
        self.changed.notified().await;
    }
}

fn wait_for_answer(channel: &Channel, name: &str) -> Duration {
    let started = Instant::now();
    loop {
        if who(channel).expect("call") == name {
            return started.elapsed();
        }
        assert!(started.elapsed() < PATIENCE, "{name} never answered");
        std::thread::sleep(ms(5));
    }
}

#[test]
fn address_changes_from_a_resolver_are_picked_up() {
    let backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    for push in [true, false] {
        let resolver = Switchboard {
            push,
            ..Switchboard::default()
        };
        resolver.set(&[&backends[0]]);
        let channel = ChannelBuilder::new("switchboard")
            .resolver(resolver.clone())
            .lb_policy(LbPolicy::RoundRobin)
            .resolution_interval(ms(200))
            .build()
            .expect("channel");
        assert_eq!(split(&channel, 5).get("a"), Some(&5));
        resolver.set(&[&backends[1], &backends[2]]);
        let took = wait_for_answer(&channel, "b");
        until_all_answer(&channel, &["b", "c"]);
        let counts = split(&channel, 20);
        eprintln!(
            "push={push}: new addresses used after {took:?} ({} resolutions); split {counts:?}",
            resolver.resolutions.load(Ordering::SeqCst)
        );
        assert_eq!(counts.get("a"), None, "{counts:?}");
        assert_eq!(counts.get("b"), Some(&10));
    }
}

#[test]
fn wait_for_ready_calls_wait_across_an_address_change() {
    let backend = Backend::start("late");
    let resolver = Switchboard {
        push: true,
        ..Switchboard::default()
    };
    // Nothing listens at first: a port that was just freed.
    let dead = Backend::start("dead");
    let dead_address = dead.address();
    drop(dead);
    *resolver.addresses.lock().unwrap() = vec![dead_address.parse().unwrap()];
    let channel = ChannelBuilder::new("switchboard")
        .resolver(resolver.clone())
        .reconnect_backoff(ms(50), ms(200))
        .build()
        .expect("channel");
    let fail_fast = channel
        .unary_unary::<String, String>(WHO)
        .call(String::new())
        .expect_err("nothing listens");
    assert_eq!(fail_fast.code(), grpc_core::Code::Unavailable);
    let waiting = {
        let channel = channel.clone();
        std::thread::spawn(move || who(&channel))
    };
    std::thread::sleep(ms(300));
    assert!(
        !waiting.is_finished(),
        "the wait_for_ready call did not wait"
    );
    resolver.set(&[&backend]);
    assert_eq!(waiting.join().expect("caller").expect("call"), "late");
}

#[test]
fn connectivity_aggregates_the_subchannels() {
    let live = Backend::start("live");
    let dead = Backend::start("dead");
    let dead_target = ipv4_target(&[&dead]);
    let mixed_target = ipv4_target(&[&dead, &live]);
    drop(dead);
    let mixed = round_robin(&mixed_target);
    assert_eq!(mixed.connectivity(), ChannelConnectivity::Idle);
    assert_eq!(split(&mixed, 6).get("live"), Some(&6));
    assert_eq!(mixed.connectivity(), ChannelConnectivity::Ready);
    let all_dead = round_robin(&dead_target);
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    let subscription = all_dead.subscribe(move |s| seen.lock().unwrap().push(s), true);
    // The callback sees Idle first, then (Connecting, which a refused
    // loopback connect may pass too fast to observe, and) TransientFailure.
    let started = Instant::now();
    while !states
        .lock()
        .unwrap()
        .contains(&ChannelConnectivity::TransientFailure)
    {
        assert!(started.elapsed() < PATIENCE, "{:?}", states.lock().unwrap());
        std::thread::sleep(ms(10));
    }
    subscription.unsubscribe();
    let states = states.lock().unwrap().clone();
    assert_eq!(states[0], ChannelConnectivity::Idle, "{states:?}");
    assert!(!states.contains(&ChannelConnectivity::Ready), "{states:?}");
    let error = all_dead
        .unary_unary::<String, String>(WHO)
        .call(String::new())
        .expect_err("every address is dead");
    assert_eq!(error.code(), grpc_core::Code::Unavailable);
    assert!(error.details().contains("failed to connect"), "{error:?}");
}

#[test]
fn dns_targets_resolve_through_the_system_resolver() {
    let backend = Backend::start("dns");
    let channel = round_robin(&format!("dns:///localhost:{}", backend.port));
    assert_eq!(split(&channel, 4).get("dns"), Some(&4));
    let bad = grpc_core::insecure_channel("dns:///no-such-host.invalid:1").expect("channel");
    let error = bad
        .unary_unary::<String, String>(WHO)
        .call(String::new())
        .expect_err("no such host");
    assert_eq!(error.code(), grpc_core::Code::Unavailable);
    assert!(
        error.details().contains("DNS resolution failed"),
        "{error:?}"
    );
}

#[test]
fn an_idle_channel_drops_its_connections_and_reconnects_on_the_next_call() {
    let backend = Backend::start("idle");
    let channel = ChannelBuilder::new(backend.address())
        .idle_timeout(Some(ms(200)))
        .build()
        .expect("channel");
    assert_eq!(who(&channel).expect("call"), "idle");
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
    let started = Instant::now();
    while channel.connectivity() != ChannelConnectivity::Idle {
        assert!(started.elapsed() < PATIENCE, "never went idle");
        std::thread::sleep(ms(20));
    }
    eprintln!("idle after {:?} without calls", started.elapsed());
    assert_eq!(who(&channel).expect("call after idle"), "idle");
    assert_eq!(channel.connectivity(), ChannelConnectivity::Ready);
    // A call in flight longer than the timeout keeps the channel busy.
    backend.behaviour.delay_ms.store(600, Ordering::SeqCst);
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    let subscription = channel.subscribe(move |s| seen.lock().unwrap().push(s), false);
    assert_eq!(who(&channel).expect("long call"), "idle");
    subscription.unsubscribe();
    assert_eq!(
        *states.lock().unwrap(),
        [ChannelConnectivity::Ready],
        "the channel went idle during a call"
    );
}

/// The states a channel went through while it sat unused for `idle`
/// after a call, with keepalive every 50 ms and no ping limit.
fn states_while_unused(backend: &Backend, permit_without_calls: bool) -> Vec<ChannelConnectivity> {
    let channel = ChannelBuilder::new(backend.address())
        .keepalive_time(ms(50))
        .max_pings_without_data(0)
        .keepalive_permit_without_calls(permit_without_calls)
        .build()
        .expect("channel");
    assert_eq!(who(&channel).expect("call"), "pinged");
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    let subscription = channel.subscribe(move |s| seen.lock().unwrap().push(s), false);
    std::thread::sleep(ms(800));
    subscription.unsubscribe();
    states.lock().unwrap().clone()
}

#[test]
fn keepalive_pings_only_with_calls_in_flight_unless_permitted() {
    // The server allows one ping per 5 minutes without data (gRPC's
    // default) and sends GOAWAY too_many_pings after 2 strikes.
    let backend = Backend::start("pinged");
    let quiet = states_while_unused(&backend, false);
    assert_eq!(quiet, [ChannelConnectivity::Ready], "{quiet:?}");
    let pushy = states_while_unused(&backend, true);
    assert!(
        pushy.iter().any(|s| *s != ChannelConnectivity::Ready),
        "pings without calls did not reach the server: {pushy:?}"
    );
}

#[test]
fn a_backend_cut_without_goaway_fails_no_call_with_a_retry_policy() {
    use rustgrpc_tests::fault_proxy::{Fault, FaultProxy};
    let backends = [
        Backend::start("a"),
        Backend::start("b"),
        Backend::start("c"),
    ];
    let proxies: Vec<FaultProxy> = backends.iter().map(|b| FaultProxy::start(b.port)).collect();
    let target = format!(
        "ipv4:{}",
        proxies
            .iter()
            .map(FaultProxy::target)
            .collect::<Vec<_>>()
            .join(",")
    );
    let config = grpc_core::ServiceConfig::from_json(
        r#"{"methodConfig": [{"name": [{"service": "demo.Lb"}],
            "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
                            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
    )
    .expect("config");
    let channel = ChannelBuilder::new(target)
        .lb_policy(LbPolicy::RoundRobin)
        .reconnect_backoff(ms(50), ms(500))
        .service_config(config)
        .build()
        .expect("channel");
    until_all_answer(&channel, &["a", "b", "c"]);
    let load = Load::start(&channel);
    std::thread::sleep(ms(300));
    // The path to b dies abruptly: connections cut, new ones refused.
    proxies[1].set(Fault::Refuse);
    proxies[1].cut_all();
    let cut_at = Instant::now();
    std::thread::sleep(ms(500));
    let after = Instant::now();
    std::thread::sleep(ms(300));
    let b_after = load.served_since("b", after);
    let served = load.counts.lock().unwrap().len();
    let failures = load.finish();
    let attempts: usize = backends
        .iter()
        .map(|b| b.behaviour.attempts.load(Ordering::SeqCst))
        .sum();
    eprintln!(
        "b cut {:?} before the check: {served} calls served, {attempts} attempts reached \
         backends, b served {b_after} after the cut, {failures} failed",
        after - cut_at
    );
    assert_eq!(b_after, 0);
    assert_eq!(failures, 0);
}
