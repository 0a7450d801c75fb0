//! Connect for Node (`@connectrpc/connect-node` from npm, installed by
//! `scripts/node-connect-env.sh`) against our server: its Connect (protobuf and
//! JSON), gRPC-Web and gRPC transports over HTTP/1.1 and HTTP/2, with
//! client streaming and bidi on HTTP/2. The client takes the service from
//! the encoded descriptors, so no code generation is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rustgrpc_tests::{TESTING_DESCRIPTOR_SET, TestServer};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The node-env directory (with the client script and the descriptors),
/// made once per process by the project script.
fn node_env() -> &'static PathBuf {
    static ENV: OnceLock<PathBuf> = OnceLock::new();
    ENV.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map_or_else(|| repo_root().join("target"), Path::to_path_buf);
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/node-connect-env.sh"))
            .arg(&target)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/node-connect-env.sh (bash is needed)");
        assert!(
            output.status.success(),
            "scripts/node-connect-env.sh failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let dir = PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("the script prints its dir")
                .trim(),
        );
        // ES modules resolve packages next to the script, so it runs there.
        std::fs::copy(
            repo_root().join("tests/node/connect_client.mjs"),
            dir.join("connect_client.mjs"),
        )
        .expect("copy the client script");
        std::fs::write(dir.join("testing.fds"), TESTING_DESCRIPTOR_SET).expect("write descriptors");
        dir
    })
}

/// Runs the client; returns the names of the cases that passed.
fn run_client(port: u16, transport: &str, http: &str) -> Vec<String> {
    let dir = node_env();
    let output = Command::new("node")
        .current_dir(dir)
        .arg("connect_client.mjs")
        .args([port.to_string().as_str(), "testing.fds", transport, http])
        .stdin(Stdio::null())
        .output()
        .expect("run node (Node.js is needed)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "connect-node {transport} over HTTP/{http} ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .map(str::to_owned)
        .collect()
}

fn json_capable_server() -> TestServer {
    let server = TestServer::start();
    server
        .server()
        .add_file_descriptor_set(TESTING_DESCRIPTOR_SET)
        .unwrap();
    server
}

#[test]
fn connect_transport_protobuf_and_json() {
    let server = json_capable_server();
    for transport in ["connect", "connect-json"] {
        assert_eq!(
            run_client(server.port(), transport, "1.1").len(),
            4,
            "{transport} 1.1"
        );
        assert_eq!(
            run_client(server.port(), transport, "2").len(),
            6,
            "{transport} 2"
        );
    }
}

#[test]
fn grpc_web_transport() {
    let server = TestServer::start();
    assert_eq!(run_client(server.port(), "grpc-web", "1.1").len(), 4);
    assert_eq!(run_client(server.port(), "grpc-web", "2").len(), 6);
}

#[test]
fn grpc_transport() {
    let server = TestServer::start();
    assert_eq!(run_client(server.port(), "grpc", "2").len(), 6);
}
