//! The `interop_server` and `interop_client` programs, run as processes:
//! flags, the port line, one line per case, and the exit status.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn interop_client_passes_every_case_against_interop_server() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_interop_server"))
        .args([
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--exit_on_stdin_eof",
            "true",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start interop_server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on port ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let client = |case: &str| {
        Command::new(env!("CARGO_BIN_EXE_interop_client"))
            .args(["--server_host", "127.0.0.1", "--server_port", &port])
            .args(["--test_case", case])
            .output()
            .expect("run interop_client")
    };
    let all = client("all");
    let stdout = String::from_utf8_lossy(&all.stdout);
    assert!(all.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count(),
        18,
        "{stdout}"
    );

    let one = client("ping_pong");
    assert!(one.status.success());
    assert_eq!(
        String::from_utf8_lossy(&one.stdout).trim(),
        "PASS ping_pong"
    );

    let unknown = client("no_such_case");
    assert_eq!(unknown.status.code(), Some(2));

    drop(server.stdin.take()); // the server stops at EOF
    assert!(server.wait().unwrap().success());
}

#[test]
fn interop_client_fails_when_no_server_answers() {
    // A port nothing listens on: every case fails, and so does the exit status.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    drop(listener);
    let output = Command::new(env!("CARGO_BIN_EXE_interop_client"))
        .args(["--server_host", "127.0.0.1", "--server_port", &port])
        .args(["--test_case", "empty_unary"])
        .output()
        .expect("run interop_client");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("FAIL empty_unary: "));
}
