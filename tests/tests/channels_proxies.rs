//! Our servers behind real proxies from Debian (installed by
//! `scripts/proxies-env.sh`): nginx `grpc_pass` to an upstream of three
//! backends, and HAProxy with HTTP/2 on both sides; unary, server- and
//! client-streaming calls through both, and `max_connection_age` making a
//! long-lived client re-balance behind a connection-level (TCP) balancer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grpc_core::{CallOptions, Channel, Server};
use rustgrpc_tests::backends::{Backend, COLLECT, STREAM, WHO};
use rustgrpc_tests::ms;
use rustgrpc_tests::proxies::{HaproxyMode, Proxies, Proxy, proxies};

fn installed() -> &'static Proxies {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    proxies(target)
}

fn backends(builder: impl Fn() -> grpc_core::ServerBuilder) -> Vec<Backend> {
    ["a", "b", "c"]
        .iter()
        .map(|name| Backend::start_with(name, builder(), 0))
        .collect()
}

fn ports(backends: &[Backend]) -> Vec<u16> {
    backends.iter().map(|b| b.port).collect()
}

fn options() -> CallOptions {
    CallOptions::new()
        .wait_for_ready(true)
        .timeout(Duration::from_secs(20))
}

/// Unary, server-streaming and client-streaming calls through `proxy`;
/// the split of 60 unary calls over the backends.
fn exercise(proxy: &Proxy) -> HashMap<String, usize> {
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{}", proxy.port)).unwrap();
    let who = channel
        .unary_unary::<String, String>(WHO)
        .with_options(options());
    let mut split = HashMap::new();
    for _ in 0..60 {
        *split
            .entry(who.call(String::new()).expect("unary"))
            .or_insert(0) += 1;
    }
    let streamed: Vec<String> = channel
        .unary_stream::<String, String>(STREAM)
        .with_options(options())
        .call(String::new())
        .expect("server stream")
        .collect::<Result<_, _>>()
        .expect("stream ends OK");
    assert_eq!(streamed.len(), 1);
    let joined = channel
        .stream_unary::<String, String>(COLLECT)
        .with_options(options())
        .call(["x", "y", "z"].map(String::from).into_iter())
        .expect("client stream");
    assert_eq!(joined, "x,y,z");
    split
}

#[test]
fn calls_pass_through_nginx_grpc_pass() {
    let backends = backends(Server::builder);
    let proxy = installed().nginx(&ports(&backends));
    let split = exercise(&proxy);
    eprintln!("nginx grpc_pass, 60 unary calls: {split:?}");
    assert_eq!(
        split.len(),
        3,
        "nginx did not use every upstream: {split:?}"
    );
    assert_eq!(split.values().sum::<usize>(), 60);
}

#[test]
fn calls_pass_through_haproxy_over_http2() {
    let backends = backends(Server::builder);
    let proxy = installed().haproxy(&ports(&backends), HaproxyMode::Http2);
    let split = exercise(&proxy);
    eprintln!("haproxy h2, 60 unary calls: {split:?}");
    assert_eq!(
        split.len(),
        3,
        "haproxy did not use every server: {split:?}"
    );
}

/// Four threads call through one channel for `span`; who served, and failures.
fn long_lived_client(channel: &Channel, span: Duration) -> (HashMap<String, usize>, usize) {
    let split = Arc::new(Mutex::new(HashMap::new()));
    let failures = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + span;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (channel, split, failures) = (channel.clone(), split.clone(), failures.clone());
            std::thread::spawn(move || {
                let who = channel
                    .unary_unary::<String, String>(WHO)
                    .with_options(options());
                while Instant::now() < until {
                    match who.call(String::new()) {
                        Ok(name) => *split.lock().unwrap().entry(name).or_insert(0) += 1,
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
    workers.into_iter().for_each(|w| w.join().expect("worker"));
    let split = split.lock().unwrap().clone();
    (split, failures.load(Ordering::SeqCst))
}

#[test]
fn max_connection_age_rebalances_a_long_lived_client_behind_a_tcp_balancer() {
    let proxies = installed();
    // Without an age limit, the client's one connection stays on one backend.
    let pinned = backends(Server::builder);
    let proxy = proxies.haproxy(&ports(&pinned), HaproxyMode::Tcp);
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{}", proxy.port)).unwrap();
    let (split, failures) = long_lived_client(&channel, ms(1000));
    eprintln!("haproxy tcp, no max_connection_age: {split:?}, {failures} failed");
    assert_eq!(split.len(), 1, "{split:?}");
    assert_eq!(failures, 0);
    // With one, the server's GOAWAY sends the client back through the
    // balancer, to the next backend, without failing a call.
    let aged = backends(|| Server::builder().max_connection_age(ms(250)));
    let proxy = proxies.haproxy(&ports(&aged), HaproxyMode::Tcp);
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{}", proxy.port)).unwrap();
    let (split, failures) = long_lived_client(&channel, ms(2000));
    eprintln!("haproxy tcp, max_connection_age 250 ms: {split:?}, {failures} failed");
    assert_eq!(split.len(), 3, "{split:?}");
    assert_eq!(failures, 0);
}

#[test]
fn max_connection_age_rebalances_behind_nginx_too() {
    // nginx balances each request; aged backend connections are replaced
    // by nginx without failing the client's calls.
    let aged = backends(|| Server::builder().max_connection_age(ms(250)));
    let proxy = installed().nginx(&ports(&aged));
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{}", proxy.port)).unwrap();
    let (split, failures) = long_lived_client(&channel, ms(1500));
    eprintln!("nginx, backends with max_connection_age 250 ms: {split:?}, {failures} failed");
    assert_eq!(split.len(), 3, "{split:?}");
    assert_eq!(failures, 0);
}
