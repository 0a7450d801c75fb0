//! The bounded soak: every RPC shape on both faces, with random deadlines
//! and cancellations, for `SOAK_SECS` seconds (60 by default; set it lower
//! for a quick local run). Asserts that no message was lost, duplicated or
//! reordered, that no call failed unexpectedly, and that threads and
//! descriptors did not grow. A long run: `cargo run --release -p
//! rustgrpc-bench --bin soak -- --secs 1800`.

use std::time::Duration;

use rustgrpc_bench::soak::{self, SoakConfig};

#[test]
fn soak_loses_nothing_and_leaks_nothing() {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let config = SoakConfig {
        duration: Duration::from_secs(secs),
        in_flight: 1_000,
        blocking_callers: 4,
        stream_len: 20,
        sample_every: Duration::from_secs((secs / 6).max(1)),
        ..SoakConfig::default()
    };
    let report = soak::run(config, |_| {}).expect("the soak runs");
    println!("{}", report.table());
    assert!(report.ok > 0, "no call succeeded");
    assert_eq!(report.lost, 0, "lost messages");
    assert_eq!(report.duplicated, 0, "duplicated messages");
    assert_eq!(report.reordered, 0, "reordered messages");
    assert_eq!(report.unexpected_count, 0, "{:?}", report.unexpected);

    // Threads and descriptors: after the run (server stopped, clients
    // dropped) no more than at the first sample, taken with everything
    // running.
    let first = report.samples.first().expect("samples");
    let last = report.samples.last().expect("samples");
    assert!(
        last.threads <= first.threads,
        "threads grew: {} -> {}",
        first.threads,
        last.threads
    );
    assert!(
        last.fds <= first.fds,
        "descriptors grew: {} -> {}",
        first.fds,
        last.fds
    );
    // While running, threads stay under the pool's caps (workers, parked
    // handlers) plus the runtimes and callers; descriptors stay flat (four
    // connections).
    let running = &report.samples[..report.samples.len() - 1];
    let max_threads = running.iter().map(|s| s.threads).max().unwrap_or(0);
    let thread_cap = config.max_workers + config.max_waiting_handlers + 64;
    assert!(
        max_threads <= thread_cap,
        "threads over {thread_cap}: {report:?}"
    );
    let max_fds = running.iter().map(|s| s.fds).max().unwrap_or(0);
    assert!(
        max_fds <= first.fds + 8,
        "descriptors kept growing: {report:?}"
    );
}
