//! Generates the benchmark proto twice, in directories of their own:
//! rustgrpc's messages, stubs and servicer traits (`OUT_DIR/rustgrpc`) and
//! tonic's client and server (`OUT_DIR/tonic`).

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
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .out_dir(&tonic_dir)
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &["../proto/bench.proto"], &["../proto"])
}
