//! Our client against other implementations' servers: Connect for Node
//! (`@connectrpc/connect-node`, `scripts/node-connect-env.sh`) and
//! connect-python (`connectrpc` on hypercorn, `scripts/python-env.sh`),
//! in every protocol each serves, over HTTP/1.1 and HTTP/2, through the
//! same cases as against our own server (`rustgrpc_tests::client_cases`).
//! The peer servicers report the protocol they saw.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
use rustgrpc_tests::TESTING_DESCRIPTOR_SET;
use rustgrpc_tests::client_cases::run_cases;
use rustgrpc_tests::pb::TestServiceStub;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| repo_root().join("target"), Path::to_path_buf)
}

/// Runs a project script that prints a path on its last line.
fn script_path(script: &str) -> PathBuf {
    let output = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .arg(target_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run scripts/{script} (bash is needed): {error}"));
    assert!(
        output.status.success(),
        "scripts/{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().expect("a path").trim())
}

/// A peer server process; killed when dropped.
struct Peer {
    child: Child,
    http1: u16,
    http2: u16,
}

impl Peer {
    /// Starts `command`, which prints `ports HTTP1 HTTP2` once listening.
    fn start(mut command: Command) -> Peer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the peer server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the peer's ports");
        let ports: Vec<u16> = line
            .strip_prefix("ports ")
            .unwrap_or_else(|| panic!("peer printed {line:?}, not its ports"))
            .split_whitespace()
            .map(|port| port.parse().unwrap())
            .collect();
        Peer {
            child,
            http1: ports[0],
            http2: ports[1],
        }
    }

    fn port(&self, http: HttpVersion) -> u16 {
        match http {
            HttpVersion::Http1 => self.http1,
            _ => self.http2,
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_server() -> Peer {
    let dir = script_path("node-connect-env.sh");
    std::fs::copy(
        repo_root().join("tests/node/connect_server.mjs"),
        dir.join("connect_server.mjs"),
    )
    .expect("copy the server script");
    std::fs::write(dir.join("testing.fds"), TESTING_DESCRIPTOR_SET).expect("write descriptors");
    let mut command = Command::new("node");
    command
        .current_dir(&dir)
        .args(["connect_server.mjs", "testing.fds"]);
    Peer::start(command)
}

fn python_server() -> Peer {
    let python = script_path("python-env.sh");
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("tests/python/connect_server.py"))
        .env("INTEROP_PROTO_GEN", target_dir().join("py-interop-gen"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    Peer::start(command)
}

/// Runs every case with `protocol` against `peer`; the count of cases.
fn row(peer: &Peer, protocol: ClientProtocol, reported: &str) -> usize {
    let http = protocol.http();
    let channel = ChannelBuilder::new(format!("127.0.0.1:{}", peer.port(http)))
        .protocol(protocol.add_file_descriptor_set(TESTING_DESCRIPTOR_SET))
        .build()
        .unwrap();
    run_cases(&TestServiceStub::new(channel), reported, http)
}

const VERSIONS: [HttpVersion; 2] = [HttpVersion::Http1, HttpVersion::Http2];

/// Every protocol both peers serve: Connect (protobuf and JSON) and
/// gRPC-Web over HTTP/1.1 and HTTP/2, and gRPC; the count of cases.
fn every_row(peer: &Peer) -> usize {
    let mut cells = 0;
    for http in VERSIONS {
        cells += row(
            peer,
            ClientProtocol::connect().http_version(http),
            "connect",
        );
        cells += row(
            peer,
            ClientProtocol::connect_json().http_version(http),
            "connect",
        );
        cells += row(
            peer,
            ClientProtocol::grpc_web().http_version(http),
            "grpc-web",
        );
    }
    cells + row(peer, ClientProtocol::grpc(), "grpc")
}

#[test]
fn our_client_against_connect_node() {
    assert_eq!(every_row(&node_server()), 7 * 10);
}

#[test]
fn our_client_against_connect_python() {
    assert_eq!(every_row(&python_server()), 7 * 10);
}
