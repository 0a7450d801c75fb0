//! The library installs no global `tracing` subscriber by itself: only
//! `diagnostics::init_from_env()` does, when `GRPC_TRACE` asks for logs.
//!
//! The check runs in a child process (this test binary, re-run with
//! `GRPC_TRACE` set), as the global subscriber is per process.

use std::process::Command;

const CHILD: &str = "RUSTGRPC_DIAGNOSTICS_CHILD";

#[test]
fn only_init_from_env_installs_the_logger() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args([
            "--exact",
            "only_init_from_env_installs_the_logger",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("GRPC_TRACE", "channel")
        .env("GRPC_VERBOSITY", "DEBUG")
        .output()
        .expect("child test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test: {stdout}"
    );
}

fn child() {
    let server = grpc_core::Server::builder().build();
    let _channel = grpc_core::insecure_channel("127.0.0.1:1").expect("channel builds");
    assert!(
        !tracing::dispatcher::has_been_set(),
        "building a channel or server must not install a global subscriber"
    );
    drop(server);
    assert!(
        grpc_core::diagnostics::init_from_env(),
        "GRPC_TRACE asks for a logger"
    );
    assert!(tracing::dispatcher::has_been_set());
    assert!(grpc_core::diagnostics::init_from_env(), "idempotent");
}
