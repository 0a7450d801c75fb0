//! Runs the built plugin through the real protoc (from `protoc-bin-vendored`)
//! and directly.

#[path = "../../grpc-codegen/tests/support/hard.rs"]
mod hard;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use prost::Message;
use prost_types::compiler::CodeGeneratorResponse;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rustgrpc");

fn greeter_protos() -> PathBuf {
    hard::codegen_dir().join("tests/protos")
}

/// Runs protoc with our plugin on `protos` (found in `include`), writing to
/// `out_dir`, with `extra` arguments. The bundled well-known types are on
/// the include path.
fn protoc(out_dir: &Path, include: &Path, protos: &[PathBuf], extra: &[&str]) -> Output {
    Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .arg(format!("--plugin=protoc-gen-rustgrpc={PLUGIN}"))
        .arg(format!("--rustgrpc_out={}", out_dir.display()))
        .args(extra)
        .arg("-I")
        .arg(include)
        .arg("-I")
        .arg(protoc_bin_vendored::include_path().expect("vendored includes"))
        .args(protos)
        .output()
        .expect("run protoc")
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs protoc on the greeter proto and returns the output directory.
fn protoc_greeter(tag: &str, extra: &[&str]) -> (PathBuf, Output) {
    let out_dir = hard::unique_temp_dir(tag);
    let include = greeter_protos();
    let output = protoc(&out_dir, &include, &[include.join("greeter.proto")], extra);
    (out_dir, output)
}

#[test]
fn protoc_output_matches_build_rs_golden() {
    let (out_dir, output) = protoc_greeter("golden", &[]);
    assert_success(&output);
    let generated = hard::rust_files(&out_dir);
    let _ = std::fs::remove_dir_all(&out_dir);
    let golden = std::fs::read(greeter_protos().join("../golden/helloworld.rs")).expect("golden");
    assert_eq!(generated.len(), 1, "exactly one file per package");
    assert!(
        generated["helloworld.rs"] == golden,
        "plugin output differs from grpc-codegen/tests/golden/helloworld.rs"
    );
}

/// The acceptance test: the hard protos through protoc and the
/// plugin give byte for byte what build.rs gives, and what the golden files
/// (which the codegen-tests crate compiles and calls) hold.
#[test]
fn hard_protos_through_protoc_equal_build_rs_output() {
    let plugin_dir = hard::unique_temp_dir("plugin");
    let output = protoc(
        &plugin_dir,
        &hard::protos_dir(),
        &hard::protos(),
        &[&format!("--rustgrpc_opt={}", hard::PLUGIN_PARAMETER)],
    );
    assert_success(&output);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_plugin = hard::rust_files(&plugin_dir);
    let _ = std::fs::remove_dir_all(&plugin_dir);

    let builder_dir = hard::unique_temp_dir("builder");
    hard::builder()
        .out_dir(&builder_dir)
        .compile_protos(&hard::protos(), &[hard::protos_dir()])
        .expect("build.rs path runs");
    let from_builder = hard::rust_files(&builder_dir);
    let _ = std::fs::remove_dir_all(&builder_dir);

    hard::assert_same_files(&from_builder, &from_plugin, "plugin vs build.rs");
    hard::assert_same_files(
        &hard::rust_files(&hard::golden_dir()),
        &from_plugin,
        "plugin vs grpc-codegen/tests/golden/hard",
    );
}

#[test]
fn only_the_requested_packages_are_written() {
    let out_dir = hard::unique_temp_dir("subset");
    let include = hard::protos_dir();
    let output = protoc(&out_dir, &include, &[include.join("streaming.proto")], &[]);
    assert_success(&output);
    let names: Vec<String> = hard::rust_files(&out_dir).into_keys().collect();
    let _ = std::fs::remove_dir_all(&out_dir);
    assert_eq!(names, ["hard.streaming.rs"]);
}

#[test]
fn emit_selects_parts() {
    let (out_dir, output) = protoc_greeter("client", &["--rustgrpc_opt=emit=messages,client"]);
    assert_success(&output);
    let generated = String::from_utf8(hard::rust_files(&out_dir).remove("helloworld.rs").unwrap())
        .expect("utf-8");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(generated.contains("pub struct HelloRequest"));
    assert!(generated.contains("pub struct GreeterStub"));
    assert!(!generated.contains("GreeterServicer"));

    let (out_dir, output) = protoc_greeter("server", &["--rustgrpc_opt=emit=server"]);
    assert_success(&output);
    let generated = String::from_utf8(hard::rust_files(&out_dir).remove("helloworld.rs").unwrap())
        .expect("utf-8");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(!generated.contains("pub struct HelloRequest"));
    assert!(!generated.contains("GreeterStub"));
    assert!(generated.contains("pub trait GreeterServicer"));
}

#[test]
fn face_selects_servicers() {
    let (out_dir, output) = protoc_greeter("async", &["--rustgrpc_opt=face=async"]);
    assert_success(&output);
    let generated = String::from_utf8(hard::rust_files(&out_dir).remove("helloworld.rs").unwrap())
        .expect("utf-8");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(generated.contains("pub struct GreeterStub"));
    assert!(generated.contains("pub trait AsyncGreeterServicer"));
    assert!(generated.contains("pub fn add_async_greeter_servicer_to_server"));
    assert!(!generated.contains("pub trait GreeterServicer"));

    let (out_dir, output) = protoc_greeter("blocking", &["--rustgrpc_opt=face=blocking"]);
    assert_success(&output);
    let generated = String::from_utf8(hard::rust_files(&out_dir).remove("helloworld.rs").unwrap())
        .expect("utf-8");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(generated.contains("pub trait GreeterServicer"));
    assert!(!generated.contains("AsyncGreeterServicer"));

    // The default is both, byte for byte what face=both writes.
    let (out_dir, output) = protoc_greeter("both", &["--rustgrpc_opt=face=both"]);
    assert_success(&output);
    let both = hard::rust_files(&out_dir).remove("helloworld.rs").unwrap();
    let _ = std::fs::remove_dir_all(&out_dir);
    let golden = std::fs::read(greeter_protos().join("../golden/helloworld.rs")).expect("golden");
    assert!(both == golden, "face=both differs from the default output");
}

#[test]
fn extern_path_maps_packages_to_other_crates() {
    let out_dir = hard::unique_temp_dir("extern");
    let include = hard::protos_dir();
    let output = protoc(
        &out_dir,
        &include,
        &[include.join("streaming.proto")],
        &["--rustgrpc_opt=extern_path=.hard.common=::common_types"],
    );
    assert_success(&output);
    let generated = String::from_utf8(
        hard::rust_files(&out_dir)
            .remove("hard.streaming.rs")
            .unwrap(),
    )
    .expect("utf-8");
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(generated.contains("::grpc_core::UnaryStream<\n        ::common_types::Point,\n        ::common_types::deep::inner::Envelope,\n        C,\n    >"), "{generated}");
}

#[test]
fn well_known_types_can_be_generated() {
    let out_dir = hard::unique_temp_dir("wkt");
    let include = hard::protos_dir();
    let wkt = protoc_bin_vendored::include_path().expect("vendored includes");
    let output = protoc(
        &out_dir,
        &include,
        &[
            include.join("streaming.proto"),
            wkt.join("google/protobuf/empty.proto"),
            wkt.join("google/protobuf/timestamp.proto"),
        ],
        &["--rustgrpc_opt=well_known_types=compile,include_file=mod.rs"],
    );
    assert_success(&output);
    let mut files = hard::rust_files(&out_dir);
    let _ = std::fs::remove_dir_all(&out_dir);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(names, ["google.protobuf.rs", "hard.streaming.rs", "mod.rs"]);
    let wkt = String::from_utf8(files.remove("google.protobuf.rs").unwrap()).expect("utf-8");
    assert!(wkt.contains("pub struct Timestamp"));
    assert!(wkt.contains("pub struct Empty"));
    let streaming = String::from_utf8(files.remove("hard.streaming.rs").unwrap()).expect("utf-8");
    assert!(streaming.contains("super::super::google::protobuf::Timestamp"));
}

#[test]
fn bad_options_are_reported_through_protoc() {
    for (option, expected) in [
        (
            "frobnicate",
            "unknown parameter `frobnicate` (known: emit, face,",
        ),
        ("emit=client,colour=blue", "unknown parameter `colour=blue`"),
        ("face=sideways", "face must be blocking, async or both"),
        (
            "emit=sideways",
            "`sideways` is not one of messages, client, server",
        ),
        ("include_file=../mod.rs", "invalid include_file `../mod.rs`"),
    ] {
        let (out_dir, output) = protoc_greeter("bad", &[&format!("--rustgrpc_opt={option}")]);
        let written = hard::rust_files(&out_dir).len();
        let _ = std::fs::remove_dir_all(&out_dir);
        assert!(!output.status.success(), "{option}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // protoc prefixes the plugin's error with the output flag.
        assert!(stderr.contains("--rustgrpc_out: "), "{option}: {stderr}");
        assert!(stderr.contains(expected), "{option}: {stderr}");
        assert!(!stderr.contains("panicked"), "{option}: {stderr}");
        assert_eq!(written, 0, "{option}: no files on error");
    }
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
    assert!(output.stderr.is_empty());
    let response = CodeGeneratorResponse::decode(output.stdout.as_slice()).expect("response");
    assert!(
        response
            .error
            .is_some_and(|e| e.contains("cannot decode the CodeGeneratorRequest"))
    );
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
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--rustgrpc_out"));
    assert!(text.contains("buf.gen.yaml"));
    for (syntax, _) in grpc_codegen::PARAMETERS {
        assert!(text.contains(syntax), "help lists {syntax}");
    }

    let bad = Command::new(PLUGIN).arg("--bogus").output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument `--bogus`"));
}
