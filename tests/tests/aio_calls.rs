//! grpc.aio's call objects and the API shapes a new async user writes.
//!
//! Several tests are compile tests first: they exist because the shape
//! they use did not compile before (E0034 on a request stream with
//! `StreamExt` in scope; call futures capturing a stub temporary).

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::join_all;
use grpc_core::{
    Channel, Code, Metadata, RequestStream, Server, ServiceBuilder, ServicerContext, Status,
    WithOptions, insecure_channel,
};
use rustgrpc_tests::{TestServer, echo};
use tokio::sync::Semaphore;

/// A server of small async methods on `String`/`u64` messages.
struct Demo {
    server: Server,
    channel: Channel,
    /// Each permit lets one `Gate` call past its initial metadata.
    gate: Arc<Semaphore>,
}

impl Demo {
    async fn start() -> Demo {
        let gate = Arc::new(Semaphore::new(0));
        let server = Server::builder().build();
        let mut service = ServiceBuilder::new("demo.Aio");
        let permits = Arc::clone(&gate);
        service.unary_unary_async("Gate", move |name: String, ctx: ServicerContext| {
            let permits = Arc::clone(&permits);
            async move {
                let headers = Metadata::from_pairs([("stage", "headers")])
                    .map_err(|error| Status::internal(error.to_string()))?;
                ctx.send_initial_metadata(headers)
                    .map_err(|error| Status::internal(error.to_string()))?;
                // Answers only once the test saw the headers.
                let permit = permits.acquire().await;
                drop(permit);
                let trailers = Metadata::from_pairs([("stage", "trailers")])
                    .map_err(|error| Status::internal(error.to_string()))?;
                ctx.set_trailing_metadata(trailers);
                Ok(format!("{name}!"))
            }
        });
        service.unary_unary_async("Fail", |_: String, _ctx: ServicerContext| async {
            Err::<String, _>(Status::not_found("no such thing"))
        });
        // The E0034 shape: `StreamExt::next` by method syntax on the
        // request stream, with `StreamExt` in scope.
        service.stream_unary_async("Sum", |mut numbers: RequestStream<u64>, _ctx| async move {
            let mut total = 0;
            while let Some(n) = numbers.next().await {
                total += n?;
            }
            Ok(total)
        });
        // ... and `StreamExt::map`.
        service.stream_stream_async("Double", |numbers: RequestStream<u64>, _ctx| async move {
            Ok(numbers.map(|n| n.map(|n| n * 2)))
        });
        server.add_service(service.build());
        let port = server.add_insecure_port("127.0.0.1:0").expect("port");
        server.start().expect("server starts");
        let channel = insecure_channel(&format!("127.0.0.1:{port}")).expect("channel");
        Demo {
            server,
            channel,
            gate,
        }
    }

    async fn stop(self) {
        self.channel.close();
        self.server.stop(None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_async_futures_do_not_borrow_the_stub_temporary() {
    let server = TestServer::start();
    let stub = server.stub();
    // `stub.unary_call()` is a temporary of the closure: the call must not
    // borrow it (edition 2024 captures it in an `impl Future` without
    // `use<..>`).
    let calls: Vec<_> = (0..200)
        .map(|i| stub.unary_call().call_async(echo(&i.to_string())))
        .collect();
    let with_calls: Vec<_> = (0..20)
        .map(|i| stub.unary_call().with_call_async(echo(&i.to_string())))
        .collect();
    let streams: Vec<_> = (0..10)
        .map(|i| {
            stub.streaming_output_call()
                .call_async(echo(&i.to_string()))
        })
        .collect();
    let uploads: Vec<_> = (0..10)
        .map(|i| {
            let requests = futures_util::stream::iter(vec![echo("a"), echo(&i.to_string())]);
            stub.streaming_input_call().with_call_async(requests)
        })
        .collect();
    let chats: Vec<_> = (0..10)
        .map(|i| {
            let requests = futures_util::stream::iter(vec![echo(&i.to_string())]);
            stub.full_duplex_call().call_async(requests)
        })
        .collect();
    // And `'static`: spawnable.
    let spawned = tokio::spawn(stub.unary_call().call_async(echo("spawned")));

    for (i, reply) in join_all(calls).await.into_iter().enumerate() {
        assert_eq!(reply.expect("unary reply").message, i.to_string());
    }
    for (i, reply) in join_all(with_calls).await.into_iter().enumerate() {
        let (reply, call) = reply.expect("with_call reply");
        assert_eq!(reply.message, i.to_string());
        assert_eq!(call.code(), Code::Ok);
    }
    for stream in join_all(streams).await {
        let stream = stream.expect("stream starts");
        let replies: Vec<_> = stream.collect().await;
        assert!(replies.iter().all(Result::is_ok), "{replies:?}");
    }
    for (i, upload) in join_all(uploads).await.into_iter().enumerate() {
        let (summary, _) = upload.expect("upload reply");
        assert_eq!(summary.message, format!("a,{i}"));
    }
    for (i, chat) in join_all(chats).await.into_iter().enumerate() {
        let replies: Vec<_> = chat.expect("chat starts").collect().await;
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].as_ref().expect("reply").message, i.to_string());
    }
    assert_eq!(
        spawned.await.expect("task").expect("reply").message,
        "spawned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_handlers_use_stream_ext_on_the_request_stream() {
    let demo = Demo::start().await;
    let sum = demo.channel.stream_unary::<u64, u64>("/demo.Aio/Sum");
    let total = sum
        .call_async(futures_util::stream::iter(1..=100u64))
        .await
        .expect("sum");
    assert_eq!(total, 5050);
    let double = demo.channel.stream_stream::<u64, u64>("/demo.Aio/Double");
    let doubled: Vec<u64> = double
        .call_async(futures_util::stream::iter([1u64, 2, 3]))
        .await
        .expect("double starts")
        .map(|n| n.expect("doubled"))
        .collect()
        .await;
    assert_eq!(doubled, [2, 4, 6]);
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_unary_call_answers_its_call_methods() {
    let demo = Demo::start().await;
    let gate = demo.channel.unary_unary::<String, String>("/demo.Aio/Gate");
    let call = gate.call_async("hi".to_string());
    // The handler holds its answer until the test opens the gate, so the
    // headers are seen while the RPC is still in flight.
    call.wait_for_connection().await.expect("connected");
    let headers = call.initial_metadata().await;
    assert_eq!(headers.get("stage"), Some("headers"));
    assert!(call.is_active(), "the handler is still waiting");
    demo.gate.add_permits(1);
    assert_eq!(call.code().await, Code::Ok);
    assert_eq!(call.details().await, "");
    assert_eq!(
        call.trailing_metadata().await.get("stage"),
        Some("trailers")
    );
    assert!(!call.is_active());
    assert_eq!(call.await.expect("reply"), "hi!");

    // Awaited directly, without looking at it first.
    demo.gate.add_permits(1);
    assert_eq!(
        gate.call_async("again".to_string()).await.expect("reply"),
        "again!"
    );

    // A failed call: the call methods and the awaited result agree.
    let fail = demo.channel.unary_unary::<String, String>("/demo.Aio/Fail");
    let call = fail.call_async(String::new());
    call.wait_for_connection()
        .await
        .expect("the call reached the server");
    assert_eq!(call.code().await, Code::NotFound);
    assert_eq!(call.details().await, "no such thing");
    assert_eq!(call.await.expect_err("error").code(), Code::NotFound);
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_connection_fails_when_nothing_listens() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let channel = insecure_channel(&format!("127.0.0.1:{port}")).expect("channel");
    let call = channel
        .unary_unary::<String, String>("/demo.Aio/Gate")
        .call_async(String::new());
    let error = call
        .wait_for_connection()
        .await
        .expect_err("nothing listens");
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    let stream = channel
        .unary_stream::<String, String>("/demo.Aio/Any")
        .call_async(String::new())
        .await
        .expect("stream starts");
    let error = stream
        .wait_for_connection()
        .await
        .expect_err("nothing listens");
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_streaming_calls_are_fed_by_writes() {
    let demo = Demo::start().await;
    let sum = demo.channel.stream_unary::<u64, u64>("/demo.Aio/Sum");
    let call = sum.start_async();
    for n in 1..=10u64 {
        call.write(n).await.expect("write");
    }
    call.write(WithOptions::uncompressed(45u64))
        .await
        .expect("write");
    call.done_writing();
    let error = call
        .write(1u64)
        .await
        .expect_err("write after done_writing");
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(call.await.expect("sum"), 100);

    // A writer handle from another task.
    let call = sum.start_async();
    let writer = call.writer();
    let feeder = tokio::spawn(async move {
        for n in 0..1000u64 {
            writer.write(n).await?;
        }
        writer.done_writing();
        Ok::<_, grpc_core::RpcError>(())
    });
    assert_eq!(call.await.expect("sum"), 499_500);
    feeder.await.expect("task").expect("writes");
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_calls_write_and_read_in_turn() {
    let demo = Demo::start().await;
    let double = demo.channel.stream_stream::<u64, u64>("/demo.Aio/Double");
    let mut call = double.start_async();
    call.wait_for_connection().await.expect("connected");
    // Ping-pong: each reply comes before the next request is written.
    for n in 1..=5u64 {
        call.write(n).await.expect("write");
        let reply = call.read().await.expect("a reply").expect("ok");
        assert_eq!(reply, n * 2);
    }
    call.done_writing();
    assert!(
        call.read().await.is_none(),
        "the stream ends after the half-close"
    );
    assert_eq!(call.code().await, Code::Ok);

    // A write on an RPC that ended reports its status.
    let call = double.start_async();
    call.cancel();
    let error = call.write(1u64).await.expect_err("cancelled RPC");
    assert_eq!(error.code(), Code::Cancelled, "{error:?}");
    demo.stop().await;
}
