//! The greeter server: a blocking `GreeterServicer` on a worker pool
//! (grpcio's `greeter_server.py`), serving until Ctrl-C.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin greeter_server -- --port 50051
//! ```
//!
//! Every method shows part of the [`ServicerContext`]: invocation metadata,
//! peer, deadline, initial and trailing metadata, `abort`, `set_code` /
//! `set_details`, response compression, `is_active` and `add_callback`.
//!
//! It also serves health checking and server reflection; explore it with
//! `buf curl --protocol grpc --http2-prior-knowledge --list-methods http://localhost:50051`.

use std::thread;
use std::time::Duration;

use grpc_core::{Code, Compression, Metadata, Requests, Server, ServicerContext, Status};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{
    self, GreeterServicer, HelloReply, HelloRequest, add_greeter_servicer_to_server,
    greeter_service,
};

const USAGE: &str = "\
greeter_server: serves helloworld.Greeter until Ctrl-C

usage: greeter_server [--port N] [--host ADDR]
  --port N      port to listen on (default 50051; 0 picks a free one)
  --host ADDR   address to bind (default [::], falling back to 0.0.0.0)";

struct Greeter;

impl Greeter {
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
            println!(
                "  set code {:?} details {:?}",
                context.code(),
                context.details()
            );
        }
        Ok(format!("Hello, {name}!"))
    }
}

/// Serialises a metadata map for printing, `key=value` with `-bin` values in hex.
fn show(metadata: &Metadata) -> String {
    metadata
        .iter()
        .map(|(key, value)| match value.as_str() {
            Some(text) => format!("{key}={text}"),
            None => {
                let hex: String = value
                    .as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("{key}=0x{hex}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl GreeterServicer for Greeter {
    fn say_hello(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<HelloReply, Status> {
        let metadata = context.invocation_metadata();
        println!(
            "SayHello({:?}) from {} [{}] deadline in {:?}",
            request.name,
            context.peer(),
            show(metadata),
            context.time_remaining()
        );
        // On an insecure port there is no authenticated identity.
        println!(
            "  peer_identities {:?}, auth_context has {} properties",
            context.peer_identities(),
            context.auth_context().len()
        );

        // Initial metadata goes out before the response.
        let agent = metadata.get("user-agent").unwrap_or("unknown");
        let initial = Metadata::from_pairs([("server", "rustgrpc-greeter"), ("seen-agent", agent)])
            .map_err(|error| Status::internal(error.to_string()))?;
        context
            .send_initial_metadata(initial)
            .map_err(|error| Status::internal(error.to_string()))?;

        let message = Greeter::greeting(&request.name, context)?;
        let mut trailing = Metadata::from_pairs([("done-by", "greeter")])
            .map_err(|error| Status::internal(error.to_string()))?;
        if let Some(request_id) = metadata.get("request-id") {
            // Echo the client's request id back in the trailers.
            trailing
                .insert("request-id", request_id)
                .map_err(|error| Status::internal(error.to_string()))?;
        }
        context.set_trailing_metadata(trailing);
        context.add_callback(|| println!("  SayHello finished"));
        Ok(HelloReply { message })
    }

    fn say_hello_stream_reply(
        &self,
        request: HelloRequest,
        context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        println!(
            "SayHelloStreamReply({:?}) from {}",
            request.name,
            context.peer()
        );
        let greeting = Greeter::greeting(&request.name, context)?;
        // Replies are gzip-compressed when the client accepts gzip; the
        // first one goes out uncompressed.
        context.set_compression(Compression::Gzip);
        context.disable_next_message_compression();
        let context = context.clone();
        context.add_callback(|| println!("  SayHelloStreamReply finished"));
        // Like a Python generator: drawn lazily on a worker thread; stops
        // early if the client cancels.
        Ok(["Hello", "Bonjour", "Hola", "Ciao", "Hallo"]
            .into_iter()
            .enumerate()
            .take_while(move |_| context.is_active())
            .map(move |(i, word)| {
                if i > 0 {
                    thread::sleep(Duration::from_millis(100));
                }
                Ok(HelloReply {
                    message: format!("{word} #{i}: {greeting}"),
                })
            }))
    }

    fn say_hello_bidi_stream(
        &self,
        requests: Requests<HelloRequest>,
        context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<HelloReply, Status>> + Send + 'static, Status> {
        println!("SayHelloBidiStream from {}", context.peer());
        let context = context.clone();
        Ok(requests.map(move |request| {
            let request = request?;
            Greeter::greeting(&request.name, &context).map(|message| HelloReply { message })
        }))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["port", "host"]);
    let port: u16 = args.get_or("port", 50051);

    // grpcio: grpc.server(futures.ThreadPoolExecutor(max_workers=10), maximum_concurrent_rpcs=100)
    let server = Server::builder()
        .max_workers(10)
        .maximum_concurrent_rpcs(100)
        .build();
    add_greeter_servicer_to_server(Greeter, &server);
    // Health checking ("" is SERVING; stop() turns everything NOT_SERVING
    // first) and reflection (v1 and v1alpha), so that probes, grpcurl and
    // `buf curl` work without the protos.
    let health = grpc_health::add_health_servicer_to_server(&server);
    health.set(greeter_service::NAME, grpc_health::ServingStatus::Serving);
    grpc_reflection::Builder::new()
        .register(helloworld::FILE_DESCRIPTOR_SET)
        .register(grpc_health::v1::FILE_DESCRIPTOR_SET)
        .serve(&server)?;

    let bound = match args.get("host") {
        Some(host) => server.add_insecure_port(&format!("{host}:{port}"))?,
        // "[::]" accepts IPv4 and IPv6 where the host has IPv6; else IPv4 only.
        None => server
            .add_insecure_port(&format!("[::]:{port}"))
            .or_else(|_| server.add_insecure_port(&format!("0.0.0.0:{port}")))?,
    };
    // TLS is not supported yet; a secure server will use
    // grpc_core::ssl_server_credentials(&[(key_pem, chain_pem)], None, false)
    // with server.add_secure_port(..).
    server.start()?;
    println!("Server started, listening on {bound} (Ctrl-C to stop)");

    // Ctrl-C: stop accepting RPCs and give in-flight ones 5 seconds.
    let stopper = server.clone();
    ctrlc::set_handler(move || {
        println!("Ctrl-C: stopping with a 5 s grace period");
        stopper.stop(Some(Duration::from_secs(5)));
    })?;

    server.wait_for_termination(None);
    println!("Server stopped");
    Ok(())
}
