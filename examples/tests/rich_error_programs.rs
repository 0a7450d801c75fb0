//! The `rich_error_server` and `rich_error_client` programs, run as
//! processes; and the README's "Rich errors" snippets, which must be the
//! marked parts of those programs (so the README shows code that compiles).

mod common;
use common::read;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn rich_error_client_prints_the_details_rich_error_server_sends() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_rich_error_server"))
        .args(["--port", "0", "--host", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rich_error_server");
    let mut line = String::new();
    let stdout = server.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server's first line");
    let port = line
        .split_whitespace()
        .find_map(|word| word.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));

    let output = Command::new(env!("CARGO_BIN_EXE_rich_error_client"))
        .args(["--target", &format!("127.0.0.1:{port}"), "--name", "Ann"])
        .output()
        .expect("run rich_error_client");
    let _ = server.kill();
    let _ = server.wait();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "SayHello(\"Ann\")",
            "  Hello, Ann!",
            "SayHello(\"Ann\")",
            "  RESOURCE_EXHAUSTED \"request limit exceeded\"",
            "  QuotaFailure: name: Ann: limit one greeting per person",
            "  RetryInfo: retry in 60s",
            "  Help: greeting limits <https://greeter.example.com/limits>",
            "SayHello(\"\")",
            "  INVALID_ARGUMENT \"name must not be empty\"",
            "  ErrorInfo: NAME_EMPTY in greeter.example.com",
            "  BadRequest: name: must not be empty",
            "  google.rpc.ErrorInfo",
        ],
        "{stdout}"
    );
}

#[test]
fn readme_rich_errors_snippets_are_the_example_code() {
    let marked = |path| common::marked(&read(path), "// README: rich errors", "// README: end");
    let examples = [
        marked("src/bin/rich_error_server.rs"),
        marked("src/bin/rich_error_client.rs"),
    ]
    .concat()
    .concat();
    let readme = common::readme_rust_blocks(&read("../README.md"), "## Rich errors").concat();
    assert!(!readme.is_empty(), "README.md has no `## Rich errors` code");
    assert_eq!(readme, examples);
}
