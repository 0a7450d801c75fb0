//! The greeter client in every protocol the client speaks: gRPC-Web and
//! Connect (protobuf, JSON, and GET for side-effect-free methods) over
//! HTTP/1.1 and HTTP/2, through the same generated stub as gRPC.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin protocols_client -- --target localhost:50051
//! ```

use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest};

const USAGE: &str = "\
protocols_client: calls a greeter server with gRPC, gRPC-Web and Connect

usage: protocols_client [--target HOST:PORT]
  --target T   server address (default localhost:50051)
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(USAGE, &["target"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let protocols = [
        ("grpc", ClientProtocol::grpc()),
        ("grpc-web/http2", ClientProtocol::grpc_web()),
        (
            "grpc-web/http1.1",
            ClientProtocol::grpc_web().http_version(HttpVersion::Http1),
        ),
        ("connect/http2", ClientProtocol::connect()),
        (
            "connect-json/http1.1",
            ClientProtocol::connect_json()
                .http_version(HttpVersion::Http1)
                .add_file_descriptor_set(rustgrpc_examples::helloworld::DESCRIPTOR_SET),
        ),
    ];
    for (name, protocol) in protocols {
        // README: client protocols
        let channel = ChannelBuilder::new(target).protocol(protocol).build()?;
        let greeter = GreeterStub::new(channel);
        let request = HelloRequest {
            name: "world".into(),
        };
        let reply = greeter.say_hello().call(request.clone())?;
        let streamed = greeter.say_hello_stream_reply().call(request)?.count();
        // README: end
        println!("{name}: {} (+{streamed} streamed)", reply.message);
    }
    Ok(())
}
