//! grpcio's `examples/python/interceptors/headers`, line for line: a client
//! interceptor adds `one-time-password: 42` to every call
//! (`header_manipulator_client_interceptor.py`), and a server interceptor
//! rejects calls without it (`request_header_validator_interceptor.py`).
//! Server and client run in this one process.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interceptor_headers
//! ```

use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, Code, Continuation,
    HandlerCallDetails, RequestMessages, Server, ServerInterceptor, Status, insecure_channel,
    intercept_channel,
};
use rustgrpc_examples::greeter::Greeter;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest, add_greeter_servicer_to_server};

// README: client interceptors (headers)
/// grpcio's `header_adder_interceptor(header, value)`.
struct HeaderAdder {
    header: &'static str,
    value: &'static str,
}

impl ClientInterceptor for HeaderAdder {
    async fn intercept(
        &self,
        mut client_call_details: ClientCallDetails,
        request: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let added = client_call_details.metadata.append(self.header, self.value);
        if let Err(error) = added {
            return ClientResponse::error(Status::internal(error.to_string()));
        }
        continuation.call(client_call_details, request).await
    }
}

/// grpcio's `RequestHeaderValidatorInterceptor(header, value, code, details)`.
struct RequestHeaderValidator {
    header: &'static str,
    value: &'static str,
    code: Code,
    details: &'static str,
}

impl ServerInterceptor for RequestHeaderValidator {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        handler_call_details: &HandlerCallDetails,
    ) -> Status {
        let metadata = handler_call_details.invocation_metadata();
        if metadata.get(self.header) == Some(self.value) {
            continuation.call(handler_call_details).await
        } else {
            Status::new(self.code, self.details)
        }
    }
}
// README: end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README: client interceptors (headers usage)
    let header_validator = RequestHeaderValidator {
        header: "one-time-password",
        value: "42",
        code: Code::Unauthenticated,
        details: "Access denied!",
    };
    let server = Server::builder().interceptor(header_validator).build();
    add_greeter_servicer_to_server(Greeter, &server);
    let port = server.add_insecure_port("127.0.0.1:0")?;
    server.start()?;

    let header_adder_interceptor = HeaderAdder {
        header: "one-time-password",
        value: "42",
    };
    let channel = insecure_channel(&format!("127.0.0.1:{port}"))?;
    let intercept_channel = intercept_channel(channel.clone(), header_adder_interceptor);
    let stub = GreeterStub::new(intercept_channel);
    let response = stub.say_hello().call(HelloRequest { name: "you".into() })?;
    println!("Greeter client received: {}", response.message);
    // README: end

    // Without the interceptor the server turns the call away.
    let plain = GreeterStub::new(channel);
    match plain.say_hello().call(HelloRequest { name: "you".into() }) {
        Ok(response) => println!("unexpected success: {}", response.message),
        Err(error) => println!(
            "Without the header: {} {}",
            error.code().name(),
            error.details()
        ),
    }
    server.stop(None).wait();
    Ok(())
}
