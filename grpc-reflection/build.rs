//! Generates `grpc.reflection.v1` and `grpc.reflection.v1alpha` (messages,
//! stubs, descriptors) from `proto/grpc/reflection/`.

fn main() -> std::io::Result<()> {
    grpc_codegen::configure()
        .face(grpc_codegen::Face::Async)
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(
            &[
                "../proto/grpc/reflection/v1/reflection.proto",
                "../proto/grpc/reflection/v1alpha/reflection.proto",
            ],
            &["../proto"],
        )
}
