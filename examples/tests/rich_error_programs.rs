//! The `rich_error_server` and `rich_error_client` programs, run as
//! processes; and the README's "Rich errors" snippets, which must be the
//! marked parts of those programs (so the README shows code that compiles).

use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// The code between `// README: rich errors (...)` and `// README: end`.
fn marked(source: &str) -> String {
    let mut inside = false;
    let mut text = String::new();
    for line in source.lines() {
        if line.starts_with("// README: rich errors") {
            inside = true;
        } else if line.starts_with("// README: end") {
            inside = false;
        } else if inside {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// The Rust code blocks of the README's `## Rich errors` section.
fn readme_blocks(readme: &str) -> String {
    let mut section = false;
    let mut fenced = false;
    let mut text = String::new();
    for line in readme.lines() {
        if line.starts_with("## ") {
            section = line == "## Rich errors";
        } else if section && line.starts_with("```") {
            fenced = !fenced && line == "```rust";
        } else if section && fenced {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[test]
fn readme_rich_errors_snippets_are_the_example_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let examples = marked(&read("src/bin/rich_error_server.rs"))
        + &marked(&read("src/bin/rich_error_client.rs"));
    let readme = readme_blocks(&read("../README.md"));
    assert!(!readme.is_empty(), "README.md has no `## Rich errors` code");
    assert_eq!(readme, examples);
}
