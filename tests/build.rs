//! Generates the `rustgrpc.testing` messages, stubs and servicer traits, and
//! tonic's client and server for `grpc.testing` (the interop suite's tonic
//! peer), in a directory of their own so the two generators never meet;
//! and the reflection tests' `rustgrpc.reflection_test` with its descriptors.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    grpc_codegen::configure().compile_protos(&["../proto/testing.proto"], &["../proto"])?;
    // The reflection tests' service, with its descriptors embedded.
    grpc_codegen::configure()
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(&["../proto/reflection_test/demo.proto"], &["../proto"])?;

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let tonic_dir = out_dir.join("tonic");
    std::fs::create_dir_all(&tonic_dir)?;
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|error| std::io::Error::other(format!("no bundled protoc: {error}")))?;
    // The encoded descriptors of rustgrpc.testing, for Connect's JSON codec.
    let status = std::process::Command::new(&protoc)
        .arg("--include_imports")
        .arg(format!(
            "--descriptor_set_out={}",
            out_dir.join("testing.fds").display()
        ))
        .args(["-I", "../proto", "../proto/testing.proto"])
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other("protoc --descriptor_set_out failed"));
    }
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .out_dir(&tonic_dir)
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_with_config(config, &["../proto/grpc/testing/test.proto"], &["../proto"])
}
