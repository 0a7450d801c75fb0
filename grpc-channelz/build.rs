//! Generates `grpc.channelz.v1` (messages, stub, async servicer trait and
//! descriptors) from `proto/grpc/channelz/v1/channelz.proto`.

fn main() -> std::io::Result<()> {
    grpc_codegen::configure()
        .face(grpc_codegen::Face::Async)
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
        .compile_protos(&["../proto/grpc/channelz/v1/channelz.proto"], &["../proto"])
}
