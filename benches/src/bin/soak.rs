//! The soak program: `soak [--secs N] [--in-flight N] [--blocking N]
//! [--stream-len N] [--sample-secs N]`. Prints a sample line as it goes,
//! then the table and totals; exits non-zero if any message was lost,
//! duplicated or reordered, or any call failed unexpectedly.

use std::time::Duration;

use rustgrpc_bench::soak::{self, SoakConfig};

fn main() {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's (and h2's) logs.
    grpc_core::diagnostics::init_from_env();
    let mut config = SoakConfig::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        let Some(value) = value else {
            eprintln!(
                "usage: soak [--secs N] [--in-flight N] [--blocking N] [--stream-len N] [--sample-secs N]"
            );
            std::process::exit(2);
        };
        match args[i].as_str() {
            "--secs" => config.duration = Duration::from_secs(value),
            "--in-flight" => config.in_flight = value as usize,
            "--blocking" => config.blocking_callers = value as usize,
            "--stream-len" => config.stream_len = value.max(1) as u32,
            "--sample-secs" => config.sample_every = Duration::from_secs(value.max(1)),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    println!("soak: {config:?}");
    let report = match soak::run(config, |s| {
        println!(
            "{:8.1}s calls {:10} RSS {:7.1} MiB threads {:4} fds {:4}",
            s.at,
            s.calls,
            s.rss_kib as f64 / 1024.0,
            s.threads,
            s.fds
        );
    }) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("soak failed to run: {error}");
            std::process::exit(1);
        }
    };
    println!("{}", report.table());
    let clean = report.lost == 0
        && report.duplicated == 0
        && report.reordered == 0
        && report.unexpected_count == 0;
    std::process::exit(if clean { 0 } else { 1 });
}
