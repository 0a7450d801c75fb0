//! grpcio's `examples/python/interceptors/default_value`, line for line: a
//! client interceptor that answers a failed unary-response call with a
//! default value (`default_value_client_interceptor.py`). As in grpcio's
//! example there is no server: the call fails, the default comes back.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interceptor_default_value
//! ```

use bytes::Bytes;
use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, RequestMessages,
    Status, insecure_channel, intercept_channel,
};
use prost::Message;
use rustgrpc_examples::helloworld::{GreeterStub, HelloReply, HelloRequest};

// README: client interceptors (default value)
/// grpcio's `DefaultValueClientInterceptor(value)`: for unary-response
/// methods (grpcio's `UnaryUnaryClientInterceptor` and
/// `StreamUnaryClientInterceptor`), a failed call returns `value`.
struct DefaultValueClientInterceptor {
    default: Bytes,
}

impl DefaultValueClientInterceptor {
    fn new(value: impl Message) -> DefaultValueClientInterceptor {
        DefaultValueClientInterceptor {
            default: value.encode_to_vec().into(),
        }
    }
}

impl ClientInterceptor for DefaultValueClientInterceptor {
    async fn intercept(
        &self,
        client_call_details: ClientCallDetails,
        request_or_iterator: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        if client_call_details.kind().is_response_streaming() {
            return continuation
                .call(client_call_details, request_or_iterator)
                .await;
        }
        let response = continuation
            .call(client_call_details, request_or_iterator)
            .await;
        let (messages, status) = response.collect().await;
        if status.is_ok() {
            ClientResponse::ready(messages, status)
        } else {
            ClientResponse::ready([self.default.clone()], Status::ok())
        }
    }
}
// README: end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Nobody listens on this port: every call fails.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    // README: client interceptors (default value usage)
    let default_value = HelloReply {
        message: "Hello from your local interceptor!".into(),
    };
    let default_value_interceptor = DefaultValueClientInterceptor::new(default_value);
    let channel = insecure_channel(&unused.to_string())?;
    let intercept_channel = intercept_channel(channel, default_value_interceptor);
    let stub = GreeterStub::new(intercept_channel);
    let response = stub.say_hello().call(HelloRequest { name: "you".into() })?;
    println!("Greeter client received: {}", response.message);
    // README: end
    Ok(())
}
