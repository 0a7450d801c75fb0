//! Generates the messages, stubs and servicer traits of the example protos
//! and of the interop suite's `grpc.testing` protos, with their descriptors
//! for server reflection.

fn main() -> std::io::Result<()> {
    // Each package also gets FILE_DESCRIPTOR_SET, which the servers hand to
    // server reflection.
    grpc_codegen::configure()
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(
            &[
                "../proto/helloworld.proto",
                "../proto/route_guide.proto",
                "../proto/grpc/testing/test.proto",
            ],
            &["../proto"],
        )?;
    // helloworld's encoded descriptors, so the greeter servers also speak
    // Connect's JSON codec (`Server::add_file_descriptor_set`).
    let out_dir =
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .map_err(|error| std::io::Error::other(format!("no bundled protoc: {error}")))?;
    let status = std::process::Command::new(protoc)
        .arg("--include_imports")
        .arg(format!(
            "--descriptor_set_out={}",
            out_dir.join("helloworld.fds").display()
        ))
        .args(["-I", "../proto", "../proto/helloworld.proto"])
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other("protoc --descriptor_set_out failed"));
    }
    Ok(())
}
