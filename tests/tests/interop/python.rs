//! The Python grpcio peer: the virtualenv (made by `scripts/python-env.sh`),
//! and the interop server and client of `tests/python` as subprocesses.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How long the Python client may take for all cases before it is killed.
const CLIENT_LIMIT: Duration = Duration::from_secs(180);
/// How long the Python server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The target directory (`CARGO_TARGET_TMPDIR` is `<target>/tmp`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or_else(|| repo_root().join("target"), Path::to_path_buf)
}

/// The Python environment: the virtualenv's interpreter and the stubs.
#[derive(Clone, Debug)]
pub(crate) struct PythonEnv {
    python: PathBuf,
    generated: PathBuf,
    scripts: PathBuf,
}

impl PythonEnv {
    /// Runs `scripts/python-env.sh` once per process (it is idempotent and
    /// quick when the virtualenv exists) and returns the environment.
    pub(crate) fn get() -> &'static PythonEnv {
        static ENV: OnceLock<PythonEnv> = OnceLock::new();
        ENV.get_or_init(|| {
            let target = target_dir();
            let started = Instant::now();
            let output = Command::new("bash")
                .arg(repo_root().join("scripts/python-env.sh"))
                .arg(&target)
                .stdin(Stdio::null())
                .output()
                .expect("run scripts/python-env.sh (bash is needed)");
            assert!(
                output.status.success(),
                "scripts/python-env.sh failed ({}):\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8_lossy(&output.stdout);
            let python = stdout
                .lines()
                .last()
                .expect("the script prints the python")
                .trim();
            eprintln!("python env ready in {:.1?} ({python})", started.elapsed());
            PythonEnv {
                python: PathBuf::from(python),
                generated: target.join("py-interop-gen"),
                scripts: repo_root().join("tests/python"),
            }
        })
    }

    fn command(&self, script: &str) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(self.scripts.join(script))
            .env("INTEROP_PROTO_GEN", &self.generated)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        command
    }

    /// Starts `tests/python/interop_server.py` on a free port. With
    /// `inspect_compression`, the server sees compressed requests as they
    /// came (to check `expect_compressed`) and decompresses them itself;
    /// without, grpcio decompresses as usual.
    pub(crate) fn start_server(&self, inspect_compression: bool) -> PythonServer {
        self.start_server_with(inspect_compression, &[])
    }

    /// [`start_server`](Self::start_server) with more flags (e.g. TLS).
    pub(crate) fn start_server_with(
        &self,
        inspect_compression: bool,
        extra: &[String],
    ) -> PythonServer {
        let mut child = self
            .command("interop_server.py")
            .args(["--port", "0", "--inspect_compression"])
            .arg(if inspect_compression { "true" } else { "false" })
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python interop server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(port) = line.strip_prefix("listening on port ") {
                    let _ = tx.send(port.trim().parse::<u16>());
                } else {
                    eprintln!("python server: {line}");
                }
            }
        });
        let port = match rx.recv_timeout(START_LIMIT) {
            Ok(Ok(port)) => port,
            outcome => {
                let _ = child.kill();
                panic!("the Python interop server did not start: {outcome:?}");
            }
        };
        let stdin = child.stdin.take();
        PythonServer { child, stdin, port }
    }

    /// Runs `tests/python/interop_client.py --test_case all` against
    /// `127.0.0.1:port`; returns each case's outcome by name. `extra` adds flags (e.g. TLS).
    pub(crate) fn run_client_with(
        &self,
        port: u16,
        extra: &[String],
    ) -> Vec<(String, Result<(), String>)> {
        let mut child = self
            .command("interop_client.py")
            .args(["--server_host", "127.0.0.1", "--server_port"])
            .arg(port.to_string())
            .args(["--test_case", "all"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the Python interop client");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + CLIENT_LIMIT;
        let mut results = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(name) = line.strip_prefix("PASS ") {
                        results.push((name.trim().to_owned(), Ok(())));
                    } else if let Some(rest) = line.strip_prefix("FAIL ") {
                        let (name, reason) = rest.split_once(": ").unwrap_or((rest, ""));
                        results.push((name.to_owned(), Err(reason.to_owned())));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    results.push((
                        "(client)".to_owned(),
                        Err(format!("killed after {CLIENT_LIMIT:?}")),
                    ));
                    break;
                }
            }
        }
        let status = child.wait().expect("wait for the Python client");
        let errors = errors.join().unwrap_or_default();
        if !status.success() && !errors.trim().is_empty() {
            eprintln!("python client ({status}):\n{errors}");
        }
        results
    }
}

impl PythonEnv {
    /// Runs `tests/python/<script>` with `args` to the end (killed after
    /// [`CLIENT_LIMIT`]) and returns the lines it printed.
    pub(crate) fn run_script(&self, script: &str, args: &[String]) -> Vec<String> {
        let mut child = self
            .command(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a Python script");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect();
            let _ = tx.send(lines);
        });
        let lines = match rx.recv_timeout(CLIENT_LIMIT) {
            Ok(lines) => lines,
            Err(_) => {
                let _ = child.kill();
                vec![format!("killed after {CLIENT_LIMIT:?}")]
            }
        };
        let _ = child.wait();
        lines
    }

    /// What grpcio's client says to a 5 MiB response (compressed or not)
    /// from the server at `127.0.0.1:port`: `OK` or `CODE details`.
    pub(crate) fn oversized_response(&self, port: u16, compressed: bool) -> String {
        let code = format!(
            "import grpc, interop_common as c\n\
             stub = c.test_pb2_grpc.TestServiceStub(grpc.insecure_channel('127.0.0.1:{port}'))\n\
             request = c.messages_pb2.SimpleRequest(response_size={size}, \
             response_compressed=c.messages_pb2.BoolValue(value={compressed}))\n\
             try:\n    stub.UnaryCall(request, timeout=20)\n    print('OK')\n\
             except grpc.RpcError as e:\n    print(e.code().name, repr(e.details()))\n",
            size = super::OVERSIZED,
            compressed = if compressed { "True" } else { "False" },
        );
        let output = Command::new(&self.python)
            .args(["-c", &code])
            .env("INTEROP_PROTO_GEN", &self.generated)
            .env("PYTHONPATH", &self.scripts)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if stdout.is_empty() {
            format!("no answer: {}", String::from_utf8_lossy(&output.stderr))
        } else {
            stdout
        }
    }
}

/// The Python interop server; stopped (stdin closed, then killed if need
/// be) when dropped.
pub(crate) struct PythonServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl PythonServer {
    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the server stops at EOF
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
