//! Generates the `rustgrpc.testing` messages, stubs and servicer traits.

fn main() -> std::io::Result<()> {
    grpc_codegen::configure().compile_protos(&["../proto/testing.proto"], &["../proto"])
}
