//! A real browser against the greeter example server: headless Chromium
//! (Debian's `chromium`, `scripts/chromium-env.sh`) loads a page from
//! another origin (a second port) whose script (connect-web, bundled here
//! with esbuild from `scripts/node-web-env.sh`) makes unary and
//! server-streaming calls with Connect (JSON and protobuf) and gRPC-Web,
//! through CORS. The test reads the page's DOM when the calls are done.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ has a parent")
        .to_path_buf()
}

/// Runs a project script that prints a path on its last line.
fn script_path(script: &str, args: &[&Path]) -> PathBuf {
    let output = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run scripts/{script}: {error}"));
    assert!(
        output.status.success(),
        "scripts/{script} failed (the browser test needs it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().expect("a path").trim())
}

/// Bundles the page script; returns the bundle.
fn bundle(target: &Path) -> Vec<u8> {
    let dir = script_path("node-web-env.sh", &[target]);
    std::fs::copy(
        repo_root().join("examples/tests/browser/page.mjs"),
        dir.join("page.mjs"),
    )
    .expect("copy the page script");
    let status = Command::new(dir.join("node_modules/.bin/esbuild"))
        .current_dir(&dir)
        .args([
            "page.mjs",
            "--bundle",
            "--format=esm",
            "--outfile=bundle.js",
        ])
        .stdin(Stdio::null())
        .status()
        .expect("run esbuild");
    assert!(status.success(), "esbuild failed");
    std::fs::read(dir.join("bundle.js")).expect("read the bundle")
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the greeter example server on a free port; returns it and the port.
fn greeter_server() -> (Killed, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_greeter_server"))
        .args(["--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start greeter_server");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout
        .read_line(&mut line)
        .expect("read the server's first line");
    // The server logs each call: keep its stdout drained.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let port = line
        .trim()
        .rsplit(' ')
        .find_map(|word| word.trim_end_matches(['(', ')']).parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (Killed(child), port)
}

/// The page.
const INDEX: &str = "<!doctype html><html><head><title>RUNNING</title></head><body>\
<pre id=\"result\"></pre><script type=\"module\" src=\"/bundle.js\"></script></body></html>";

/// Serves the page, its bundle and the descriptors (the page's origin);
/// what the page posts to `/result` arrives on the returned receiver.
fn serve_page(bundle: Vec<u8>) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (results, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Some((path, body)) = read_request(&stream) else {
                continue;
            };
            let (kind, content): (&str, &[u8]) = match path.as_str() {
                "/bundle.js" => ("text/javascript", &bundle),
                "/helloworld.fds" => (
                    "application/octet-stream",
                    rustgrpc_examples::helloworld::DESCRIPTOR_SET,
                ),
                "/result" => {
                    let _ = results.send(String::from_utf8_lossy(&body).into_owned());
                    ("text/plain", b"")
                }
                _ => ("text/html", INDEX.as_bytes()),
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                content.len()
            );
            let _ = stream.write_all(content);
        }
    });
    (port, received)
}

/// The path (without query) and body of one HTTP/1.1 request.
fn read_request(stream: &std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split(' ').nth(1)?.split('?').next()?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, body))
}

/// Opens `url` in headless Chromium; the browser runs until dropped.
fn open_in_chromium(chromium: &Path, url: &str, profile: &Path) -> Killed {
    let child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    Killed(child)
}

#[test]
fn browser_page_calls_the_greeter_over_connect_and_grpc_web() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| repo_root().join("target"), Path::to_path_buf);
    let chromium = script_path("chromium-env.sh", &[]);
    let (page_port, results) = serve_page(bundle(&target));
    let (_server, server_port) = greeter_server();
    let profile = std::env::temp_dir().join(format!("rustgrpc-chromium-{}", std::process::id()));
    let url = format!("http://127.0.0.1:{page_port}/?server=http://127.0.0.1:{server_port}");
    let browser = open_in_chromium(&chromium, &url, &profile);
    // A guard against a page that never reports, not a timing assertion.
    let dom = results
        .recv_timeout(Duration::from_secs(120))
        .expect("the page reported no result within 120 s");
    drop(browser);
    let _ = std::fs::remove_dir_all(&profile);
    assert!(dom.starts_with("PASS\n"), "the page did not pass:\n{dom}");
    for transport in ["connect-json", "connect-proto", "grpc-web"] {
        assert!(
            dom.contains(&format!("{transport} unary: Hello, browser!")),
            "{transport} unary:\n{dom}"
        );
        let stream = dom
            .lines()
            .find(|line| line.starts_with(&format!("{transport} stream: ")))
            .unwrap_or_else(|| panic!("no {transport} stream line:\n{dom}"));
        assert_eq!(stream.matches("browser").count(), 5, "{stream}");
    }
}
