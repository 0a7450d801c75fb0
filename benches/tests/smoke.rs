//! CI smoke run: the whole harness in `--quick` mode (a few seconds), so it
//! cannot rot. No assertion on timings; rows whose tools are missing
//! (h2load, grpcio) are skipped by the harness with a note.

use std::process::Command;

#[test]
fn quick_run_produces_the_table() {
    let out = std::env::temp_dir().join(format!("rustgrpc-bench-smoke-{}.md", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--quick", "--out"])
        .arg(&out)
        .env("BENCH_ALLOC_BIN", env!("CARGO_BIN_EXE_bench-alloc"))
        .output()
        .expect("bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench --quick failed:\n{stderr}");
    let table = std::fs::read_to_string(&out).expect("results written");
    let _ = std::fs::remove_file(&out);
    println!("{table}");

    for scenario in [
        "client/unary-1KiB/c256",
        "stream/small-16B/c1",
        "stream/large-64KiB/c1",
        "pingpong/16B/c1",
        "memory/idle-50-conns",
        "alloc/unary-10B",
    ] {
        assert!(
            table.contains(scenario),
            "no {scenario} rows:\n{table}\n{stderr}"
        );
    }
    if Command::new("h2load").arg("--version").output().is_ok() {
        assert!(
            table.contains("server/unary-1KiB/c256"),
            "no h2load rows:\n{table}"
        );
    } else {
        println!("h2load not installed: server-side rows skipped");
    }
    // Every cell of the three Rust columns was measured: nothing failed.
    for line in table
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('/'))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(
            cells[3..6].iter().all(|cell| *cell != "–"),
            "unmeasured cell in {line:?}:\n{table}\n{stderr}"
        );
    }
}
