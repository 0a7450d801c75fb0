//! Runs the built plugin, through the vendored protoc and directly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use prost_types::compiler::CodeGeneratorResponse;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rustgrpc");

fn codegen_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grpc-codegen")
}

/// A fresh, empty directory under the system temp dir.
fn unique_temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "protoc-gen-rustgrpc-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Runs protoc on the golden-test proto with our plugin and `extra` args.
fn protoc_with_plugin(out_dir: &Path, extra: &[&str]) -> Output {
    let protos = codegen_dir().join("tests/protos");
    Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .arg(format!("--plugin=protoc-gen-rustgrpc={PLUGIN}"))
        .arg(format!("--rustgrpc_out={}", out_dir.display()))
        .args(extra)
        .arg("-I")
        .arg(&protos)
        .arg(protos.join("greeter.proto"))
        .output()
        .expect("run protoc")
}

#[test]
fn protoc_output_matches_build_rs_golden() {
    let out_dir = unique_temp_dir("golden");
    let output = protoc_with_plugin(&out_dir, &[]);
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = std::fs::read(out_dir.join("helloworld.rs")).expect("plugin output file");
    let entries = std::fs::read_dir(&out_dir).expect("list output").count();
    let _ = std::fs::remove_dir_all(&out_dir);

    let golden =
        std::fs::read(codegen_dir().join("tests/golden/helloworld.rs")).expect("golden file");
    assert!(
        generated == golden,
        "plugin output differs from grpc-codegen/tests/golden/helloworld.rs:\n{}",
        String::from_utf8_lossy(&generated)
    );
    assert_eq!(entries, 1, "exactly one file per package");
}

#[test]
fn plugin_options_reach_the_generator() {
    let out_dir = unique_temp_dir("client");
    let output = protoc_with_plugin(&out_dir, &["--rustgrpc_opt=emit=client"]);
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated =
        std::fs::read_to_string(out_dir.join("helloworld.rs")).expect("plugin output file");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(generated.contains("pub struct GreeterStub"));
    assert!(!generated.contains("GreeterServicer"));
}

#[test]
fn bad_options_are_reported_through_protoc() {
    let out_dir = unique_temp_dir("bad");
    let output = protoc_with_plugin(&out_dir, &["--rustgrpc_opt=frobnicate"]);
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown parameter `frobnicate`"),
        "{stderr}"
    );
}

#[test]
fn garbage_on_stdin_yields_an_error_response() {
    let mut child = Command::new(PLUGIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&[0xff; 16])
        .expect("write request");
    let output = child.wait_with_output().expect("plugin exits");
    assert!(output.status.success());
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).expect("response");
    assert!(response.error.is_some());
    assert!(response.file.is_empty());
}

#[test]
fn version_and_help_work_outside_protoc() {
    let version = Command::new(PLUGIN).arg("--version").output().expect("run");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("protoc-gen-rustgrpc {}", env!("CARGO_PKG_VERSION"))
    );

    let help = Command::new(PLUGIN).arg("--help").output().expect("run");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--rustgrpc_out"));

    let bad = Command::new(PLUGIN).arg("--bogus").output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
}
