//! Foreign peers for the ecosystem tests (health, reflection): the Python
//! virtualenv of `scripts/python-env.sh`, buf from `scripts/node-env.sh`,
//! and child processes whose output lines a test waits on.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

/// How long a peer may stay silent before the test gives up on it (a
/// safety net against hangs, not a speed expectation).
pub const PEER_LIMIT: Duration = Duration::from_secs(240);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// Runs `scripts/<script> <target>` (idempotent, flock'd installers) and
/// returns the last line it prints: the tool it installed.
fn install(script: &str, target: &Path) -> PathBuf {
    let output = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .arg(target)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run scripts/{script} (bash is needed): {error}"));
    assert!(
        output.status.success(),
        "scripts/{script} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert!(!last.is_empty(), "scripts/{script} printed nothing");
    PathBuf::from(last)
}

/// The virtualenv's python (grpcio, grpcio-health-checking,
/// grpcio-reflection, ...), installed once per process under `target`.
pub fn python(target: &Path) -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| install("python-env.sh", target))
}

/// The `buf` CLI (npm `@bufbuild/buf`), installed once per process under
/// `target`.
pub fn buf(target: &Path) -> &'static Path {
    static BUF: OnceLock<PathBuf> = OnceLock::new();
    BUF.get_or_init(|| install("node-env.sh", target))
}

/// A command running `tests/python/<script>` with the virtualenv's python.
pub fn python_script(target: &Path, script: &str) -> Command {
    let mut command = Command::new(python(target));
    command
        .arg(repo_root().join("tests/python").join(script))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null());
    command
}

/// A child process whose stdout is read line by line; killed when dropped.
pub struct LineChild {
    child: Child,
    lines: Mutex<mpsc::Receiver<String>>,
}

impl LineChild {
    /// Spawns `command` with stdout piped (stderr goes to the test's).
    pub fn spawn(mut command: Command) -> LineChild {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {command:?}: {error}"));
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        LineChild {
            child,
            lines: Mutex::new(rx),
        }
    }

    /// The next line; panics if none comes within [`PEER_LIMIT`] or the
    /// child closed its stdout.
    pub fn next_line(&self) -> String {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match lines.recv_timeout(PEER_LIMIT) {
            Ok(line) => line,
            Err(error) => panic!("no line from the peer ({error})"),
        }
    }

    /// Every remaining line, until the child closes stdout.
    pub fn rest(&self) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut out = Vec::new();
        while let Ok(line) = lines.recv_timeout(PEER_LIMIT) {
            out.push(line);
        }
        out
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
