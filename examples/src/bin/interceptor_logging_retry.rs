//! Two client interceptors on one channel: a logger (outermost: one line
//! per call, whatever happens inside) and a retry of unary calls that fail
//! with `UNAVAILABLE`, which calls the continuation again after a backoff.
//! The server (in this process) fails the first two calls it sees.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin interceptor_logging_retry
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientInterceptors, ClientResponse,
    Code, Continuation, HandlerCallDetails, RequestMessages, ResponsePart, Server,
    ServerInterceptor, Status, insecure_channel, intercept_channel,
};
use rustgrpc_examples::greeter::Greeter;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest, add_greeter_servicer_to_server};

/// Fails the first `failures` calls with `UNAVAILABLE`.
struct Flaky {
    seen: AtomicUsize,
    failures: usize,
}

impl ServerInterceptor for Flaky {
    async fn intercept_service(&self, next: Continuation, call: &HandlerCallDetails) -> Status {
        if self.seen.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Status::unavailable("warming up");
        }
        next.call(call).await
    }
}

// README: client interceptors (logging and retry)
/// Logs each call once it ends: method, status, messages received.
struct Logging;

impl ClientInterceptor for Logging {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let method = details.method.clone();
        let response = continuation.call(details, requests).await;
        let mut received = 0;
        let logged = response.into_stream().inspect(move |part| match part {
            ResponsePart::Message(_) => received += 1,
            ResponsePart::End(status) => {
                let code = status.code().name();
                println!("[log] {method}: {code} after {received} response(s)");
            }
        });
        ClientResponse::from_stream(logged)
    }
}

/// Sends a unary request again, up to `attempts` times in all, while it
/// fails with `UNAVAILABLE`, waiting `backoff` (doubled each time) between.
struct Retry {
    attempts: u32,
    backoff: Duration,
}

impl ClientInterceptor for Retry {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let mut backoff = self.backoff;
        for attempt in 1..self.attempts {
            // A request stream can be sent once only: no retry.
            let Some(request) = requests.try_clone() else {
                break;
            };
            let response = continuation.call(details.clone(), request).await;
            let (messages, status) = response.collect().await;
            if status.code() != Code::Unavailable {
                return ClientResponse::ready(messages, status);
            }
            println!("[retry] attempt {attempt}: {}", status.details());
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        continuation.call(details, requests).await
    }
}
// README: end

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flaky = Flaky {
        seen: AtomicUsize::new(0),
        failures: 2,
    };
    let server = Server::builder().interceptor(flaky).build();
    add_greeter_servicer_to_server(Greeter, &server);
    let port = server.add_insecure_port("127.0.0.1:0")?;
    server.start()?;

    // README: client interceptors (logging and retry usage)
    let interceptors = ClientInterceptors::new().with(Logging).with(Retry {
        attempts: 4,
        backoff: Duration::from_millis(10),
    });
    let channel = intercept_channel(
        insecure_channel(&format!("127.0.0.1:{port}"))?,
        interceptors,
    );
    let stub = GreeterStub::new(channel);
    let response = stub.say_hello().call(HelloRequest { name: "you".into() })?;
    println!("Greeter client received: {}", response.message);
    // README: end
    server.stop(None).wait();
    Ok(())
}
