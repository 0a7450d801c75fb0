//! The four RPC patterns through generated stubs and servicers, and every
//! method of `Call`, `ResponseIterator` and `CallFuture`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grpc_core::{CallOptions, Code};
use rustgrpc_tests::{
    EchoRequest, EventKind, TestServer, UnimplementedServiceStub, echo, ms, tagged,
};

const PROMPT: Duration = Duration::from_secs(1);

#[test]
fn unary_call_with_call_and_future() {
    let server = TestServer::start();
    let stub = server.stub();

    let reply = stub.unary_call().call(echo("plain")).unwrap();
    assert_eq!(reply.message, "plain");
    assert!(reply.peer.starts_with("ipv4:127.0.0.1:"), "{}", reply.peer);

    let (reply, call) = stub.unary_call().with_call(echo("with call")).unwrap();
    assert_eq!(reply.message, "with call");
    assert_eq!(call.code(), Code::Ok);
    assert_eq!(call.details(), "");
    assert!(call.status().is_ok());
    assert!(!call.is_active());
    assert!(call.trailing_metadata().is_empty());
    assert!(call.initial_metadata().is_empty());
    assert_eq!(call.time_remaining(), None);
    assert!(!call.add_callback(|| panic!("must not run after termination")));
    call.cancel(); // no effect once ended
    assert_eq!(call.code(), Code::Ok);

    let future = stub.unary_call().future(echo("future"));
    assert_eq!(future.result(Some(PROMPT)).unwrap().message, "future");
    assert!(future.done());
    assert!(!future.running());
    assert!(!future.cancelled());
    assert!(future.exception(None).is_none());
    assert!(!future.cancel(), "cancel after completion returns false");
    assert!(!future.cancelled());
    assert_eq!(future.code(), Code::Ok);
    assert!(!future.is_active());
    // add_done_callback on a done future runs at once, with the future.
    let (tx, rx) = mpsc::channel();
    future.add_done_callback(move |f| tx.send(f.result(None).unwrap().message).unwrap());
    assert_eq!(rx.try_recv().unwrap(), "future");
}

#[test]
fn future_methods_while_running_and_after() {
    let server = TestServer::start();
    let stub = server.stub();
    let future = stub.unary_call().future(EchoRequest {
        message: "slow".into(),
        sleep_ms: 300,
        ..EchoRequest::default()
    });
    let (tx, rx) = mpsc::channel();
    future.add_done_callback(move |f| {
        let _ = tx.send((f.done(), f.result(Some(Duration::ZERO)).map(|r| r.message)));
    });
    assert!(future.running());
    assert!(!future.done());
    assert!(!future.cancelled());
    assert!(future.is_active());

    let start = Instant::now();
    let err = future.result(Some(ms(30))).unwrap_err();
    assert!(err.is_future_timeout(), "{err:?}");
    assert!(!err.is_deadline_exceeded());
    // It gave up before the call ended (the handler sleeps 300 ms).
    assert!(!future.done(), "result(timeout) waited for the call");
    assert!(start.elapsed() >= ms(30), "{:?}", start.elapsed());
    let err = future.exception(Some(ms(10))).expect("a timeout error");
    assert!(err.is_future_timeout(), "{err:?}");
    assert!(future.running(), "a future timeout does not end the RPC");

    assert_eq!(
        future.result(Some(Duration::from_secs(5))).unwrap().message,
        "slow"
    );
    assert!(future.done());
    let (done, result) = rx.recv_timeout(PROMPT).expect("done callback ran");
    assert!(done);
    assert_eq!(result.unwrap(), "slow");
}

#[test]
fn future_exception_carries_the_rpc_error() {
    let server = TestServer::start();
    let future = server.stub().unary_call().future(EchoRequest {
        fail_code: Code::NotFound as i32,
        fail_message: "no such thing".into(),
        ..EchoRequest::default()
    });
    let err = future
        .exception(Some(Duration::from_secs(5)))
        .expect("failed RPC");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.details(), "no such thing");
    assert!(!err.is_future_timeout());
    let err = future.result(None).unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(future.done());
    assert!(!future.cancelled());
    assert_eq!(future.code(), Code::NotFound);
    assert_eq!(future.details(), "no such thing");
}

#[test]
fn future_cancel_from_another_thread() {
    let server = TestServer::start();
    let future = server
        .stub()
        .unary_call()
        .with_options(tagged("cancel-future"))
        .future(EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        });
    server
        .events()
        .expect("cancel-future", EventKind::Started, Duration::from_secs(5));
    let (tx, rx) = mpsc::channel();
    future.add_done_callback(move |f| {
        let _ = tx.send(f.cancelled());
    });
    let canceller = {
        let future = future.clone();
        std::thread::spawn(move || future.cancel())
    };
    let start = Instant::now();
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    assert!(
        canceller.join().unwrap(),
        "cancel of a running future returns true"
    );
    assert!(
        start.elapsed() < PROMPT,
        "cancel took {:?}",
        start.elapsed()
    );
    assert!(err.is_future_cancelled(), "{err:?}");
    assert!(err.is_cancelled());
    assert!(future.cancelled());
    assert!(future.done());
    assert!(!future.running());
    assert!(!future.cancel(), "second cancel returns false");
    assert_eq!(future.code(), Code::Cancelled);
    assert!(
        rx.recv_timeout(PROMPT).unwrap(),
        "done callback saw cancelled()"
    );
    let exception = future.exception(Some(Duration::ZERO)).unwrap();
    assert!(exception.is_future_cancelled());
    // The server handler learns promptly that the RPC is over.
    server
        .events()
        .expect("cancel-future", EventKind::SawInactive, PROMPT);
}

#[test]
fn add_done_callback_before_completion_runs_once() {
    let server = TestServer::start();
    let future = server.stub().unary_call().future(EchoRequest {
        sleep_ms: 50,
        ..EchoRequest::default()
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let calls = Arc::clone(&calls);
        let tx = tx.clone();
        future.add_done_callback(move |f| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(f.done());
        });
    }
    for _ in 0..2 {
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn stream_unary_call_with_call_and_future() {
    let server = TestServer::start();
    let stub = server.stub();
    let requests = || ["a", "b", "c", "d", "e"].map(echo).into_iter();

    let summary = stub.streaming_input_call().call(requests()).unwrap();
    assert_eq!(summary.request_count, 5);
    assert_eq!(summary.message, "a,b,c,d,e");

    let (summary, call) = stub.streaming_input_call().with_call(requests()).unwrap();
    assert_eq!(summary.message, "a,b,c,d,e");
    assert_eq!(call.code(), Code::Ok);
    assert!(!call.is_active());

    let future = stub.streaming_input_call().future(requests());
    assert_eq!(
        future
            .result(Some(Duration::from_secs(5)))
            .unwrap()
            .request_count,
        5
    );

    // No requests at all is a valid stream.
    let summary = stub
        .streaming_input_call()
        .call(std::iter::empty())
        .unwrap();
    assert_eq!(summary.request_count, 0);

    // A request iterator that is a channel receiver.
    let (tx, rx) = mpsc::sync_channel(1);
    let producer = std::thread::spawn(move || {
        for i in 0..20 {
            tx.send(echo(&i.to_string())).unwrap();
        }
    });
    let summary = stub.streaming_input_call().call(rx).unwrap();
    producer.join().unwrap();
    assert_eq!(summary.request_count, 20);
}

#[test]
fn unary_stream_iterator_and_call_methods() {
    let server = TestServer::start();
    let stub = server.stub();
    let mut responses = stub
        .streaming_output_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
        .call(EchoRequest {
            message: "item".into(),
            response_count: 5,
            ..EchoRequest::default()
        })
        .unwrap();
    assert!(responses.initial_metadata().is_empty());
    let remaining = responses.time_remaining().expect("a deadline");
    assert!(remaining <= Duration::from_secs(10) && remaining > Duration::from_secs(5));
    let mut indexes = Vec::new();
    for response in &mut responses {
        let response = response.unwrap();
        assert_eq!(response.message, "item");
        indexes.push(response.index);
    }
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
    assert_eq!(responses.code(), Code::Ok);
    assert_eq!(responses.details(), "");
    assert!(responses.trailing_metadata().is_empty());
    assert!(!responses.is_active());
    assert!(!responses.add_callback(|| {}));
    assert!(responses.next().is_none(), "the iterator stays finished");

    // Zero responses is a valid stream.
    let responses = stub.streaming_output_call().call(echo("none")).unwrap();
    assert_eq!(responses.count(), 0);
}

#[test]
fn call_methods_on_a_live_stream() {
    let server = TestServer::start();
    let mut responses = server
        .stub()
        .streaming_output_call()
        .with_options(tagged("live"))
        .call(EchoRequest {
            response_count: 1000,
            interval_ms: 20,
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(responses.next().unwrap().unwrap().index, 0);
    assert!(responses.is_active());
    assert_eq!(responses.time_remaining(), None);
    let (tx, rx) = mpsc::channel();
    assert!(responses.add_callback(move || tx.send(()).unwrap()));
    let call = responses.call().clone();
    assert!(call.is_active());
    responses.cancel();
    rx.recv_timeout(PROMPT).expect("callback ran on cancel");
    assert!(!call.is_active());
    assert_eq!(call.code(), Code::Cancelled);
    // Already-buffered responses may still come out; then CANCELLED.
    let last = responses.by_ref().last().expect("an error item");
    assert_eq!(last.unwrap_err().code(), Code::Cancelled);
    assert!(responses.next().is_none());
    server.events().expect("live", EventKind::Callback, PROMPT);
}

#[test]
fn stream_stream_is_full_duplex() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel(4);
    let mut responses = server.stub().full_duplex_call().call(rx).unwrap();
    // Each response arrives while the request stream is still open.
    for i in 0..5u32 {
        tx.send(echo(&format!("ping {i}"))).unwrap();
        let response = responses.next().unwrap().unwrap();
        assert_eq!(response.message, format!("ping {i}"));
        assert_eq!(response.index, i);
    }
    assert!(responses.is_active());
    drop(tx); // half-close
    assert!(responses.next().is_none());
    assert_eq!(responses.code(), Code::Ok);
    assert!(!responses.is_active());
}

#[test]
fn stream_stream_from_another_thread() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel(10);
    let responses = server.stub().full_duplex_call().call(rx).unwrap();
    let reader =
        std::thread::spawn(move || responses.map(|r| r.unwrap().message).collect::<Vec<_>>());
    for i in 0..50 {
        tx.send(echo(&i.to_string())).unwrap();
    }
    drop(tx);
    let got = reader.join().unwrap();
    assert_eq!(got, (0..50).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn unimplemented_methods_and_services() {
    let server = TestServer::start();
    let channel = server.channel();

    // Left unimplemented in the servicer: the generated default.
    let err = rustgrpc_tests::TestServiceStub::new(channel.clone())
        .unimplemented_call()
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(err.is_unimplemented());

    // A service the server does not know.
    let err = UnimplementedServiceStub::new(channel.clone())
        .unimplemented_call()
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");

    // A method the known service does not have, in every pattern.
    let path = "/rustgrpc.testing.TestService/NoSuchMethod";
    let err = channel
        .unary_unary::<EchoRequest, EchoRequest>(path)
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let mut stream = channel
        .unary_stream::<EchoRequest, EchoRequest>(path)
        .call(echo("x"))
        .unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap_err().code(),
        Code::Unimplemented
    );
    assert_eq!(stream.code(), Code::Unimplemented);
    let err = channel
        .stream_unary::<EchoRequest, EchoRequest>(path)
        .call(vec![echo("x")])
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let (tx, rx) = mpsc::sync_channel::<EchoRequest>(1);
    let mut stream = channel
        .stream_stream::<EchoRequest, EchoRequest>(path)
        .call(rx)
        .unwrap();
    // The server answers before the client half-closes.
    assert_eq!(
        stream.next().unwrap().unwrap_err().code(),
        Code::Unimplemented
    );
    drop(tx);

    // The channel still works.
    assert_eq!(
        rustgrpc_tests::TestServiceStub::new(channel)
            .unary_call()
            .call(echo("ok"))
            .unwrap()
            .message,
        "ok"
    );
}

#[test]
fn server_answers_before_an_endless_request_stream_ends() {
    let server = TestServer::start();
    let failing = EchoRequest {
        fail_code: Code::InvalidArgument as i32,
        fail_message: "first one is bad".into(),
        ..EchoRequest::default()
    };
    let start = Instant::now();
    let err = server
        .stub()
        .streaming_input_call()
        .call(std::iter::repeat(failing.clone()))
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());

    let mut stream = server
        .stub()
        .full_duplex_call()
        .call(std::iter::repeat(failing))
        .unwrap();
    assert_eq!(
        stream.next().unwrap().unwrap_err().code(),
        Code::InvalidArgument
    );
    assert!(stream.next().is_none());
}

#[test]
fn a_panicking_request_iterator_fails_the_call() {
    let server = TestServer::start();
    let requests = (0..3).map(|i| {
        if i == 2 {
            panic!("request iterator exploded");
        }
        echo(&i.to_string())
    });
    let result = server
        .stub()
        .streaming_input_call()
        .with_options(tagged("panicky"))
        .call(requests);
    // The server must not take the truncated stream for a complete one.
    let err = result.expect_err("a call whose request iterator panicked must fail");
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    assert_eq!(err.details(), "Exception iterating requests!");
    // The server sees the call cancelled, not a complete request stream.
    let error = server
        .events()
        .expect("panicky", EventKind::RequestError, PROMPT);
    assert_eq!(error.detail, "CANCELLED");

    // The same on a bidi call, after a response went through.
    let requests = (0..3).map(|i| {
        if i == 1 {
            std::thread::sleep(ms(50));
            panic!("request iterator exploded");
        }
        echo(&i.to_string())
    });
    let mut stream = server.stub().full_duplex_call().call(requests).unwrap();
    assert_eq!(stream.next().unwrap().unwrap().message, "0");
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
}

#[test]
fn many_concurrent_calls_share_one_channel() {
    let server = TestServer::start();
    let stub = server.stub();
    let futures: Vec<_> = (0..200)
        .map(|i| stub.unary_call().future(echo(&i.to_string())))
        .collect();
    let streams: Vec<_> = (0..20)
        .map(|_| {
            stub.streaming_output_call()
                .call(EchoRequest {
                    response_count: 20,
                    ..EchoRequest::default()
                })
                .unwrap()
        })
        .collect();
    let mut peers = std::collections::HashSet::new();
    for (i, future) in futures.iter().enumerate() {
        let reply = future.result(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(reply.message, i.to_string());
        peers.insert(reply.peer);
    }
    for stream in streams {
        assert_eq!(stream.map(Result::unwrap).count(), 20);
    }
    assert_eq!(peers.len(), 1, "all calls went over one connection");
}

#[test]
fn large_streams_in_both_directions() {
    let server = TestServer::start();
    let stub = server.stub();
    // 16 MiB down a server stream, read slowly at first.
    let mut stream = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_count: 64,
            response_size: 256 << 10,
            ..EchoRequest::default()
        })
        .unwrap();
    std::thread::sleep(ms(100));
    let mut total = 0;
    for (i, reply) in (&mut stream).enumerate() {
        let reply = reply.unwrap();
        assert_eq!(reply.index as usize, i);
        total += reply.payload.len();
    }
    assert_eq!(total, 64 * (256 << 10));

    // 8 MiB up a client stream.
    let summary = stub
        .streaming_input_call()
        .call((0..32).map(|_| EchoRequest {
            payload: vec![1; 256 << 10],
            ..EchoRequest::default()
        }))
        .unwrap();
    assert_eq!(summary.total_bytes, 32 * (256 << 10));

    // Both at once on a bidi call, read on another thread.
    let (tx, rx) = mpsc::sync_channel(2);
    let responses = stub.full_duplex_call().call(rx).unwrap();
    let reader =
        std::thread::spawn(move || responses.map(|r| r.unwrap().payload.len()).sum::<usize>());
    for _ in 0..32 {
        tx.send(EchoRequest {
            payload: vec![2; 128 << 10],
            response_size: 128 << 10,
            ..EchoRequest::default()
        })
        .unwrap();
    }
    drop(tx);
    assert_eq!(reader.join().unwrap(), 32 * (128 << 10));
}

#[test]
fn initial_metadata_arrives_before_the_first_message() {
    let server = TestServer::start();
    let mut stream = server
        .stub()
        .streaming_output_call()
        .call(EchoRequest {
            initial_metadata: vec![rustgrpc_tests::entry("x-early", "yes")],
            response_count: 2,
            interval_ms: 30_000,
            ..EchoRequest::default()
        })
        .unwrap();
    let start = Instant::now();
    assert_eq!(stream.initial_metadata().get("x-early"), Some("yes"));
    assert!(start.elapsed() < PROMPT);
    assert!(stream.next().unwrap().is_ok());
    assert!(stream.is_active());
    stream.cancel();
}
