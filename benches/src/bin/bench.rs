//! The benchmark: one command that runs every scenario against rustgrpc,
//! tonic and (unary server rows) grpcio and prints the table.
//!
//! ```text
//! bench [--quick] [--scenario SUBSTR[,SUBSTR..]] [--duration SECS] [--warmup SECS]
//!       [--repeat N] [--idle-wait SECS] [--out FILE]
//! ```
//!
//! Before each measured cell it waits (up to `--idle-wait`, default 300 s,
//! 0 in `--quick`) for the machine to be idle, since any load between
//! cells belongs to someone else.
//!
//! It is also its own child processes: `bench server --impl NAME` (prints
//! `PORT n`, serves until stdin closes), `bench client ...` (prints a
//! `RESULT` line) and `bench idle --port P --conns N` (holds idle HTTP/2
//! connections until stdin closes); `bench frame --size N --out FILE`
//! writes the pre-encoded unary request h2load sends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustgrpc_bench::args::Args;
use rustgrpc_bench::clients::{self, ClientImpl, LoadSpec, Rpc};
use rustgrpc_bench::servers::{self, ServerImpl};
use rustgrpc_bench::table::{self, Column, Row};
use rustgrpc_bench::{h2load, percentile, proc};

fn main() {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some("server") => serve(argv.split_off(1)),
        Some("client") => client(argv.split_off(1)),
        Some("idle") => idle(argv.split_off(1)),
        Some("frame") => frame(argv.split_off(1)),
        _ => orchestrate(argv),
    };
    if let Err(error) = result {
        eprintln!("bench: {error}");
        std::process::exit(1);
    }
}

/// Blocks until stdin reaches EOF (the parent closed it or died).
fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn serve(argv: Vec<String>) -> Result<(), String> {
    let args = Args::parse(argv, &[])?;
    let imp = ServerImpl::parse(args.get("impl").ok_or("--impl is required")?)?;
    let server = servers::start(imp, args.value("port", 0)?).map_err(|e| e.to_string())?;
    println!("PORT {}", server.port);
    let _ = std::io::stdout().flush();
    wait_for_stdin_eof();
    // Skip the orderly shutdown: the measurements are over.
    std::process::exit(0);
}

fn client(argv: Vec<String>) -> Result<(), String> {
    let args = Args::parse(argv, &["announce"])?;
    let calls: u64 = args.value("calls", 0)?;
    let spec = LoadSpec {
        imp: ClientImpl::parse(args.get("impl").ok_or("--impl is required")?)?,
        port: args.required("port")?,
        rpc: Rpc::parse(args.get("rpc").unwrap_or("unary"))?,
        size: args.value("size", 10)?,
        count: args.value("count", 1000)?,
        concurrency: args.value("concurrency", 1)?,
        conns: args.value("conns", 1)?,
        warmup: Duration::from_secs_f64(args.value("warmup", 1.0)?),
        duration: Duration::from_secs_f64(args.value("duration", 5.0)?),
        calls: (calls > 0).then_some(calls),
        announce: args.flag("announce"),
    };
    let result = clients::run_load(&spec)?;
    println!("{}", result.to_line());
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// Writes the h2load request body for a unary call of `--size` bytes.
fn frame(argv: Vec<String>) -> Result<(), String> {
    let args = Args::parse(argv, &[])?;
    let size: usize = args.value("size", 10)?;
    let out: String = args.required("out")?;
    let message = prost::Message::encode_to_vec(&rustgrpc_bench::pb::rg::Payload {
        body: vec![0; size],
    });
    std::fs::write(&out, h2load::grpc_frame(&message)).map_err(|e| format!("{out}: {e}"))
}

fn idle(argv: Vec<String>) -> Result<(), String> {
    let args = Args::parse(argv, &[])?;
    let port: u16 = args.required("port")?;
    let conns: usize = args.value("conns", 1000)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut held = Vec::with_capacity(conns);
        for _ in 0..conns {
            let socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (send, mut connection) = h2::client::handshake(socket)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let mut ping = connection.ping_pong().ok_or("no ping handle")?;
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            // The answer to a PING proves the server has taken the connection
            // in (preface, SETTINGS) and holds its state.
            ping.ping(h2::Ping::opaque())
                .await
                .map_err(|e| format!("ping: {e}"))?;
            held.push((send, ping, driver));
        }
        println!("READY {}", held.len());
        let _ = std::io::stdout().flush();
        tokio::task::spawn_blocking(wait_for_stdin_eof)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    })?;
    std::process::exit(0);
}

// ---------------------------------------------------------------------------
// The orchestrator.

const SIZES: [(u32, &str); 3] = [(10, "10B"), (1024, "1KiB"), (100 * 1024, "100KiB")];

/// (label, connections, calls in flight per connection)
const CONCURRENCY: [(&str, usize, usize); 2] = [("c1", 1, 1), ("c256", 8, 32)];

struct Python {
    interpreter: PathBuf,
    version: String,
}

struct Bench {
    exe: PathBuf,
    alloc_exe: Option<PathBuf>,
    python: Option<Python>,
    h2load: bool,
    pin: bool,
    quick: bool,
    warmup: Duration,
    duration: Duration,
    repeat: usize,
    idle_wait: Duration,
    busy_cells: std::cell::Cell<usize>,
    disturbed: std::cell::Cell<usize>,
    filters: Vec<String>,
    tmp: PathBuf,
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// A server child process; killed on drop.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
enum ServerKind {
    Rust(ServerImpl),
    Grpcio,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Rust(imp) => imp.name(),
            ServerKind::Grpcio => "grpcio",
        }
    }
}

fn column_server(column: Column) -> ServerKind {
    match column {
        Column::Blocking => ServerKind::Rust(ServerImpl::RustgrpcBlocking),
        Column::Async => ServerKind::Rust(ServerImpl::RustgrpcAsync),
        Column::Tonic => ServerKind::Rust(ServerImpl::Tonic),
        Column::Grpcio => ServerKind::Grpcio,
        Column::H2Bare => ServerKind::Rust(ServerImpl::H2Bare),
    }
}

fn column_client(column: Column) -> Option<ClientImpl> {
    match column {
        Column::Blocking => Some(ClientImpl::RustgrpcBlocking),
        Column::Async => Some(ClientImpl::RustgrpcAsync),
        Column::Tonic => Some(ClientImpl::Tonic),
        Column::Grpcio | Column::H2Bare => None,
    }
}

const RUST_COLUMNS: [Column; 3] = [Column::Blocking, Column::Async, Column::Tonic];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_dir() -> PathBuf {
    let manifest = manifest_dir();
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

fn orchestrate(argv: Vec<String>) -> Result<(), String> {
    let args = Args::parse(argv, &["quick", "help"])?;
    if args.flag("help") {
        println!(
            "usage: bench [--quick] [--scenario SUBSTR[,SUBSTR..]] [--duration SECS] [--warmup SECS] [--repeat N] [--idle-wait SECS] [--out FILE]"
        );
        return Ok(());
    }
    let quick = args.flag("quick");
    let (default_duration, default_warmup) = if quick { (0.2, 0.05) } else { (5.0, 1.0) };
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let alloc_exe = std::env::var_os("BENCH_ALLOC_BIN")
        .map(PathBuf::from)
        .or_else(|| exe.parent().map(|dir| dir.join("bench-alloc")))
        .filter(|path| path.exists());
    let out = args
        .get("out")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/bench-results.md"));
    let tmp = std::env::temp_dir().join(format!("rustgrpc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;

    let mut bench = Bench {
        exe,
        alloc_exe,
        python: None,
        h2load: h2load::available(),
        pin: taskset_works(),
        quick,
        warmup: Duration::from_secs_f64(args.value("warmup", default_warmup)?),
        duration: Duration::from_secs_f64(args.value("duration", default_duration)?),
        repeat: args.value("repeat", 1usize)?.max(1),
        idle_wait: Duration::from_secs_f64(
            args.value("idle-wait", if quick { 0.0 } else { 300.0 })?,
        ),
        busy_cells: std::cell::Cell::new(0),
        disturbed: std::cell::Cell::new(0),
        filters: args
            .get("scenario")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        tmp,
        rows: Vec::new(),
        notes: Vec::new(),
    };
    bench.python = match find_python() {
        Ok(python) => Some(python),
        Err(why) => {
            bench.note(format!("grpcio row skipped: {why}"));
            None
        }
    };
    if !bench.h2load {
        bench.note(
            "h2load not found: server-side rows skipped (scripts/bench.sh installs nghttp2-client)"
                .to_string(),
        );
    }
    if !bench.pin {
        bench.note(
            "taskset unavailable or fewer than 2 cores: processes are not pinned".to_string(),
        );
    }
    if bench.alloc_exe.is_none() {
        bench.note(
            "bench-alloc not built next to bench: allocation rows skipped \
             (cargo build --release -p rustgrpc-bench --bins, as scripts/bench.sh does)"
                .to_string(),
        );
    }

    let load_before = loadavg();
    let started = Instant::now();
    bench.server_unary();
    bench.client_unary();
    bench.streaming();
    bench.idle_memory();
    bench.allocations();
    let elapsed = started.elapsed();
    let load_after = loadavg();
    if bench.disturbed.get() > 0 {
        let disturbed = bench.disturbed.get();
        bench.note(format!(
            "{disturbed} cell run(s) were repeated because other processes ran during them"
        ));
    }
    if bench.busy_cells.get() > 0 {
        let busy = bench.busy_cells.get();
        bench.note(format!(
            "{busy} cell run(s) started while other processes kept the machine busy"
        ));
    }

    let mut report = String::new();
    report.push_str(&header(&bench, &load_before, &load_after, elapsed));
    report.push_str(&table::markdown(&bench.rows));
    if !bench.notes.is_empty() {
        report.push_str("\nNotes:\n");
        for note in &bench.notes {
            report.push_str(&format!("- {note}\n"));
        }
    }
    println!("\n{report}");
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("written to {}", out.display());
    let _ = std::fs::remove_dir_all(&bench.tmp);
    Ok(())
}

fn taskset_works() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .args(["-c", "1", "true"])
            .status()
            .is_ok_and(|status| status.success())
}

fn find_python() -> Result<Python, String> {
    let interpreter = std::env::var_os("BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let output = Command::new(&interpreter)
        .args(["-c", "import grpc, grpc_tools; print(grpc.__version__)"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", interpreter.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} cannot import grpc and grpc_tools (scripts/bench.sh makes a venv with them)",
            interpreter.display()
        ));
    }
    Ok(Python {
        interpreter,
        version: String::from_utf8_lossy(&output.stdout).trim().to_string(),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn header(bench: &Bench, before: &str, after: &str, elapsed: Duration) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut text = String::new();
    text.push_str("## rustgrpc vs tonic\n\n");
    text.push_str(&format!(
        "- machine: {cores} cores ({cpu}), kernel {}, load average before {before}, after {after}\n",
        kernel.trim()
    ));
    text.push_str(&format!(
        "- mode: {}; warm-up {:.2}s, measured {:.2}s per cell, median of {} run(s) per cell; whole run {:.0}s; processes pinned: {}\n",
        if bench.quick { "quick (smoke)" } else { "full" },
        bench.warmup.as_secs_f64(),
        bench.duration.as_secs_f64(),
        bench.repeat,
        elapsed.as_secs_f64(),
        if bench.pin { "server on core 0, load on core 1 (taskset)" } else { "no" },
    ));
    if let Some(python) = &bench.python {
        text.push_str(&format!(
            "- grpcio {} (sync server, default thread pool)\n",
            python.version
        ));
    }
    text.push_str(
        "- ratios are column ÷ column of the same row; ↑ higher is better, ↓ lower is better\n\n",
    );
    text
}

impl Bench {
    fn note(&mut self, note: String) {
        eprintln!("note: {note}");
        self.notes.push(note);
    }

    /// Runs `cell` `--repeat` times and keeps the run with the median `key`.
    fn median<T>(
        &self,
        mut cell: impl FnMut() -> Result<T, String>,
        key: impl Fn(&T) -> f64,
    ) -> Result<T, String> {
        let mut runs = Vec::with_capacity(self.repeat);
        let mut retries = 0;
        while runs.len() < self.repeat {
            self.wait_for_idle();
            let wall = Instant::now();
            let before = (
                proc::system_process_jiffies(),
                proc::own_and_children_jiffies(),
            );
            let run = cell()?;
            let after = (
                proc::system_process_jiffies(),
                proc::own_and_children_jiffies(),
            );
            // CPU that other processes took while the cell ran: all
            // processes' time less ours (children are reaped by now).
            if let ((Some(s0), Some(o0)), (Some(s1), Some(o1))) = (before, after) {
                let foreign = (s1 - s0).saturating_sub(o1 - o0) as f64
                    / proc::ticks_per_second() as f64
                    / wall.elapsed().as_secs_f64();
                if foreign > 0.15 && retries < 3 && !self.idle_wait.is_zero() {
                    eprintln!(
                        "other processes took {:.0}% of a core during the run; repeating it",
                        foreign * 100.0
                    );
                    retries += 1;
                    self.disturbed.set(self.disturbed.get() + 1);
                    continue;
                }
            }
            runs.push(run);
        }
        runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
        let middle = runs.len() / 2;
        runs.into_iter()
            .nth(middle)
            .ok_or_else(|| "no run".to_string())
    }

    /// Waits (up to `--idle-wait` seconds) until other processes leave the
    /// machine idle: between cells none of ours runs, so any load is
    /// someone else's and would skew the next cell.
    fn wait_for_idle(&self) {
        if self.idle_wait.is_zero() {
            return;
        }
        let started = Instant::now();
        let mut said = false;
        loop {
            let busy = proc::system_busy(Duration::from_millis(500)).unwrap_or(0.0);
            if busy < 0.10 {
                return;
            }
            if started.elapsed() > self.idle_wait {
                eprintln!("machine still {:.0}% busy; measuring anyway", busy * 100.0);
                self.busy_cells.set(self.busy_cells.get() + 1);
                return;
            }
            if !said {
                eprintln!(
                    "waiting for the machine to go idle ({:.0}% busy)",
                    busy * 100.0
                );
                said = true;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    fn wanted(&self, scenario: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| scenario.contains(f.as_str()))
    }

    fn pinned(&self, core: u32, program: &Path) -> Command {
        if self.pin {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn spawn_server(&self, kind: ServerKind) -> Result<ServerProcess, String> {
        let mut command = match kind {
            ServerKind::Rust(imp) => {
                let mut command = self.pinned(0, &self.exe);
                command.args(["server", "--impl", imp.name()]);
                command
            }
            ServerKind::Grpcio => {
                let python = self.python.as_ref().ok_or("no python")?;
                let mut command = self.pinned(0, &python.interpreter);
                command
                    .arg(manifest_dir().join("python/server.py"))
                    .arg("--proto-dir")
                    .arg(workspace_dir().join("proto"));
                command
            }
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", kind.name()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let line = read_line_timeout(stdout, Duration::from_secs(60));
        let mut process = ServerProcess { child, port: 0 };
        let line = line.ok_or_else(|| format!("{} server did not start", kind.name()))?;
        process.port = line
            .strip_prefix("PORT ")
            .and_then(|port| port.trim().parse().ok())
            .ok_or_else(|| format!("{} server said {line:?}", kind.name()))?;
        Ok(process)
    }

    /// Runs a client child process; with `server_pid`, also reports the
    /// server's CPU seconds inside the measured window as `server_cpu`.
    fn run_client_sampling(
        &self,
        spec: &LoadSpec,
        server_pid: Option<u32>,
    ) -> Result<HashMap<String, f64>, String> {
        let mut command = self.pinned(1, &self.exe);
        command.args([
            "client",
            "--impl",
            spec.imp.name(),
            "--rpc",
            spec.rpc.name(),
        ]);
        for (flag, value) in [
            ("--port", spec.port.to_string()),
            ("--size", spec.size.to_string()),
            ("--count", spec.count.to_string()),
            ("--concurrency", spec.concurrency.to_string()),
            ("--conns", spec.conns.to_string()),
            ("--warmup", spec.warmup.as_secs_f64().to_string()),
            ("--duration", spec.duration.as_secs_f64().to_string()),
            ("--calls", spec.calls.unwrap_or(0).to_string()),
        ] {
            command.arg(flag).arg(value);
        }
        if spec.announce {
            command.arg("--announce");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn client: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut text = String::new();
        let (mut cpu0, mut cpu1) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            match line.as_str() {
                "PHASE measure" => cpu0 = server_pid.and_then(proc::cpu_seconds),
                "PHASE stop" => cpu1 = server_pid.and_then(proc::cpu_seconds),
                _ => {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        }
        let _ = child.wait();
        let line = text
            .lines()
            .find(|line| line.starts_with("RESULT "))
            .ok_or_else(|| format!("client {} failed: {text}", spec.imp.name()))?;
        let mut result = parse_pairs(line);
        if let (Some(cpu0), Some(cpu1)) = (cpu0, cpu1) {
            result.insert("server_cpu".to_string(), cpu1 - cpu0);
        }
        Ok(result)
    }

    fn run_client(&self, spec: &LoadSpec) -> Result<HashMap<String, f64>, String> {
        self.run_client_sampling(spec, None)
    }

    // -- server side, h2load ------------------------------------------------

    fn server_unary(&mut self) {
        let sizes: &[(u32, &str)] = if self.quick { &SIZES[1..2] } else { &SIZES };
        let concurrency: &[(&str, usize, usize)] = if self.quick {
            &CONCURRENCY[1..]
        } else {
            &CONCURRENCY
        };
        for &(size, size_label) in sizes {
            for &(conc_label, conns, streams) in concurrency {
                let scenario = format!("server/unary-{size_label}/{conc_label}");
                if !self.wanted(&scenario) {
                    continue;
                }
                if !self.h2load {
                    continue;
                }
                let body = self.tmp.join(format!("unary-{size}.bin"));
                let message = prost::Message::encode_to_vec(&rustgrpc_bench::pb::rg::Payload {
                    body: vec![0; size as usize],
                });
                if let Err(e) = std::fs::write(&body, h2load::grpc_frame(&message)) {
                    self.note(format!("{scenario}: {e}"));
                    continue;
                }
                let mut rows = [
                    Row::new(&scenario, "req/s ↑", 0),
                    Row::new(&scenario, "MB/s (responses) ↑", 1),
                    Row::new(&scenario, "p50 µs ↓", 0),
                    Row::new(&scenario, "p99 µs ↓", 0),
                    Row::new(&scenario, "p99.9 µs ↓", 0),
                    Row::new(&scenario, "server CPU µs/req ↓", 1),
                    Row::new(&scenario, "server peak RSS MiB ↓", 1),
                ];
                let mut columns = vec![Column::Blocking, Column::Async, Column::Tonic];
                if self.python.is_some() {
                    columns.push(Column::Grpcio);
                }
                columns.push(Column::H2Bare);
                for column in columns {
                    let kind = column_server(column);
                    let cell = self.median(
                        || self.h2load_cell(kind, &body, message.len(), conns, streams),
                        |cell| cell.rate,
                    );
                    match cell {
                        Ok(cell) => {
                            eprintln!(
                                "{scenario} {}: {:.0} req/s, p99 {} µs",
                                kind.name(),
                                cell.rate,
                                cell.p99
                            );
                            rows[0].set(column, cell.rate);
                            rows[1].set(column, cell.rate * size as f64 / 1e6);
                            rows[2].set(column, cell.p50 as f64);
                            rows[3].set(column, cell.p99 as f64);
                            rows[4].set(column, cell.p999 as f64);
                            rows[5].set(column, cell.cpu_us);
                            rows[6].set(column, cell.hwm_mib);
                        }
                        Err(e) => self.note(format!("{scenario} {}: {e}", kind.name())),
                    }
                }
                self.rows.extend(rows);
            }
        }
    }

    fn h2load_cell(
        &self,
        kind: ServerKind,
        body: &Path,
        message_len: usize,
        conns: usize,
        streams: usize,
    ) -> Result<Cell, String> {
        let server = self.spawn_server(kind)?;
        let pin: Vec<String> = if self.pin {
            vec!["taskset".into(), "-c".into(), "1".into()]
        } else {
            Vec::new()
        };
        let load = h2load::H2load {
            pin: &pin,
            port: server.port,
            path: rustgrpc_bench::pb::UNARY_PATH,
            body_file: body,
            conns,
            streams,
        };
        if !self.warmup.is_zero() {
            h2load::run(&load, self.warmup, None)?;
        }
        let log = self.tmp.join("h2load.log");
        let _ = std::fs::remove_file(&log);
        let cpu0 = proc::cpu_seconds(server.pid()).ok_or("no /proc stat")?;
        let result = h2load::run(&load, self.duration, Some(&log))?;
        let cpu1 = proc::cpu_seconds(server.pid()).ok_or("no /proc stat")?;
        let hwm = proc::peak_rss_kib(server.pid()).unwrap_or(0);
        drop(server);
        if result.succeeded == 0 {
            return Err("no request succeeded".into());
        }
        if result.failed > 0 {
            return Err(format!("{} requests failed", result.failed));
        }
        // Every answer must carry the echoed message: a gRPC error answers
        // 200 with no DATA, which h2load would count as a success.
        let expected = (message_len + 5) as u64;
        if result.data_bytes < expected * result.succeeded * 9 / 10 {
            return Err(format!(
                "responses carry {} bytes of DATA for {} requests; expected ~{} each",
                result.data_bytes, result.succeeded, expected
            ));
        }
        let rate = result.succeeded as f64 / result.secs;
        Ok(Cell {
            rate,
            p50: percentile(&result.latencies_us, 0.5),
            p99: percentile(&result.latencies_us, 0.99),
            p999: percentile(&result.latencies_us, 0.999),
            cpu_us: (cpu1 - cpu0) * 1e6 / result.succeeded as f64,
            hwm_mib: hwm as f64 / 1024.0,
        })
    }

    // -- client side ---------------------------------------------------------

    fn client_unary(&mut self) {
        let sizes: &[(u32, &str)] = if self.quick { &SIZES[1..2] } else { &SIZES };
        let concurrency: &[(&str, usize, usize)] = if self.quick {
            &CONCURRENCY[1..]
        } else {
            &CONCURRENCY
        };
        for &(size, size_label) in sizes {
            for &(conc_label, conns, streams) in concurrency {
                let scenario = format!("client/unary-{size_label}/{conc_label}");
                if !self.wanted(&scenario) {
                    continue;
                }
                let mut rows = [
                    Row::new(&scenario, "req/s ↑", 0),
                    Row::new(&scenario, "p50 µs ↓", 0),
                    Row::new(&scenario, "p99 µs ↓", 0),
                    Row::new(&scenario, "p99.9 µs ↓", 0),
                    Row::new(&scenario, "client CPU µs/req ↓", 1),
                    Row::new(&scenario, "client peak RSS MiB ↓", 1),
                    Row::new(&scenario, "bare-h2 server core busy %", 0),
                ];
                for column in RUST_COLUMNS {
                    let Some(imp) = column_client(column) else {
                        continue;
                    };
                    let result = self.median(
                        || {
                            let server = self.spawn_server(ServerKind::Rust(ServerImpl::H2Bare))?;
                            let spec = LoadSpec {
                                imp,
                                port: server.port,
                                rpc: Rpc::Unary,
                                size,
                                count: 0,
                                concurrency: conns * streams,
                                conns,
                                warmup: self.warmup,
                                duration: self.duration,
                                calls: None,
                                announce: true,
                            };
                            self.run_client_sampling(&spec, Some(server.pid()))
                                .and_then(check_errors)
                        },
                        |r| r["ops"] / r["secs"],
                    );
                    match result {
                        Ok(r) => {
                            let ops = r["ops"].max(1.0);
                            let rate = r["ops"] / r["secs"];
                            eprintln!("{scenario} {}: {rate:.0} req/s", imp.name());
                            rows[0].set(column, rate);
                            rows[1].set(column, r["p50_ns"] / 1e3);
                            rows[2].set(column, r["p99_ns"] / 1e3);
                            rows[3].set(column, r["p999_ns"] / 1e3);
                            rows[4].set(column, r["cpu"] * 1e6 / ops);
                            rows[5].set(column, r["hwm_kib"] / 1024.0);
                            if let Some(server_cpu) = r.get("server_cpu") {
                                rows[6].set(column, server_cpu * 100.0 / r["secs"]);
                            }
                        }
                        Err(e) => self.note(format!("{scenario} {}: {e}", imp.name())),
                    }
                }
                self.rows.extend(rows);
            }
        }
    }

    // -- streaming: each framework's client against its own server ------------

    fn streaming(&mut self) {
        let (small_count, large_count) = if self.quick {
            (1000, 20)
        } else {
            (10_000, 200)
        };
        let mut scenarios: Vec<(String, Rpc, u32, u32, usize)> = vec![
            (
                "stream/small-16B/c1".into(),
                Rpc::ServerStream,
                16,
                small_count,
                1,
            ),
            (
                "stream/large-64KiB/c1".into(),
                Rpc::ServerStream,
                64 * 1024,
                large_count,
                1,
            ),
            ("pingpong/16B/c1".into(), Rpc::PingPong, 16, 0, 1),
        ];
        if !self.quick {
            scenarios.insert(
                1,
                (
                    "stream/small-16B/c8".into(),
                    Rpc::ServerStream,
                    16,
                    small_count,
                    8,
                ),
            );
            scenarios.push(("pingpong/16B/c8".into(), Rpc::PingPong, 16, 0, 8));
        }
        for (scenario, rpc, size, count, concurrency) in scenarios {
            if !self.wanted(&scenario) {
                continue;
            }
            let unit = if rpc == Rpc::PingPong {
                "round trips/s ↑"
            } else {
                "msgs/s ↑"
            };
            let mut rows = vec![
                Row::new(&scenario, unit, 0),
                Row::new(&scenario, "MB/s ↑", 1),
                Row::new(&scenario, "server CPU µs/msg ↓", 2),
                Row::new(&scenario, "client CPU µs/msg ↓", 2),
                Row::new(&scenario, "server peak RSS MiB ↓", 1),
            ];
            if rpc == Rpc::PingPong {
                rows.push(Row::new(&scenario, "p50 µs ↓", 0));
                rows.push(Row::new(&scenario, "p99 µs ↓", 0));
            }
            for column in RUST_COLUMNS {
                let Some(imp) = column_client(column) else {
                    continue;
                };
                let kind = column_server(column);
                let result = self.median(
                    || {
                        let server = self.spawn_server(kind)?;
                        let spec = LoadSpec {
                            imp,
                            port: server.port,
                            rpc,
                            size,
                            count,
                            concurrency,
                            conns: concurrency,
                            warmup: self.warmup,
                            duration: self.duration,
                            calls: None,
                            announce: true,
                        };
                        let result = self.run_client_sampling(&spec, Some(server.pid()))?;
                        let hwm = proc::peak_rss_kib(server.pid()).unwrap_or(0);
                        Ok((check_errors(result)?, hwm))
                    },
                    |(r, _)| r["msgs"] / r["secs"],
                );
                match result {
                    Ok((r, hwm)) => {
                        let msgs = r["msgs"].max(1.0);
                        let rate = r["msgs"] / r["secs"];
                        eprintln!("{scenario} {}: {rate:.0} msgs/s", imp.name());
                        rows[0].set(column, rate);
                        rows[1].set(column, r["bytes"] / r["secs"] / 1e6);
                        if let Some(server_cpu) = r.get("server_cpu") {
                            rows[2].set(column, server_cpu * 1e6 / msgs);
                        }
                        rows[3].set(column, r["cpu"] * 1e6 / msgs);
                        rows[4].set(column, hwm as f64 / 1024.0);
                        if rpc == Rpc::PingPong {
                            rows[5].set(column, r["p50_ns"] / 1e3);
                            rows[6].set(column, r["p99_ns"] / 1e3);
                        }
                    }
                    Err(e) => self.note(format!("{scenario} {}: {e}", imp.name())),
                }
            }
            self.rows.extend(rows);
        }
    }

    // -- memory: idle connections ---------------------------------------------

    fn idle_memory(&mut self) {
        let conns = if self.quick { 50 } else { 1000 };
        let scenario = format!("memory/idle-{conns}-conns");
        if !self.wanted(&scenario) {
            return;
        }
        let mut rows = [
            Row::new(&scenario, "server RSS before MiB ↓", 1),
            Row::new(&scenario, &format!("server RSS with {conns} idle MiB ↓"), 1),
            Row::new(&scenario, "KiB per idle connection ↓", 1),
        ];
        let mut columns = RUST_COLUMNS.to_vec();
        if self.python.is_some() {
            columns.push(Column::Grpcio);
        }
        for column in columns {
            let kind = column_server(column);
            match self.idle_cell(kind, conns) {
                Ok((before, with)) => {
                    eprintln!("{scenario} {}: {before} KiB -> {with} KiB", kind.name());
                    rows[0].set(column, before as f64 / 1024.0);
                    rows[1].set(column, with as f64 / 1024.0);
                    rows[2].set(column, (with as f64 - before as f64) / conns as f64);
                }
                Err(e) => self.note(format!("{scenario} {}: {e}", kind.name())),
            }
        }
        self.rows.extend(rows);
    }

    fn idle_cell(&self, kind: ServerKind, conns: usize) -> Result<(u64, u64), String> {
        let server = self.spawn_server(kind)?;
        // A few calls first, so that lazily built state is in the baseline.
        self.run_client(&LoadSpec {
            imp: ClientImpl::Tonic,
            port: server.port,
            rpc: Rpc::Unary,
            size: 10,
            count: 0,
            concurrency: 1,
            conns: 1,
            warmup: Duration::ZERO,
            duration: Duration::ZERO,
            calls: Some(10),
            announce: false,
        })?;
        std::thread::sleep(Duration::from_millis(200));
        let before = proc::rss_kib(server.pid()).ok_or("no VmRSS")?;
        let mut command = self.pinned(1, &self.exe);
        let mut idle = command
            .args(["idle", "--port", &server.port.to_string()])
            .args(["--conns", &conns.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = idle.stdout.take().ok_or("no stdout")?;
        let line = read_line_timeout(stdout, Duration::from_secs(120));
        let result = match line {
            Some(line) if line.starts_with("READY") => {
                std::thread::sleep(Duration::from_millis(500));
                proc::rss_kib(server.pid()).ok_or_else(|| "no VmRSS".to_string())
            }
            other => Err(format!("idle client said {other:?}")),
        };
        let _ = idle.kill();
        let _ = idle.wait();
        Ok((before, result?))
    }

    // -- allocations -----------------------------------------------------------

    fn allocations(&mut self) {
        let Some(alloc_exe) = self.alloc_exe.clone() else {
            return;
        };
        let (warm, calls) = if self.quick { (20, 200) } else { (500, 20_000) };
        let sizes: &[(u32, &str)] = if self.quick { &SIZES[..1] } else { &SIZES[..2] };
        for &(size, label) in sizes {
            let scenario = format!("alloc/unary-{label}");
            if !self.wanted(&scenario) {
                continue;
            }
            let mut rows = [
                Row::new(&scenario, "server allocs/call ↓", 1),
                Row::new(&scenario, "client allocs/call ↓", 1),
                Row::new(&scenario, "client+server allocs/call ↓", 1),
                Row::new(&scenario, "client+server bytes/call ↓", 0),
            ];
            for column in RUST_COLUMNS {
                let imp = column_client(column).map_or("", ClientImpl::name);
                let common = [
                    "--impl".to_string(),
                    imp.to_string(),
                    "--size".to_string(),
                    size.to_string(),
                    "--warm".to_string(),
                    warm.to_string(),
                    "--calls".to_string(),
                    calls.to_string(),
                ];
                let server_side = run_alloc(
                    Command::new(&alloc_exe)
                        .arg("server")
                        .args(&common)
                        .arg("--client-bin")
                        .arg(&self.exe),
                );
                let client_side = self
                    .spawn_server(ServerKind::Rust(ServerImpl::H2Bare))
                    .and_then(|server| {
                        run_alloc(
                            Command::new(&alloc_exe)
                                .arg("client")
                                .args(&common)
                                .args(["--port", &server.port.to_string()]),
                        )
                    });
                let both = run_alloc(Command::new(&alloc_exe).arg("both").args(&common));
                match (server_side, client_side, both) {
                    (Ok(server), Ok(client), Ok(both)) => {
                        eprintln!(
                            "{scenario} {imp}: server {:.1}, client {:.1}, both {:.1} allocs/call",
                            server["allocs"], client["allocs"], both["allocs"]
                        );
                        rows[0].set(column, server["allocs"]);
                        rows[1].set(column, client["allocs"]);
                        rows[2].set(column, both["allocs"]);
                        rows[3].set(column, both["bytes"]);
                    }
                    (a, b, c) => {
                        for error in [a.err(), b.err(), c.err()].into_iter().flatten() {
                            self.note(format!("{scenario} {imp}: {error}"));
                        }
                    }
                }
            }
            self.rows.extend(rows);
        }
    }
}

struct Cell {
    rate: f64,
    p50: u64,
    p99: u64,
    p999: u64,
    cpu_us: f64,
    hwm_mib: f64,
}

fn run_alloc(command: &mut Command) -> Result<HashMap<String, f64>, String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("bench-alloc: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("ALLOCS "))
        .ok_or_else(|| format!("bench-alloc failed: {text}"))?;
    Ok(parse_pairs(line))
}

fn check_errors(result: HashMap<String, f64>) -> Result<HashMap<String, f64>, String> {
    let errors = result.get("errors").copied().unwrap_or(0.0);
    if errors > 0.0 {
        return Err(format!("{errors} calls failed"));
    }
    if result.get("ops").copied().unwrap_or(0.0) == 0.0
        && result.get("msgs").copied().unwrap_or(0.0) == 0.0
    {
        return Err("no call completed".to_string());
    }
    Ok(result)
}

/// `key=value` pairs of a result line.
fn parse_pairs(line: &str) -> HashMap<String, f64> {
    line.split_whitespace()
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Reads one line from `stream` within `timeout`.
fn read_line_timeout(stream: impl Read + Send + 'static, timeout: Duration) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let ok = reader.read_line(&mut line).is_ok_and(|n| n > 0);
        let _ = tx.send(ok.then_some(line));
        // Keep draining so that the child never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    rx.recv_timeout(timeout).ok().flatten()
}
