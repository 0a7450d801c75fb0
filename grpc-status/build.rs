//! Generates `google.rpc` (Status and the standard error details) from
//! `proto/google/rpc/*.proto` with prost, with type names so that each
//! message knows its `type.googleapis.com/...` URL.

fn main() -> std::io::Result<()> {
    let protos = [
        "../proto/google/rpc/status.proto",
        "../proto/google/rpc/error_details.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|error| std::io::Error::other(format!("no bundled protoc: {error}")))?;
    let include = protoc_bin_vendored::include_path()
        .map_err(|error| std::io::Error::other(format!("no bundled protobuf includes: {error}")))?;
    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc)
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com");
    config.compile_protos(&protos, &[std::path::Path::new("../proto"), &include])
}
