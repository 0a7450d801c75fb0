//! Codecs (the README's "Codecs" section): a greeter whose method speaks
//! the proto3 JSON mapping (`application/grpc+json`), called through the
//! generated stub switched to the same codec, and a raw-bytes call to it.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin json_codec
//! ```

use bytes::Bytes;
use grpc_core::{BytesCodec, JsonCodec, Server, ServiceBuilder, Status, insecure_channel};
use rustgrpc_examples::helloworld::{self, GreeterStub, HelloReply, HelloRequest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder().build();
    // README: codecs
    // The descriptors JSON is transcoded by: a generated FILE_DESCRIPTOR_SET
    // (codegen's `embed` option) or any encoded FileDescriptorSet.
    let json = JsonCodec::new(helloworld::DESCRIPTOR_SET)?;

    // Server: a method registered with the codec answers application/grpc+json.
    let mut service = ServiceBuilder::new("helloworld.Greeter").with_codec(json.clone());
    service.unary_unary("SayHello", |request: HelloRequest, _ctx| {
        Ok::<_, Status>(HelloReply {
            message: format!("Hello, {}!", request.name),
        })
    });
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0")?;
    server.start()?;

    // Client: the generated stub, switched to the same codec.
    let channel = insecure_channel(&format!("127.0.0.1:{port}"))?;
    let stub = GreeterStub::new(channel.clone()).with_codec(json);
    let reply = stub.say_hello().call(HelloRequest {
        name: "JSON".into(),
    })?;
    println!("typed: {}", reply.message);

    // Raw bytes under a content-subtype: here, JSON text written by hand.
    let raw = channel
        .unary_unary::<Bytes, Bytes>("/helloworld.Greeter/SayHello")
        .with_codec(BytesCodec::named("json"));
    let reply = raw.call(Bytes::from_static(br#"{"name":"raw"}"#))?;
    println!("raw: {}", String::from_utf8_lossy(&reply));
    // end README
    Ok(())
}
