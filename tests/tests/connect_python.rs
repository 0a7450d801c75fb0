//! connect-python (the `connectrpc` package from PyPI, installed by
//! `scripts/python-env.sh`) against our server: its sync and async
//! clients, Connect over HTTP/1.1 and HTTP/2 and gRPC over HTTP/2, with
//! unary, client and server streaming (and bidi on HTTP/2), errors with
//! details, timeouts and gzip; protobuf and Connect's JSON codec.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rustgrpc_tests::TestServer;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The virtualenv's python, made once per process by the project script.
fn python() -> &'static (PathBuf, PathBuf) {
    static PYTHON: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map_or_else(|| repo_root().join("target"), Path::to_path_buf);
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/python-env.sh"))
            .arg(&target)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/python-env.sh (bash is needed)");
        assert!(
            output.status.success(),
            "scripts/python-env.sh failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let python = stdout.lines().last().expect("the script prints the python");
        (PathBuf::from(python.trim()), target.join("py-interop-gen"))
    })
}

/// Runs the client; returns the names of the cases that passed.
fn run_client(port: u16, http: &str, mode: &str, protocol: &str) -> Vec<String> {
    let (python, generated) = python();
    let output = Command::new(python)
        .arg(repo_root().join("tests/python/connect_client.py"))
        .args([port.to_string().as_str(), http, mode, protocol])
        .env("INTEROP_PROTO_GEN", generated)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run connect_client.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "connect-python {mode} client, HTTP/{http}, {protocol} ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn sync_client_connect_http1() {
    let server = TestServer::start();
    let passed = run_client(server.port(), "1", "sync", "connect");
    assert_eq!(passed.len(), 7, "{passed:?}");
}

#[test]
fn sync_client_connect_http2_with_bidi() {
    let server = TestServer::start();
    let passed = run_client(server.port(), "2", "sync", "connect");
    assert_eq!(passed.len(), 8, "{passed:?}");
}

#[test]
fn async_client_connect_http1() {
    let server = TestServer::start();
    let passed = run_client(server.port(), "1", "async", "connect");
    assert_eq!(passed.len(), 5, "{passed:?}");
}

#[test]
fn async_client_connect_http2_with_bidi() {
    let server = TestServer::start();
    let passed = run_client(server.port(), "2", "async", "connect");
    assert_eq!(passed.len(), 6, "{passed:?}");
}

#[test]
fn sync_client_grpc_protocol_http2() {
    let server = TestServer::start();
    let passed = run_client(server.port(), "2", "sync", "grpc");
    assert_eq!(passed.len(), 8, "{passed:?}");
}

#[test]
fn sync_and_async_clients_connect_json_codec() {
    let server = TestServer::start();
    server
        .server()
        .add_file_descriptor_set(rustgrpc_tests::TESTING_DESCRIPTOR_SET)
        .unwrap();
    for (http, mode, cases) in [("1", "sync", 7), ("2", "sync", 8), ("2", "async", 6)] {
        let passed = run_client(server.port(), http, mode, "connect-json");
        assert_eq!(passed.len(), cases, "{mode} HTTP/{http}: {passed:?}");
    }
}
