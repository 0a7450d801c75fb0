//! The async greeter client (grpcio's `grpc.aio` `async_greeter_client.py`
//! and friends): the async call styles, call options, error handling,
//! concurrency and cancellation by drop, against a running
//! `greeter_server` or `async_greeter_server`.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin async_greeter_client -- --target localhost:50051 --name you
//! ```

use std::time::Duration;

use futures_util::{StreamExt, stream};
use grpc_core::{CallOptions, ChannelBuilder, Compression, Metadata, RpcError};
use rustgrpc_examples::args::Args;
use rustgrpc_examples::helloworld::{GreeterStub, HelloRequest};

const USAGE: &str = "\
async_greeter_client: calls a greeter server every way grpc.aio can

usage: async_greeter_client [--target HOST:PORT] [--name NAME]
  --target T   server address (default localhost:50051); also dns:///h:p,
               ipv4:a.b.c.d:p, ipv6:[::1]:p, unix:/path, unix-abstract:name
  --name NAME  who to greet (default world)";

fn request(name: &str) -> HelloRequest {
    HelloRequest {
        name: name.to_owned(),
    }
}

/// grpc.aio's `except grpc.aio.AioRpcError as e: print(e.code(), e.details())`.
fn report(what: &str, error: &RpcError) {
    println!(
        "{what} failed: code={} details={:?} trailing={:?}",
        error.code(),
        error.details(),
        error.trailing_metadata()
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // GRPC_TRACE / GRPC_VERBOSITY turn on rustgrpc's logs, as in grpcio.
    grpc_core::diagnostics::init_from_env();
    let args = Args::parse(USAGE, &["target", "name"]);
    let target = args.get("target").unwrap_or("localhost:50051");
    let name = args.get("name").unwrap_or("world");

    // Built inside the runtime, the channel's connection runs on it, and so
    // do the async calls: no thread hop per call.
    let channel = ChannelBuilder::new(target)
        .primary_user_agent("async-greeter-client/0.1")
        .build()?;
    // grpc.aio's `await channel.channel_ready()`, with a 5 s limit.
    let ready = grpc_core::channel_ready_future(&channel);
    if !matches!(
        tokio::time::timeout(Duration::from_secs(5), ready).await,
        Ok(Ok(()))
    ) {
        eprintln!("cannot reach {target} within 5 s; is a greeter server running?");
        std::process::exit(1);
    }
    println!("connected to {target}: {:?}", channel.connectivity());
    let stub = GreeterStub::new(channel.clone());

    // 1. `await stub.SayHello(request)`: the response or an RpcError.
    let reply = stub.say_hello().call_async(request(name)).await?;
    println!("\n[call_async] Greeter client received: {}", reply.message);

    // 2. with_call_async + call options: (response, Call).
    let options = CallOptions::new()
        .timeout(Duration::from_secs(5))
        .metadata(Metadata::from_pairs([
            ("user-agent", "my-async-client/1.0"),
            ("request-id", "42"),
        ])?)
        .wait_for_ready(true)
        .compression(Compression::Gzip);
    let (reply, call) = stub
        .say_hello()
        .with_options(options)
        .with_call_async(request(name))
        .await?;
    println!("\n[with_call_async] {}", reply.message);
    println!("  code={} details={:?}", call.code(), call.details());
    println!("  initial metadata:  {:?}", call.initial_metadata());
    println!("  trailing metadata: {:?}", call.trailing_metadata());

    // 3. Many calls at once on one channel, awaited together.
    let names = ["Ann", "Bob", "Cid", "Dee"];
    let say_hello = stub.say_hello();
    let replies =
        futures_util::future::join_all(names.iter().map(|who| say_hello.call_async(request(who))))
            .await;
    println!("\n[concurrent]");
    for reply in replies {
        println!("  {}", reply?.message);
    }
    // A call future (the blocking face's `future`) can be awaited too.
    let reply = stub.say_hello().future(request(name)).await?;
    println!("[future.await] {}", reply.message);

    // 4. Server streaming: a Stream that also answers the Call methods.
    println!("\n[stream reply]");
    let mut replies = stub
        .say_hello_stream_reply()
        .call_async(request(name))
        .await?;
    println!("  initial metadata: {:?}", replies.initial_metadata().await);
    while let Some(reply) = replies.next().await {
        println!("  {}", reply?.message);
    }
    println!("  status: {}", replies.code().await);

    // 5. Bidi streaming: requests from a queue this task feeds, replies
    // printed by another task.
    println!("\n[bidi]");
    let (tx, rx) = tokio::sync::mpsc::channel::<HelloRequest>(4);
    let requests = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
    let mut replies = stub.say_hello_bidi_stream().call_async(requests).await?;
    let printer = tokio::spawn(async move {
        while let Some(reply) = replies.next().await {
            match reply {
                Ok(reply) => println!("  {}", reply.message),
                Err(e) => report("  bidi", &e),
            }
        }
    });
    for who in ["Ann", "Bob", "Cid"] {
        tx.send(request(who)).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(tx); // half-close: the server's request stream ends
    printer.await?;

    // 6. Cancellation by drop: stop reading a stream and drop it; the RPC
    // is reset on the wire and the server sees it end.
    println!("\n[cancel by drop]");
    let mut replies = stub
        .say_hello_stream_reply()
        .call_async(request(name))
        .await?;
    if let Some(first) = replies.next().await {
        println!("  read {:?}, dropping the rest", first?.message);
    }
    drop(replies);
    // A call future dropped by a timeout is cancelled the same way.
    match tokio::time::timeout(
        Duration::from_millis(1),
        stub.say_hello().call_async(request(name)),
    )
    .await
    {
        Ok(reply) => println!("  the call beat a 1 ms timeout: {}", reply?.message),
        Err(_) => println!("  call future dropped after 1 ms: cancelled"),
    }

    // 7. Error handling: RpcError carries the status.
    println!("\n[errors]");
    if let Err(e) = stub.say_hello().call_async(request("")).await {
        report("  empty name", &e); // INVALID_ARGUMENT via context.abort
    }
    if let Err(e) = stub.say_hello().call_async(request("nobody")).await {
        report("  nobody", &e); // NOT_FOUND via set_code/set_details
    }
    let too_short = CallOptions::new().timeout(Duration::from_millis(150));
    let mut replies = stub
        .say_hello_stream_reply()
        .with_options(too_short)
        .call_async(request(name))
        .await?;
    while let Some(reply) = replies.next().await {
        if let Err(e) = reply {
            report("  stream with 150 ms timeout", &e); // DEADLINE_EXCEEDED
        }
    }

    channel.close();
    println!("\nchannel closed: {:?}", channel.connectivity());
    Ok(())
}
