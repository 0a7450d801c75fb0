//! Generates `grpc.health.v1` (messages, stub, async servicer trait and its
//! descriptors for reflection) from `proto/grpc/health/v1/health.proto`.

fn main() -> std::io::Result<()> {
    grpc_codegen::configure()
        .face(grpc_codegen::Face::Async)
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(&["../proto/grpc/health/v1/health.proto"], &["../proto"])
}
