//! `protocols_client` against `greeter_server`: the greeter stub over
//! gRPC, gRPC-Web and Connect (protobuf and JSON, HTTP/1.1 and HTTP/2);
//! and the README's client-protocol snippet is that program's code.

mod common;
use common::read;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn readme_client_protocol_snippet_is_the_example_code() {
    let example = common::marked(
        &read("src/bin/protocols_client.rs"),
        "// README: client protocols",
        "// README: end",
    );
    assert!(!example.is_empty());
    let readme = common::readme_rust_blocks(
        &read("../README.md"),
        "### The client in gRPC-Web and Connect",
    );
    assert_eq!(readme, example);
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
