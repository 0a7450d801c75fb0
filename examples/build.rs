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
        )
}
