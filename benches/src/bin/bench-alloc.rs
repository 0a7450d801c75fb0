//! Heap allocations per unary call, counted by a global allocator that
//! counts (`stats_alloc`), kept in a binary of its own so that the
//! throughput runs pay nothing for it.
//!
//! ```text
//! bench-alloc server --impl NAME --size N --calls N [--warm N] --client-bin PATH
//! bench-alloc client --impl NAME --size N --calls N [--warm N] --port P
//! bench-alloc both   --impl NAME --size N --calls N [--warm N]
//! ```
//!
//! - `server`: the server runs here; the calls come from a child process
//!   (`bench client --impl tonic --calls N`), so only the server's
//!   allocations are counted (connection setup included, spread over N).
//! - `client`: the client runs here against a server on `--port`.
//! - `both`: server and client in this process, the sum of the two.
//!
//! Prints `ALLOCS allocs=A bytes=B reallocs=R calls=N` per call, where
//! allocs counts `alloc` and `realloc` calls.

use std::alloc::System;
use std::process::Command;
use std::sync::Mutex;

use rustgrpc_bench::args::Args;
use rustgrpc_bench::clients::{self, ClientImpl};
use rustgrpc_bench::servers::{self, ServerImpl};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    if let Err(error) = run() {
        eprintln!("bench-alloc: {error}");
        std::process::exit(1);
    }
}

fn server_for(imp: ClientImpl) -> ServerImpl {
    match imp {
        ClientImpl::RustgrpcBlocking => ServerImpl::RustgrpcBlocking,
        ClientImpl::RustgrpcAsync => ServerImpl::RustgrpcAsync,
        ClientImpl::Tonic => ServerImpl::Tonic,
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse(std::env::args().skip(1), &[])?;
    let side = args.positional.first().cloned().unwrap_or_default();
    let imp = ClientImpl::parse(args.get("impl").ok_or("--impl is required")?)?;
    let size: u32 = args.value("size", 10)?;
    let calls: u64 = args.value("calls", 10_000)?;
    let warm: u64 = args.value("warm", 100)?;
    let marks = Mutex::new(Vec::new());
    let mut mark = || {
        let stats = GLOBAL.stats();
        if let Ok(mut marks) = marks.lock() {
            marks.push(stats);
        }
    };
    match side.as_str() {
        "server" => {
            let client_bin = args.get("client-bin").ok_or("--client-bin is required")?;
            let server = servers::start(server_for(imp), 0).map_err(|e| e.to_string())?;
            let drive = |n: u64| -> Result<(), String> {
                let output = Command::new(client_bin)
                    .args(["client", "--impl", "tonic", "--rpc", "unary"])
                    .args(["--port", &server.port.to_string()])
                    .args(["--size", &size.to_string()])
                    .args(["--calls", &n.to_string()])
                    .output()
                    .map_err(|e| e.to_string())?;
                let text = String::from_utf8_lossy(&output.stdout);
                if !output.status.success() || !text.contains("errors=0 ") {
                    return Err(format!("driver client failed: {text}"));
                }
                Ok(())
            };
            drive(warm.max(1))?;
            mark();
            drive(calls)?;
            mark();
            // Leak the server: its shutdown is not what is measured.
            std::mem::forget(server);
        }
        "client" => {
            let port: u16 = args.required("port")?;
            clients::unary_sequence(imp, port, size, warm, calls, &mut mark)?;
        }
        "both" => {
            let server = servers::start(server_for(imp), 0).map_err(|e| e.to_string())?;
            clients::unary_sequence(imp, server.port, size, warm, calls, &mut mark)?;
            std::mem::forget(server);
        }
        other => return Err(format!("unknown side {other:?}: server, client or both")),
    }
    let marks = marks.into_inner().map_err(|e| e.to_string())?;
    let [before, after] = marks[..] else {
        return Err("measurement marks missing".into());
    };
    let n = calls.max(1) as f64;
    let allocs =
        (after.allocations - before.allocations) + (after.reallocations - before.reallocations);
    // Growth by realloc counts as allocated bytes; shrinking does not.
    let regrown = (after.bytes_reallocated - before.bytes_reallocated).max(0) as usize;
    let bytes = (after.bytes_allocated - before.bytes_allocated) + regrown;
    println!(
        "ALLOCS allocs={:.2} bytes={:.1} reallocs={:.2} calls={calls}",
        allocs as f64 / n,
        bytes as f64 / n,
        (after.reallocations - before.reallocations) as f64 / n,
    );
    std::process::exit(0);
}
