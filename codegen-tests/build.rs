//! Generates the hard protos of grpc-codegen's test suite into `OUT_DIR`,
//! through the build.rs path (the plugin path is compared with the same
//! golden files in protoc-gen-rustgrpc's tests).

#[path = "../grpc-codegen/tests/support/hard.rs"]
mod hard;

fn main() -> std::io::Result<()> {
    hard::builder().compile_protos(&hard::protos(), &[hard::protos_dir()])
}
