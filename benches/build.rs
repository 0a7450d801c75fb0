//! Generates the benchmark proto twice, in directories of their own:
//! rustgrpc's messages, stubs and servicer traits (`OUT_DIR/rustgrpc`) and
//! tonic's client and server (`OUT_DIR/tonic`), and connect-rust's
//! (`connectrpc`) messages and service trait (`OUT_DIR/connectrpc`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    let rustgrpc_dir = out_dir.join("rustgrpc");
    std::fs::create_dir_all(&rustgrpc_dir)?;
    grpc_codegen::configure()
        .out_dir(&rustgrpc_dir)
        // FILE_DESCRIPTOR_SET: the servers register it for Connect's JSON.
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(&["../proto/bench.proto"], &["../proto"])?;

    let tonic_dir = out_dir.join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|error| std::io::Error::other(format!("no bundled protoc: {error}")))?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(&protoc);
    tonic_prost_build::configure()
        .out_dir(&tonic_dir)
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &["../proto/bench.proto"], &["../proto"])?;

    connect_rust(&out_dir, &protoc)
}

/// connect-rust's code, from a descriptor set the bundled protoc writes
/// (connectrpc-build would otherwise look for `protoc` on `PATH`).
fn connect_rust(out_dir: &std::path::Path, protoc: &std::path::Path) -> std::io::Result<()> {
    let dir = out_dir.join("connectrpc");
    std::fs::create_dir_all(&dir)?;
    let descriptors = dir.join("bench.fds");
    let status = std::process::Command::new(protoc)
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", descriptors.display()))
        .args(["-I", "../proto", "../proto/bench.proto"])
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!("protoc failed: {status}")));
    }
    connectrpc_build::Config::new()
        .descriptor_set(&descriptors)
        .files(&["bench.proto"])
        .out_dir(&dir)
        .include_file("mod.rs")
        .compile()
        .map_err(|error| std::io::Error::other(format!("connectrpc-build: {error:#}")))
}
