//! Authentication with interceptors, after grpcio's
//! `examples/python/auth/customized_auth_{client,server}.py`: the client
//! signs every call (here the signature is the method name reversed, as in
//! grpcio's example) from an async interceptor, which could just as well
//! await a token service; the server's interceptor checks the signature and
//! turns unsigned calls away with `UNAUTHENTICATED` before any handler runs.
//! Server and client run in this one process.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interceptor_auth
//! ```

use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, Continuation,
    HandlerCallDetails, RequestMessages, Server, ServerInterceptor, Status, insecure_channel,
    intercept_channel,
};
use rustgrpc_examples::greeter::Greeter;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest, add_greeter_servicer_to_server};

// README: client interceptors (auth)
const SIGNATURE_HEADER_KEY: &str = "x-signature";

/// The signature of a call to `method` (grpcio's example: the method name
/// reversed).
fn signature(method: &str) -> String {
    let method_name = method.rsplit('/').next().unwrap_or_default();
    method_name.chars().rev().collect()
}

/// Signs every call (grpcio's `AuthGateway`).
struct AuthGateway;

impl ClientInterceptor for AuthGateway {
    async fn intercept(
        &self,
        mut details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let signature = signature(&details.method);
        if let Err(error) = details.metadata.insert(SIGNATURE_HEADER_KEY, signature) {
            return ClientResponse::error(Status::internal(error.to_string()));
        }
        continuation.call(details, requests).await
    }
}

/// Rejects unsigned calls (grpcio's `SignatureValidationInterceptor`).
struct SignatureValidationInterceptor;

impl ServerInterceptor for SignatureValidationInterceptor {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        handler_call_details: &HandlerCallDetails,
    ) -> Status {
        let expected = signature(handler_call_details.method());
        let metadata = handler_call_details.invocation_metadata();
        if metadata.get(SIGNATURE_HEADER_KEY) == Some(expected.as_str()) {
            continuation.call(handler_call_details).await
        } else {
            Status::unauthenticated("Invalid signature")
        }
    }
}
// README: end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .interceptor(SignatureValidationInterceptor)
        .build();
    add_greeter_servicer_to_server(Greeter, &server);
    let port = server.add_insecure_port("127.0.0.1:0")?;
    server.start()?;
    let channel = insecure_channel(&format!("127.0.0.1:{port}"))?;
    let request = HelloRequest { name: "you".into() };

    let signed = GreeterStub::new(intercept_channel(channel.clone(), AuthGateway));
    let response = signed.say_hello().call(request.clone())?;
    println!("Signed call: {}", response.message);
    match GreeterStub::new(channel).say_hello().call(request) {
        Ok(response) => println!("unexpected success: {}", response.message),
        Err(error) => println!("Unsigned call: {} {}", error.code().name(), error.details()),
    }
    server.stop(None).wait();
    Ok(())
}
