//! Message size limits, the concurrent-RPC limit, compression, and server
//! shutdown with RPCs in flight.

use std::time::{Duration, Instant};

use grpc_core::{CallOptions, ChannelBuilder, Code, Compression, Server};
use rustgrpc_tests::{EchoRequest, EventKind, TestServer, TestServiceStub, echo, ms, tagged};

const PROMPT: Duration = Duration::from_secs(1);
const LIMIT: usize = 1024;

fn with_payload(len: usize) -> EchoRequest {
    EchoRequest {
        payload: vec![7; len],
        ..EchoRequest::default()
    }
}

fn with_response_size(len: u32) -> EchoRequest {
    EchoRequest {
        response_size: len,
        ..EchoRequest::default()
    }
}

#[test]
fn oversized_request_is_resource_exhausted_and_the_connection_survives() {
    let server = TestServer::start_with(Server::builder().max_receive_message_length(LIMIT));
    let stub = server.stub();
    let first = stub.unary_call().call(with_payload(LIMIT - 100)).unwrap();

    let err = stub.unary_call().call(with_payload(LIMIT * 4)).unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // A big message (bigger than a window's worth of frames) is refused too.
    let err = stub.unary_call().call(with_payload(3 << 20)).unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // Same channel, same connection (the server sees the same peer port).
    let after = stub.unary_call().call(with_payload(10)).unwrap();
    assert_eq!(after.peer, first.peer, "the connection was replaced");

    // In a client stream: the second message is too big.
    let err = stub
        .streaming_input_call()
        .call(vec![
            with_payload(10),
            with_payload(LIMIT * 2),
            with_payload(10),
        ])
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let mut bidi = stub.full_duplex_call().call(rx).unwrap();
    tx.send(with_payload(10)).unwrap();
    assert!(bidi.next().unwrap().is_ok());
    tx.send(with_payload(LIMIT * 2)).unwrap();
    assert_eq!(
        bidi.next().unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );
    drop(tx);

    let after = stub.unary_call().call(echo("still here")).unwrap();
    assert_eq!(after.message, "still here");
    assert_eq!(after.peer, first.peer, "the connection was replaced");
}

#[test]
fn oversized_response_is_resource_exhausted_on_the_client() {
    let server = TestServer::start();
    let channel = ChannelBuilder::new(server.target())
        .max_receive_message_length(LIMIT)
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel);
    let first = stub.unary_call().call(with_response_size(100)).unwrap();

    let err = stub
        .unary_call()
        .call(with_response_size(4 * LIMIT as u32))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    let mut stream = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_size: 4 * LIMIT as u32,
            response_count: 3,
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );
    assert!(stream.next().is_none());

    let after = stub.unary_call().call(with_response_size(100)).unwrap();
    assert_eq!(after.peer, first.peer, "the connection was replaced");
}

#[test]
fn default_receive_limit_is_4_mib() {
    let server = TestServer::start();
    let stub = server.stub();
    let big = grpc_core::DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH;
    assert_eq!(big, 4 << 20);
    // Just under the limit works both ways (the rest of the response needs
    // a few hundred bytes); just over fails.
    let reply = stub
        .unary_call()
        .call(EchoRequest {
            payload: vec![1; big - 1024],
            response_size: (big - 1024) as u32,
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(reply.payload.len(), big - 1024);
    let err = stub.unary_call().call(with_payload(big + 1)).unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    let err = stub
        .unary_call()
        .call(with_response_size(big as u32 + 1))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
}

#[test]
fn send_limits() {
    let server = TestServer::start_with(Server::builder().max_send_message_length(LIMIT));
    let channel = ChannelBuilder::new(server.target())
        .max_send_message_length(LIMIT)
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel);

    let err = stub
        .unary_call()
        .with_options(tagged("client-send"))
        .call(with_payload(2 * LIMIT))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(
        server.events().count("client-send", EventKind::Started),
        0,
        "the oversized request must not reach the handler"
    );
    let err = stub
        .streaming_input_call()
        .call(vec![with_payload(10), with_payload(2 * LIMIT)])
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let err = stub
        .streaming_output_call()
        .call(with_payload(2 * LIMIT))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    let err = stub
        .unary_call()
        .call(with_response_size(2 * LIMIT as u32))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let mut stream = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_size: 2 * LIMIT as u32,
            response_count: 2,
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );

    assert!(stub.unary_call().call(with_payload(LIMIT / 2)).is_ok());
}

#[test]
fn maximum_concurrent_rpcs_rejects_at_once() {
    let server = TestServer::start_with(Server::builder().maximum_concurrent_rpcs(2));
    let stub = server.stub();
    let blocked: Vec<_> = ["busy-1", "busy-2"]
        .into_iter()
        .map(|tag| {
            stub.unary_call()
                .with_options(tagged(tag))
                .future(EchoRequest {
                    sleep_ms: 30_000,
                    ..EchoRequest::default()
                })
        })
        .collect();
    let events = server.events();
    events.expect("busy-1", EventKind::Started, Duration::from_secs(5));
    events.expect("busy-2", EventKind::Started, Duration::from_secs(5));
    assert_eq!(server.server().active_rpcs(), 2);

    let start = Instant::now();
    let err = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
        .call(echo("one too many"))
        .unwrap_err();
    // Rejected, not queued behind the two 30 s handlers: a queued call
    // would have ended with DEADLINE_EXCEEDED after its 10 s.
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "rejection took {:?}",
        start.elapsed()
    );
    let err = stub
        .streaming_output_call()
        .call(echo("also too many"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);

    for future in &blocked {
        assert!(future.cancel());
    }
    events.expect("busy-1", EventKind::Callback, PROMPT);
    events.expect("busy-2", EventKind::Callback, PROMPT);
    // Permits are released when the RPC tasks end, just after the callbacks.
    let deadline = Instant::now() + PROMPT;
    while server.server().active_rpcs() > 0 && Instant::now() < deadline {
        std::thread::sleep(ms(5));
    }
    assert_eq!(server.server().active_rpcs(), 0);
    assert_eq!(
        stub.unary_call().call(echo("room again")).unwrap().message,
        "room again"
    );
}

#[test]
fn max_workers_queue_rpcs_instead_of_failing() {
    let server = TestServer::start_with(Server::builder().max_workers(1));
    let stub = server.stub();
    let futures: Vec<_> = (0..3)
        .map(|i| {
            stub.unary_call().future(EchoRequest {
                message: i.to_string(),
                sleep_ms: 50,
                ..EchoRequest::default()
            })
        })
        .collect();
    for (i, future) in futures.iter().enumerate() {
        let reply = future.result(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(reply.message, i.to_string());
    }
}

#[test]
fn compression_round_trips() {
    for (server_compression, call_compression) in [
        (Compression::Gzip, Compression::Gzip),
        (Compression::Deflate, Compression::Gzip),
        (Compression::Identity, Compression::Deflate),
        (Compression::Gzip, Compression::Identity),
    ] {
        let server = TestServer::start_with(Server::builder().compression(server_compression));
        let stub = server.stub();
        let options = CallOptions::new().compression(call_compression);
        let request = EchoRequest {
            message: "compressed".into(),
            payload: b"abcdefgh".repeat(10_000),
            response_size: 100_000,
            ..EchoRequest::default()
        };
        let reply = stub
            .unary_call()
            .with_options(options.clone())
            .call(request.clone())
            .unwrap();
        assert_eq!(reply.message, "compressed");
        assert_eq!(reply.payload.len(), 100_000);

        let summary = stub
            .streaming_input_call()
            .with_options(options.clone())
            .call(vec![request.clone(), request.clone()])
            .unwrap();
        assert_eq!(summary.total_bytes, 160_000);

        let mut streamed = request.clone();
        streamed.response_count = 3;
        let replies: Vec<_> = stub
            .streaming_output_call()
            .with_options(options.clone())
            .call(streamed)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(replies.len(), 3);
        assert!(replies.iter().all(|r| r.payload.len() == 100_000));

        // A handler choosing its own response compression.
        let mut chosen = request;
        chosen.response_compression = "deflate".into();
        let reply = stub
            .unary_call()
            .with_options(options)
            .call(chosen)
            .unwrap();
        assert_eq!(reply.payload.len(), 100_000);
    }

    // A channel-wide default.
    let server = TestServer::start();
    let channel = ChannelBuilder::new(server.target())
        .compression(Compression::Gzip)
        .build()
        .unwrap();
    let reply = TestServiceStub::new(channel)
        .unary_call()
        .call(EchoRequest {
            payload: vec![0; 50_000],
            ..EchoRequest::default()
        })
        .unwrap();
    assert!(reply.peer.starts_with("ipv4:"));
}

#[test]
fn compressed_bomb_is_resource_exhausted() {
    // 3 MiB of zeros compress to a few KiB but decompress over the limit.
    let server = TestServer::start_with(Server::builder().max_receive_message_length(1 << 20));
    let err = server
        .stub()
        .unary_call()
        .with_options(CallOptions::new().compression(Compression::Gzip))
        .call(with_payload(3 << 20))
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
}

#[test]
fn graceful_stop_finishes_in_flight_rpcs_and_refuses_new_ones() {
    let server = TestServer::start();
    let stub = server.stub();
    stub.unary_call().call(echo("connect")).unwrap();
    let in_flight = stub
        .unary_call()
        .with_options(tagged("in-flight"))
        .future(EchoRequest {
            message: "finished in grace".into(),
            sleep_ms: 300,
            ..EchoRequest::default()
        });
    let mut stream = stub
        .streaming_output_call()
        .with_options(tagged("in-flight-stream"))
        .call(EchoRequest {
            response_count: 5,
            interval_ms: 50,
            ..EchoRequest::default()
        })
        .unwrap();
    let events = server.events();
    events.expect("in-flight", EventKind::Started, Duration::from_secs(5));
    events.expect(
        "in-flight-stream",
        EventKind::Started,
        Duration::from_secs(5),
    );

    let stop_start = Instant::now();
    let stopped = server.stop(Some(Duration::from_secs(5)));
    assert!(!stopped.is_set());

    // New RPCs are refused, on the old channel and on a new one.
    let err = stub
        .unary_call()
        .with_options(tagged("too-late"))
        .call(echo("too late"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let err = server
        .stub()
        .unary_call()
        .call(echo("too late"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(events.count("too-late", EventKind::Started), 0);

    // In-flight RPCs finish normally.
    let reply = in_flight.result(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(reply.message, "finished in grace");
    assert_eq!(stream.by_ref().filter(Result::is_ok).count(), 5);
    assert_eq!(stream.code(), Code::Ok);

    // Then the server terminates as soon as they are done, well before the
    // 5 s grace runs out (the connection of the idle channel does not hold
    // it up).
    stopped.wait();
    assert!(
        stop_start.elapsed() < ms(300) + PROMPT,
        "{:?}",
        stop_start.elapsed()
    );
    assert!(stopped.is_set());
    assert!(server.server().wait_for_termination(Some(Duration::ZERO)));
    assert!(server.server().wait_for_termination(None));
    // Stopping again is harmless.
    server.stop(None).wait();
}

#[test]
fn grace_running_out_cancels_in_flight_rpcs() {
    let server = TestServer::start();
    let stub = server.stub();
    let future = stub
        .unary_call()
        .with_options(tagged("overstays"))
        .future(EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        });
    server
        .events()
        .expect("overstays", EventKind::Started, Duration::from_secs(5));
    let grace = ms(200);
    let start = Instant::now();
    let stopped = server.stop(Some(grace));
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(err.code(), Code::Cancelled | Code::Unavailable),
        "{err:?}"
    );
    assert!(
        elapsed >= grace - ms(20),
        "cancelled before the grace ran out: {elapsed:?}"
    );
    assert!(elapsed < grace + PROMPT, "took {elapsed:?}");
    server
        .events()
        .expect("overstays", EventKind::SawInactive, PROMPT);
    assert!(stopped.wait_timeout(Duration::from_secs(3)));
}

#[test]
fn stop_without_grace_cancels_at_once() {
    let server = TestServer::start();
    let stub = server.stub();
    let future = stub
        .unary_call()
        .with_options(tagged("cut-short"))
        .future(EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        });
    let (tx, rx) = std::sync::mpsc::sync_channel::<EchoRequest>(1);
    let mut bidi = stub
        .full_duplex_call()
        .with_options(tagged("cut-short-bidi"))
        .call(rx)
        .unwrap();
    tx.send(echo("hi")).unwrap();
    assert!(bidi.next().unwrap().is_ok());
    let events = server.events();
    events.expect("cut-short", EventKind::Started, Duration::from_secs(5));

    let start = Instant::now();
    let stopped = server.stop(None);
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    // The server resets the stream with CANCEL, which the client reads as
    // CANCELLED.
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    let err = bidi.next().unwrap().unwrap_err();
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    events.expect("cut-short", EventKind::SawInactive, PROMPT);
    events.expect("cut-short-bidi", EventKind::Callback, PROMPT);
    assert!(stopped.wait_timeout(Duration::from_secs(2)));
    assert!(server.server().wait_for_termination(Some(Duration::ZERO)));
    drop(tx);
}

#[test]
fn server_that_never_started_stops_at_once() {
    let server = Server::builder().build();
    server.add_insecure_port("127.0.0.1:0").unwrap();
    assert!(!server.wait_for_termination(Some(ms(10))));
    server.stop(None).wait();
    assert!(server.wait_for_termination(Some(Duration::ZERO)));
    assert!(server.start().is_err());
    assert!(
        server
            .add_insecure_port("127.0.0.1:0")
            .unwrap_err()
            .is_bad_state()
    );
}

#[test]
fn a_handler_blocked_by_backpressure_is_freed_by_cancellation() {
    // One worker: if the cancelled handler kept it, the next call would hang.
    let server = TestServer::start_with(Server::builder().max_workers(1));
    let stub = server.stub();
    let mut stream = stub
        .streaming_output_call()
        .with_options(tagged("flooding"))
        .call(EchoRequest {
            response_count: 10_000,
            response_size: 64 << 10,
            ..EchoRequest::default()
        })
        .unwrap();
    assert!(stream.next().unwrap().is_ok());
    std::thread::sleep(ms(100)); // windows and queues fill up; the handler blocks
    drop(stream);
    server
        .events()
        .expect("flooding", EventKind::Callback, PROMPT);
    let start = Instant::now();
    let reply = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(5)))
        .call(echo("next"))
        .unwrap();
    assert_eq!(reply.message, "next");
    assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());
}

#[test]
fn deadline_passes_while_queued_for_a_worker() {
    let server = TestServer::start_with(Server::builder().max_workers(1));
    let stub = server.stub();
    let busy = stub
        .unary_call()
        .with_options(tagged("hogging"))
        .future(EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        });
    let events = server.events();
    events.expect("hogging", EventKind::Started, Duration::from_secs(5));
    let start = Instant::now();
    let err = stub
        .unary_call()
        .with_options(tagged("queued").timeout(ms(200)))
        .call(echo("queued"))
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(start.elapsed() < ms(200) + PROMPT);
    assert_eq!(server.server().queued_rpcs(), 1);
    // Wait until the server has ended the expired RPC (the client's reset
    // or the server's own deadline), so the worker freed below finds it over.
    let deadline = Instant::now() + PROMPT;
    while server.server().active_rpcs() > 1 && Instant::now() < deadline {
        std::thread::sleep(ms(5));
    }
    assert_eq!(
        server.server().active_rpcs(),
        1,
        "only the hogging RPC is left"
    );
    assert!(busy.cancel());
    events.expect("hogging", EventKind::Callback, PROMPT);
    // The expired job is skipped, not run.
    let reply = stub.unary_call().call(echo("after")).unwrap();
    assert_eq!(reply.message, "after");
    assert_eq!(events.count("queued", EventKind::Started), 0);
}

#[test]
fn a_connection_whose_handshake_ends_after_stop_does_not_hold_the_stop() {
    // The round-robin example hung in `stop(None).wait()` now and then: a
    // client reconnecting right after the GOAWAY was accepted, and its
    // connection, past its handshake only once the server was stopping,
    // never saw the stop. Here that order is forced: the connection is
    // handed to the server, the server stops, then the client completes
    // the HTTP/2 handshake.
    let server = Server::builder().build();
    server.start().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (client_io, server_io) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    });
    let credentials = grpc_core::insecure_server_credentials();
    server
        .serve_connection(server_io, "ipv4:127.0.0.1:1", &credentials)
        .unwrap();
    let stopped = server.stop(None);
    let _client = runtime.block_on(async {
        let (send, connection) = h2::client::handshake(client_io).await.unwrap();
        tokio::spawn(connection);
        send
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        stopped.wait();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server stopped (its late connection was closed)");
}
