//! The greeter client (grpcio's `greeter_client.py` and friends): the
//! blocking call styles, call options and error handling, against a running
//! `greeter_server`.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin greeter_client -- --target localhost:50051 --name you
//! ```

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use grpc_core::{CallOptions, ChannelBuilder, Compression, Metadata, RpcError};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest};

const USAGE: &str = "\
greeter_client: calls a greeter server every way grpcio can

usage: greeter_client [--target HOST:PORT] [--name NAME]
  --target T   server address (default localhost:50051); also dns:///h:p,
               ipv4:a.b.c.d:p, ipv6:[::1]:p, unix:/path, unix-abstract:name
  --name NAME  who to greet (default world)";

fn request(name: &str) -> HelloRequest {
    HelloRequest {
        name: name.to_owned(),
    }
}

/// grpcio's `except grpc.RpcError as e: print(e.code(), e.details())`.
fn report(what: &str, error: &RpcError) {
    println!(
        "{what} failed: code={} details={:?} trailing={:?}",
        error.code(),
        error.details(),
        error.trailing_metadata()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["target", "name"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let name = args.get("name").unwrap_or("world");

    // A channel connects lazily; ChannelBuilder carries grpcio's channel options.
    let channel = ChannelBuilder::new(target)
        .primary_user_agent("greeter-client/0.1")
        .max_receive_message_length(16 << 20)
        .keepalive_time(Duration::from_secs(30))
        .build()?;
    // Secure channels come with TLS support, later:
    //   let creds = grpc_core::ssl_channel_credentials(Some(root_pem), None, None)?;
    //   let channel = grpc_core::secure_channel("greeter.example.com:443", creds)?;

    // Wait for the connection up front, as grpcio's channel_ready_future.
    if let Err(error) =
        grpc_core::channel_ready_future(&channel).result(Some(Duration::from_secs(5)))
    {
        eprintln!("cannot reach {target} within 5 s ({error}); is greeter_server running?");
        std::process::exit(1);
    }
    println!("connected to {target}: {:?}", channel.connectivity());
    let stub = GreeterStub::new(channel.clone());

    // 1. __call__: the response or an RpcError.
    let reply = stub.say_hello().call(request(name))?;
    println!("\n[call] Greeter client received: {}", reply.message);

    // 2. with_call + call options: (response, Call).
    let options = CallOptions::new()
        .timeout(Duration::from_secs(5))
        .metadata(Metadata::from_pairs([
            ("user-agent", "my-client/1.0"),
            ("request-id", "42"),
        ])?)
        .wait_for_ready(true)
        .compression(Compression::Gzip);
    let (reply, call) = stub
        .say_hello()
        .with_options(options)
        .with_call(request(name))?;
    println!("\n[with_call] {}", reply.message);
    println!("  code={} details={:?}", call.code(), call.details());
    println!("  initial metadata:  {:?}", call.initial_metadata());
    println!("  trailing metadata: {:?}", call.trailing_metadata());

    // 3. future: the RPC runs in the background.
    let future = stub.say_hello().future(request(name));
    future.add_done_callback(|f| println!("\n[future] done callback: done={}", f.done()));
    match future.result(Some(Duration::from_secs(10))) {
        Ok(reply) => println!("[future] result: {}", reply.message),
        Err(e) if e.is_future_timeout() => println!("[future] timed out"),
        Err(e) => report("[future]", &e),
    }

    // 4. Server streaming: an iterator that is also the Call.
    println!("\n[stream reply]");
    let mut replies = stub.say_hello_stream_reply().call(request(name))?;
    for reply in &mut replies {
        println!("  {}", reply?.message);
    }
    println!("  status: {}", replies.code());

    // 5. Bidi streaming: requests from a queue fed by this thread, replies
    // printed by another.
    println!("\n[bidi]");
    let (tx, rx) = mpsc::sync_channel(4);
    let replies = stub.say_hello_bidi_stream().call(rx)?;
    let printer = thread::spawn(move || {
        for reply in replies {
            match reply {
                Ok(reply) => println!("  {}", reply.message),
                Err(e) => report("  bidi", &e),
            }
        }
    });
    for who in ["Ann", "Bob", "Cid"] {
        tx.send(request(who))?;
        thread::sleep(Duration::from_millis(50));
    }
    drop(tx); // half-close: the server's request iterator ends
    printer.join().map_err(|_| "printer thread panicked")?;

    // 6. Error handling: RpcError carries the status.
    println!("\n[errors]");
    if let Err(e) = stub.say_hello().call(request("")) {
        report("  empty name", &e); // INVALID_ARGUMENT via context.abort
    }
    if let Err(e) = stub.say_hello().call(request("nobody")) {
        report("  nobody", &e); // NOT_FOUND via set_code/set_details
    }
    let too_short = CallOptions::new().timeout(Duration::from_millis(150));
    let mut replies = stub
        .say_hello_stream_reply()
        .with_options(too_short)
        .call(request(name))?;
    if let Some(Err(e)) = replies.find(Result::is_err) {
        report("  stream with 150 ms timeout", &e); // DEADLINE_EXCEEDED
    }
    // Call credentials need a secure channel: on this insecure one the call
    // fails with UNAVAILABLE, as in grpcio.
    let with_token =
        CallOptions::new().credentials(grpc_core::access_token_call_credentials("secret-token"));
    if let Err(e) = stub
        .say_hello()
        .with_options(with_token)
        .call(request(name))
    {
        report("  access token on an insecure channel", &e);
    }

    channel.close();
    println!("\nchannel closed: {:?}", channel.connectivity());
    Ok(())
}
