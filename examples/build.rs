//! Generates the messages, stubs and servicer traits of the example protos
//! and of the interop suite's `grpc.testing` protos.

fn main() -> std::io::Result<()> {
    grpc_codegen::configure().compile_protos(
        &[
            "../proto/helloworld.proto",
            "../proto/route_guide.proto",
            "../proto/grpc/testing/test.proto",
        ],
        &["../proto"],
    )
}
