//! Python grpcio over TLS, both ways: grpcio's `secure_channel` (test CA,
//! `grpc.ssl_target_name_override`, with and without a client certificate)
//! against our server, and our client against grpcio's
//! `ssl_server_credentials(..., require_client_auth=True)`. The virtualenv
//! comes from `scripts/python-env.sh`, as for the interop suite.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use grpc_core::{ClientAuth, Code, Server};

use super::pki::{Ca, Pair};
use super::{assert_unavailable, channel, client_creds, serve, server_creds, whoami};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or_else(|| repo_root().join("target"), Path::to_path_buf)
}

/// The virtualenv's python, made once per process by the project's script.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/python-env.sh"))
            .arg(target_dir())
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/python-env.sh");
        assert!(
            output.status.success(),
            "scripts/python-env.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("the script prints the python")
                .trim(),
        )
    })
}

fn peer_command() -> Command {
    let mut command = Command::new(python());
    command
        .arg(repo_root().join("tests/python/tls_peer.py"))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// PEM files in a fresh directory under the target's tmp dir.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new() -> Files {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the PEM directory");
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write PEM");
        path.display().to_string()
    }

    fn pair(&self, name: &str, pair: &Pair) -> [String; 4] {
        [
            "--key".to_owned(),
            self.write(&format!("{name}.key"), &pair.key),
            "--cert".to_owned(),
            self.write(&format!("{name}.pem"), &pair.chain),
        ]
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the grpcio client; `Ok(reply lines)` or `Err("CODE details")`.
fn grpcio_call(port: u16, args: &[String]) -> Result<String, String> {
    let output = peer_command()
        .arg("client")
        .args(["--target", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the grpcio client");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match stdout.strip_prefix("OK\n") {
        Some(reply) => Ok(reply.to_owned()),
        None => match stdout.strip_prefix("ERR ") {
            Some(error) => Err(error.trim().to_owned()),
            None => panic!(
                "the grpcio client said nothing useful: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ),
        },
    }
}

#[test]
fn grpcio_secure_channel_against_our_server() {
    let ca = Ca::new("test ca");
    let files = Files::new();
    let ca_file = files.write("ca.pem", &ca.pem);
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["foo.test.example"]),
            Some(&ca),
            ClientAuth::Optional,
        ),
    );
    let base = [
        "--ca".to_owned(),
        ca_file,
        "--override".to_owned(),
        "foo.test.example".to_owned(),
    ];

    let anonymous = grpcio_call(port, &base).expect("grpcio over TLS without a client certificate");
    let info = super::parse(&anonymous);
    assert_eq!(info["security"], "ssl");
    assert_eq!(info["ids"], "");

    let client = ca.leaf("py-client", &["py.client.test"]);
    let mut args = base.to_vec();
    args.extend(files.pair("client", &client));
    args.extend(["--token".to_owned(), "py-token".to_owned()]);
    let info = super::parse(&grpcio_call(port, &args).expect("grpcio over mutual TLS"));
    assert_eq!(info["ids"], "py.client.test");
    assert_eq!(info["key"], "x509_subject_alternative_name");
    assert_eq!(info["authorization"], "Bearer py-token");
    server.stop(None).wait();
}

#[test]
fn grpcio_without_a_certificate_is_refused_by_our_mtls_server() {
    let ca = Ca::new("test ca");
    let files = Files::new();
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["foo.test.example"]),
            Some(&ca),
            ClientAuth::Required,
        ),
    );
    let args = [
        "--ca".to_owned(),
        files.write("ca.pem", &ca.pem),
        "--override".to_owned(),
        "foo.test.example".to_owned(),
    ];
    let error = grpcio_call(port, &args).expect_err("no client certificate");
    assert!(error.starts_with("UNAVAILABLE"), "{error}");
    server.stop(None).wait();
}

/// grpcio's TLS server with `require_client_auth=True`; stopped on drop.
struct GrpcioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl GrpcioServer {
    fn start(files: &Files, ca: &Ca, pair: &Pair) -> GrpcioServer {
        let mut child = peer_command()
            .arg("server")
            .args(files.pair("server", pair))
            .args(["--ca", &files.write("ca.pem", &ca.pem), "--require"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the grpcio server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .trim()
            .strip_prefix("listening on port ")
            .and_then(|port| port.parse().ok())
        else {
            let _ = child.kill();
            panic!("the grpcio server did not start: {line:?}");
        };
        let stdin = child.stdin.take();
        GrpcioServer { child, stdin, port }
    }
}

impl Drop for GrpcioServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..250 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn our_client_against_grpcio_requiring_client_certificates() {
    let ca = Ca::new("test ca");
    let files = Files::new();
    let grpcio = GrpcioServer::start(&files, &ca, &ca.leaf("server", &["foo.test.example"]));
    let target = format!("127.0.0.1:{}", grpcio.port);
    let client = ca.leaf("rust-client", &["rust.client.test"]);
    let with_cert = grpc_core::ChannelBuilder::new(&target)
        .secure(&client_creds(&ca, Some(&client)))
        .ssl_target_name_override("foo.test.example")
        .build()
        .unwrap();
    let info = whoami(&with_cert).expect("our client over mutual TLS to grpcio");
    assert_eq!(info["security"], "ssl");
    assert_eq!(info["ids"], "rust.client.test");
    assert_eq!(info["key"], "x509_subject_alternative_name");

    let without = grpc_core::ChannelBuilder::new(&target)
        .secure(&client_creds(&ca, None))
        .ssl_target_name_override("foo.test.example")
        .build()
        .unwrap();
    assert_unavailable(
        whoami(&without),
        &["TLS handshake failed", "client certificate"],
    );

    // The name is checked against grpcio's certificate too.
    let mismatch = channel(&target, &client_creds(&ca, Some(&client)));
    let error = whoami(&mismatch).expect_err("wrong name");
    assert_eq!(error.code(), Code::Unavailable);
    assert!(
        error.details().contains("name mismatch"),
        "{}",
        error.details()
    );
}

/// connect-python's server (hypercorn) over TLS, ALPN h2 and http/1.1:
/// our Connect and gRPC-Web calls over HTTP/1.1 and HTTP/2 reach it.
#[test]
fn our_http1_and_http2_calls_against_connect_python_over_tls() {
    use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
    use rustgrpc_tests::TestServiceStub;
    let ca = Ca::new("test ca");
    let files = Files::new();
    let pair = ca.leaf("server", &["localhost"]);
    let mut child = Command::new(python())
        .arg(repo_root().join("tests/python/connect_server.py"))
        .arg("--tls")
        .arg(files.write("server.pem", &pair.chain))
        .arg(files.write("server.key", &pair.key))
        .env("INTEROP_PROTO_GEN", target_dir().join("py-interop-gen"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start connect_server.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's ports line");
    let port: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let credentials = client_creds(&ca, None);
    let protocols = [ClientProtocol::connect(), ClientProtocol::grpc_web()];
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        for protocol in protocols.clone() {
            let channel = ChannelBuilder::new(format!("localhost:{port}"))
                .secure(&credentials)
                .protocol(protocol.http_version(http))
                .build()
                .unwrap();
            let reply = TestServiceStub::new(channel)
                .unary_call()
                .with_options(grpc_core::CallOptions::new().timeout(Duration::from_secs(20)))
                .call(rustgrpc_tests::echo("over tls"))
                .unwrap_or_else(|error| panic!("{http:?}: {error:?}"));
            assert_eq!(reply.message, "over tls", "{http:?}");
        }
    }
    drop(child.stdin.take());
    let _ = child.wait();
}
