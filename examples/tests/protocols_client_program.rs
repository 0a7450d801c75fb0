//! `protocols_client` against `greeter_server`: the greeter stub over
//! gRPC, gRPC-Web and Connect (protobuf and JSON, HTTP/1.1 and HTTP/2);
//! and the README's client-protocol snippet is that program's code.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// The lines of `source` between `// README: client protocols` and
/// `// README: end`, without their common indentation.
fn marked(source: &str) -> String {
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|line| !line.trim().starts_with("// README: client protocols"))
        .skip(1)
        .take_while(|line| !line.trim().starts_with("// README: end"))
        .collect();
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

/// The Rust code block of the README's client-protocol section.
fn readme_block(readme: &str) -> String {
    readme
        .lines()
        .skip_while(|line| *line != "### The client in gRPC-Web and Connect")
        .skip_while(|line| *line != "```rust")
        .skip(1)
        .take_while(|line| *line != "```")
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn readme_client_protocol_snippet_is_the_example_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let example = marked(&read("src/bin/protocols_client.rs"));
    assert!(!example.is_empty());
    assert_eq!(readme_block(&read("../README.md")), example);
}

#[test]
fn protocols_client_greets_in_every_protocol() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_greeter_server"))
        .args(["--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start greeter_server");
    let mut line = String::new();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let port = line
        .split_whitespace()
        .find_map(|word| {
            word.trim_matches(|c: char| !c.is_ascii_digit())
                .parse::<u16>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let output = Command::new(env!("CARGO_BIN_EXE_protocols_client"))
        .args(["--target", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("run protocols_client");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for line in lines {
        assert!(line.ends_with(": Hello, world! (+5 streamed)"), "{line}");
    }
}
