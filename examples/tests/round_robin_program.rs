//! `round_robin_client` as a process (three servers, a round-robin
//! channel with retries: every call answered), and the README's "Many
//! servers" snippet, which must be the marked part of that program.

mod common;
use common::read;

use std::process::{Command, Stdio};

#[test]
fn round_robin_client_gets_every_answer_from_the_three_servers() {
    let output = Command::new(env!("CARGO_BIN_EXE_round_robin_client"))
        .stdin(Stdio::null())
        .output()
        .expect("run round_robin_client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let greets = stdout
        .lines()
        .filter(|l| l.contains(" greets call "))
        .count();
    assert_eq!(greets, 9, "{stdout}");
    let split = stdout
        .lines()
        .find_map(|l| l.strip_prefix("split: "))
        .expect("a split line");
    assert!(
        split.contains("\"b\"") && split.contains("\"c\""),
        "{split}"
    );
}

#[test]
fn readme_round_robin_snippet_is_the_example_code() {
    let example = common::marked(
        &read("src/bin/round_robin_client.rs"),
        "// README: round-robin",
        "// end README",
    )
    .concat();
    let readme = common::readme_rust_blocks(&read("../README.md"), "## Many servers").concat();
    assert!(
        !readme.is_empty(),
        "README.md has no `## Many servers` code"
    );
    assert_eq!(readme, example);
}
