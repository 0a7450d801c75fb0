//! `round_robin_client` as a process (three servers, a round-robin
//! channel with retries: every call answered), and the README's "Many
//! servers" snippet, which must be the marked part of that program.

use std::path::Path;
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

/// The code between `// README: round-robin ...` and `// end README`, dedented.
fn marked(source: &str) -> String {
    let mut inside = false;
    let mut text = String::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("// README: round-robin") {
            inside = true;
        } else if trimmed.starts_with("// end README") {
            inside = false;
        } else if inside {
            text.push_str(line.strip_prefix("    ").unwrap_or(line));
            text.push('\n');
        }
    }
    text
}

/// The Rust code block of the README's "Many servers" section.
fn readme_block(readme: &str) -> String {
    let (mut section, mut fenced) = (false, false);
    let mut text = String::new();
    for line in readme.lines() {
        if line.starts_with("## ") {
            section = line.starts_with("## Many servers");
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
fn readme_round_robin_snippet_is_the_example_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let example = marked(&read("src/bin/round_robin_client.rs"));
    let readme = readme_block(&read("../README.md"));
    assert!(
        !readme.is_empty(),
        "README.md has no `## Many servers` code"
    );
    assert_eq!(readme, example);
}
