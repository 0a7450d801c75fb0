//! What the example-program tests share: the README snippets that must be
//! exactly the marked code of an example program.

use std::path::Path;
use std::process::{Command, Stdio};

/// A file of the examples crate (`src/bin/x.rs`, `../README.md`).
pub(crate) fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).expect(path)
}

/// Runs an example program (no arguments, no stdin) to its end; its
/// stdout lines.
#[allow(dead_code)] // the programs that need a server of their own run it themselves
pub(crate) fn run(program: &str) -> Vec<String> {
    let output = Command::new(program)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("run {program}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// The blocks of `source` between a line starting with `start` and one
/// starting with `end` (both trimmed), each without its common
/// indentation.
pub(crate) fn marked(source: &str, start: &str, end: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(start) {
            current = Some(Vec::new());
        } else if trimmed.starts_with(end) {
            if let Some(lines) = current.take() {
                blocks.push(dedent(&lines));
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    blocks
}

fn dedent(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|line| format!("{}\n", line.get(indent..).unwrap_or("")))
        .collect()
}

/// The ```` ```rust ```` blocks of the README section whose heading line
/// starts with `heading` (up to the next heading of the same or a higher
/// level).
pub(crate) fn readme_rust_blocks(readme: &str, heading: &str) -> Vec<String> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut section = false;
    let mut blocks = Vec::new();
    let mut block = String::new();
    // Inside a fenced block: whether it is a Rust block of the section.
    let mut fence: Option<bool> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            match fence.take() {
                Some(true) => blocks.push(std::mem::take(&mut block)),
                Some(false) => {}
                None => fence = Some(section && line == "```rust"),
            }
            continue;
        }
        match fence {
            Some(true) => {
                block.push_str(line);
                block.push('\n');
            }
            Some(false) => {}
            None => {
                let hashes = line.chars().take_while(|c| *c == '#').count();
                if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
                    section = line.starts_with(heading);
                }
            }
        }
    }
    blocks
}
