//! The async greeter server (grpcio's `grpc.aio` `async_greeter_server.py`):
//! an `AsyncGreeterServicer` written with `async fn`, served inside this
//! program's tokio runtime until Ctrl-C.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin async_greeter_server -- --port 50051
//! ```
//!
//! The same service as `greeter_server`, and the same [`ServicerContext`]:
//! invocation metadata, peer, deadline, initial and trailing metadata,
//! `abort`, `set_code` / `set_details`, response compression, `is_active`
//! and `add_callback`. The handlers run as tasks, so they await (timers,
//! other services) instead of holding a worker thread; server streaming
//! returns a `Stream`, and the bidi handler consumes the requests as one.

use std::time::Duration;

use futures_util::StreamExt;
use grpc_core::{
    Code, Compression, Metadata, RequestStream, Server, ServicerContext, Status, Stream,
};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{
    AsyncGreeterServicer, HelloReply, HelloRequest, add_async_greeter_servicer_to_server,
};

const USAGE: &str = "\
async_greeter_server: serves helloworld.Greeter with async handlers until Ctrl-C

usage: async_greeter_server [--port N] [--host ADDR]
  --port N      port to listen on (default 50051; 0 picks a free one)
  --host ADDR   address to bind (default [::], falling back to 0.0.0.0)";

struct Greeter;

/// Builds the reply text; an empty name is the client's mistake.
fn greeting(name: &str, context: &ServicerContext) -> Result<String, Status> {
    if name.is_empty() {
        // abort() records the status; returning it ends the RPC with it.
        return Err(context.abort(Code::InvalidArgument, "name must not be empty"));
    }
    if name == "nobody" {
        // set_code/set_details: the RPC fails although the handler returns Ok.
        context.set_code(Code::NotFound);
        context.set_details("nobody is not here");
    }
    Ok(format!("Hello, {name}!"))
}

fn internal(error: impl std::fmt::Display) -> Status {
    Status::internal(error.to_string())
}

impl AsyncGreeterServicer for Greeter {
    async fn say_hello(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<HelloReply, Status> {
        let metadata = context.invocation_metadata();
        println!(
            "SayHello({:?}) from {} deadline in {:?}",
            request.name,
            context.peer(),
            context.time_remaining()
        );

        // Initial metadata goes out before the response.
        let agent = metadata.get("user-agent").unwrap_or("unknown");
        let initial =
            Metadata::from_pairs([("server", "rustgrpc-async-greeter"), ("seen-agent", agent)])
                .map_err(internal)?;
        context.send_initial_metadata(initial).map_err(internal)?;

        // An await where a blocking handler would hold its worker: a
        // lookup, another RPC, a timer. Other RPCs run meanwhile.
        tokio::time::sleep(Duration::from_millis(10)).await;

        let message = greeting(&request.name, context)?;
        let mut trailing =
            Metadata::from_pairs([("done-by", "async-greeter")]).map_err(internal)?;
        if let Some(request_id) = metadata.get("request-id") {
            // Echo the client's request id back in the trailers.
            trailing
                .insert("request-id", request_id)
                .map_err(internal)?;
        }
        context.set_trailing_metadata(trailing);
        context.add_callback(|| println!("  SayHello finished"));
        Ok(HelloReply { message })
    }

    async fn say_hello_stream_reply(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        println!(
            "SayHelloStreamReply({:?}) from {}",
            request.name,
            context.peer()
        );
        let greeting = greeting(&request.name, context)?;
        // Replies are gzip-compressed when the client accepts gzip; the
        // first one goes out uncompressed.
        context.set_compression(Compression::Gzip);
        context.disable_next_message_compression();
        context.add_callback(|| println!("  SayHelloStreamReply finished"));
        // Like an async generator: each reply is produced when the
        // connection can take it. If the client goes away the task is
        // dropped, stream and all.
        let words = ["Hello", "Bonjour", "Hola", "Ciao", "Hallo"];
        Ok(
            futures_util::stream::iter(words.into_iter().enumerate()).then(move |(i, word)| {
                let greeting = greeting.clone();
                async move {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(HelloReply {
                        message: format!("{word} #{i}: {greeting}"),
                    })
                }
            }),
        )
    }

    async fn say_hello_bidi_stream(
        &self,
        requests: RequestStream<HelloRequest>,
        context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        println!("SayHelloBidiStream from {}", context.peer());
        let context = context.clone();
        Ok(requests.map(move |request| {
            let request = request?;
            greeting(&request.name, &context).map(|message| HelloReply { message })
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["port", "host"]);
    let port: u16 = args.get_or("port", 50051);

    // Built inside the runtime, the server runs its connections and the
    // async handlers on it. maximum_concurrent_rpcs bounds the tasks.
    let server = Server::builder().maximum_concurrent_rpcs(100).build();
    add_async_greeter_servicer_to_server(Greeter, &server);

    let bound = match args.get("host") {
        Some(host) => server.add_insecure_port(&format!("{host}:{port}"))?,
        // "[::]" accepts IPv4 and IPv6 where the host has IPv6; else IPv4 only.
        None => server
            .add_insecure_port(&format!("[::]:{port}"))
            .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?,
    };
    println!("Server started, listening on {bound} (Ctrl-C to stop)");

    // grpc.aio's `await server.start(); await server.wait_for_termination()`,
    // with `await server.stop(5)` on Ctrl-C: in-flight RPCs get 5 seconds.
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        println!("Ctrl-C: stopping with a 5 s grace period");
    };
    server.serve(shutdown, Some(Duration::from_secs(5))).await?;
    println!("Server stopped");
    Ok(())
}
