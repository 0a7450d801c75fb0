//! The README's exploration of an example server with `buf curl`, which
//! has none of the protos: it lists the services and calls methods through
//! server reflection, and asks the health service.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills the example server when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
}

/// `buf`, installed by the project's script (idempotent).
fn buf() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/node-env.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(target_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/node-env.sh");
    assert!(
        output.status.success(),
        "node-env.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().expect("the buf path").trim())
}

/// Starts an example server on a free loopback port; returns it and the
/// port its first line announces after `prefix`.
fn start(program: &str, args: &[&str], prefix: &str) -> (Running, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the example server");
    let stdout = child.stdout.take().expect("piped");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the server prints its port")
            .expect("utf-8");
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.split_whitespace().next().expect("a port").to_owned();
        }
    };
    // Keep reading (and dropping) output so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    (running, port)
}

fn buf_curl(buf: &Path, args: &[&str]) -> String {
    let output = Command::new(buf)
        .args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"])
        .args(args)
        .env("BUF_CACHE_DIR", target_dir().join("tmp/buf-cache"))
        .stdin(Stdio::null())
        .output()
        .expect("run buf");
    assert!(
        output.status.success(),
        "buf curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn greeter_server_can_be_explored_without_its_protos() {
    let buf = buf();
    let (_server, port) = start(
        env!("CARGO_BIN_EXE_greeter_server"),
        &["--port", "0", "--host", "127.0.0.1"],
        "Server started, listening on ",
    );
    let base = format!("http://127.0.0.1:{port}");
    let services = buf_curl(&buf, &["--list-services", &base]);
    assert_eq!(
        services.lines().collect::<Vec<_>>(),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "helloworld.Greeter",
        ]
    );
    let reply = buf_curl(
        &buf,
        &[
            "-d",
            r#"{"name": "you"}"#,
            &format!("{base}/helloworld.Greeter/SayHello"),
        ],
    );
    assert!(reply.contains(r#""message": "Hello, you!""#), "{reply}");
    for service in ["", "helloworld.Greeter"] {
        let health = buf_curl(
            &buf,
            &[
                "-d",
                &format!(r#"{{"service": "{service}"}}"#),
                &format!("{base}/grpc.health.v1.Health/Check"),
            ],
        );
        assert!(health.contains(r#""status": "SERVING""#), "{health}");
    }
}

#[test]
fn interop_and_route_guide_servers_serve_health_and_reflection() {
    let buf = buf();
    let (_interop, port) = start(
        env!("CARGO_BIN_EXE_interop_server"),
        &["--port", "0", "--host", "127.0.0.1"],
        "listening on port ",
    );
    let base = format!("http://127.0.0.1:{port}");
    let methods = buf_curl(&buf, &["--list-methods", &base]);
    assert!(
        methods
            .lines()
            .any(|m| m == "grpc.testing.TestService/UnaryCall"),
        "{methods}"
    );
    let reply = buf_curl(
        &buf,
        &[
            "-d",
            r#"{"responseSize": 3}"#,
            &format!("{base}/grpc.testing.TestService/UnaryCall"),
        ],
    );
    assert!(reply.contains(r#""body": "AAAA""#), "{reply}");

    let (_route_guide, port) = start(
        env!("CARGO_BIN_EXE_route_guide_server"),
        &["--port", "0"],
        "Server started, listening on ",
    );
    let base = format!("http://127.0.0.1:{port}");
    let feature = buf_curl(
        &buf,
        &[
            "-d",
            r#"{"latitude": 387071000, "longitude": -91365000}"#,
            &format!("{base}/routeguide.RouteGuide/GetFeature"),
        ],
    );
    assert!(
        feature.contains("1 Lighthouse Square, Port Lirio"),
        "{feature}"
    );
    let health = buf_curl(
        &buf,
        &[
            "-d",
            r#"{"service": "routeguide.RouteGuide"}"#,
            &format!("{base}/grpc.health.v1.Health/Check"),
        ],
    );
    assert!(health.contains(r#""status": "SERVING""#), "{health}");
}
