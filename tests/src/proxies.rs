//! nginx and HAProxy in front of test backends (the channel tests), from
//! Debian's packages installed by `scripts/proxies-env.sh` without root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::peers::repo_root;

/// The installed proxies.
#[derive(Debug)]
pub struct Proxies {
    nginx: PathBuf,
    haproxy: PathBuf,
    libs: PathBuf,
}

/// Runs `scripts/proxies-env.sh` once per process; panics with the
/// script's output when the proxies cannot be installed.
pub fn proxies(target: &Path) -> &'static Proxies {
    static PROXIES: OnceLock<Proxies> = OnceLock::new();
    PROXIES.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/proxies-env.sh"))
            .arg(target)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/proxies-env.sh (bash is needed)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "scripts/proxies-env.sh could not install nginx and haproxy ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let line = |prefix: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(PathBuf::from)
                .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"))
        };
        Proxies {
            nginx: line("nginx "),
            haproxy: line("haproxy "),
            libs: PathBuf::from(stdout.lines().last().unwrap_or_default()),
        }
    })
}

/// A running proxy, killed when dropped.
pub struct Proxy {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    _dir: TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How HAProxy carries the traffic.
#[derive(Clone, Copy, Debug)]
pub enum HaproxyMode {
    /// HTTP/2 on both sides, balancing each request.
    Http2,
    /// Layer 4: each client connection goes to one backend.
    Tcp,
}

impl Proxies {
    /// nginx with `grpc_pass` to an upstream of `backends` (ports).
    pub fn nginx(&self, backends: &[u16]) -> Proxy {
        let port = free_port();
        let dir = TempDir::new("nginx", port);
        let servers: String = backends
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p};\n"))
            .collect();
        let d = dir.0.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             upstream backends {{\n{servers}  }}\n  \
             server {{\n    listen 127.0.0.1:{port} http2;\n    \
             location / {{ grpc_pass grpc://backends; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.0.join("nginx.conf"), config).expect("write nginx.conf");
        let mut command = Command::new(&self.nginx);
        command.arg("-e").arg(dir.0.join("error.log"));
        command
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.0.join("nginx.conf"));
        self.spawn(command, port, dir)
    }

    /// HAProxy balancing `backends` (ports) round robin.
    pub fn haproxy(&self, backends: &[u16], mode: HaproxyMode) -> Proxy {
        let port = free_port();
        let dir = TempDir::new("haproxy", port);
        let (mode_line, proto) = match mode {
            HaproxyMode::Http2 => ("http", " proto h2"),
            HaproxyMode::Tcp => ("tcp", ""),
        };
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  server s{i} 127.0.0.1:{p}{proto}\n"))
            .collect();
        let config = format!(
            "global\n  maxconn 512\ndefaults\n  mode {mode_line}\n  timeout connect 5s\n  \
             timeout client 60s\n  timeout server 60s\nfrontend in\n  \
             bind 127.0.0.1:{port}{proto}\n  default_backend out\nbackend out\n  \
             balance roundrobin\n{servers}"
        );
        std::fs::write(dir.0.join("haproxy.cfg"), config).expect("write haproxy.cfg");
        let mut command = Command::new(&self.haproxy);
        command.arg("-db").arg("-f").arg(dir.0.join("haproxy.cfg"));
        self.spawn(command, port, dir)
    }

    fn spawn(&self, mut command: Command, port: u16, dir: TempDir) -> Proxy {
        command
            .env("LD_LIBRARY_PATH", &self.libs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        let mut proxy = Proxy {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("{command:?} exited with {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{command:?} never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// Named after the proxy's port, unique while it runs.
    fn new(what: &str, port: u16) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("rustgrpc-{what}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
