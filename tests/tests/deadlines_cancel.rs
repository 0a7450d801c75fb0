//! Deadlines, cancellation from other threads, and request iterators that
//! block without stalling the connection.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use grpc_core::{CallOptions, Code};
use rustgrpc_tests::{EchoRequest, EventKind, TestServer, assert_between, echo, ms, tagged};

/// Upper bound for "promptly".
const PROMPT: Duration = Duration::from_secs(1);
/// How late a deadline may fire (it typically fires within 1-3 ms).
const DEADLINE_SLACK: Duration = Duration::from_millis(100);

fn sleeping(millis: u32) -> EchoRequest {
    EchoRequest {
        sleep_ms: millis,
        ..EchoRequest::default()
    }
}

#[test]
fn timeout_reaches_the_server_as_a_deadline() {
    let server = TestServer::start();
    let stub = server.stub();
    let response = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(5)))
        .call(echo(""))
        .unwrap();
    assert!(response.has_deadline);
    assert!(
        (4_000..=5_000).contains(&response.time_remaining_ms),
        "server saw {} ms left",
        response.time_remaining_ms
    );

    let response = stub.unary_call().call(echo("")).unwrap();
    assert!(!response.has_deadline);

    let mut stream = stub
        .streaming_output_call()
        .with_options(CallOptions::new().timeout(ms(800)))
        .call(EchoRequest {
            response_count: 1,
            ..EchoRequest::default()
        })
        .unwrap();
    let response = stream.next().unwrap().unwrap();
    assert!(response.has_deadline);
    assert!(
        (300..=800).contains(&response.time_remaining_ms),
        "{}",
        response.time_remaining_ms
    );
}

#[test]
fn unary_deadline_exceeded_on_time_and_server_sees_it() {
    let server = TestServer::start();
    let deadline = ms(200);
    let start = Instant::now();
    let err = server
        .stub()
        .unary_call()
        .with_options(tagged("deadline").timeout(deadline))
        .call(sleeping(30_000))
        .unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(err.is_deadline_exceeded());
    assert_between("deadline", elapsed, deadline, deadline + DEADLINE_SLACK);

    // The handler's context went inactive and its callback ran, around
    // the deadline.
    let events = server.events();
    let callback = events.expect("deadline", EventKind::Callback, PROMPT);
    let saw = events.expect("deadline", EventKind::SawInactive, PROMPT);
    let started = events.expect("deadline", EventKind::Started, PROMPT);
    assert_between(
        "server-side deadline",
        callback.at - started.at,
        deadline - ms(50),
        deadline + DEADLINE_SLACK,
    );
    assert!(saw.at >= callback.at);
}

#[test]
fn future_deadline_exceeded() {
    let server = TestServer::start();
    let start = Instant::now();
    let future = server
        .stub()
        .unary_call()
        .with_options(CallOptions::new().timeout(ms(150)))
        .future(sleeping(30_000));
    let remaining = future.time_remaining().unwrap();
    assert!(remaining <= ms(150));
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(!err.is_future_timeout());
    assert_between(
        "future deadline",
        start.elapsed(),
        ms(150),
        ms(150) + DEADLINE_SLACK,
    );
    assert_eq!(future.time_remaining(), Some(Duration::ZERO));
    assert!(!future.cancelled());
}

#[test]
fn zero_timeout_fails_at_once() {
    let server = TestServer::start();
    let stub = server.stub();
    stub.unary_call().call(echo("connect")).unwrap();
    for _ in 0..20 {
        let start = Instant::now();
        let err = stub
            .unary_call()
            .with_options(tagged("expired").timeout(Duration::ZERO))
            .call(echo(""))
            .unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
        assert!(start.elapsed() < PROMPT);
    }
    let err = stub
        .streaming_output_call()
        .with_options(tagged("expired").timeout(Duration::ZERO))
        .call(echo(""))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    // An expired call is not even sent.
    stub.unary_call().call(echo("after")).unwrap();
    assert_eq!(server.events().count("expired", EventKind::Started), 0);
}

#[test]
fn streaming_deadline_ends_the_stream() {
    let server = TestServer::start();
    let deadline = ms(300);
    let start = Instant::now();
    let stream = server
        .stub()
        .streaming_output_call()
        .with_options(tagged("stream-deadline").timeout(deadline))
        .call(EchoRequest {
            response_count: 1_000,
            interval_ms: 40,
            ..EchoRequest::default()
        })
        .unwrap();
    let items: Vec<_> = stream.collect();
    let elapsed = start.elapsed();
    let (last, messages) = items.split_last().unwrap();
    assert!(messages.len() >= 2, "got {} messages", messages.len());
    assert!(messages.iter().all(Result::is_ok));
    assert_eq!(last.as_ref().unwrap_err().code(), Code::DeadlineExceeded);
    assert_between(
        "stream deadline",
        elapsed,
        deadline,
        deadline + DEADLINE_SLACK,
    );
    server
        .events()
        .expect("stream-deadline", EventKind::SawInactive, PROMPT);
}

#[test]
fn client_streaming_deadline_with_a_stuck_request_iterator() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel::<EchoRequest>(1);
    tx.send(echo("first")).unwrap();
    let deadline = ms(250);
    let start = Instant::now();
    let err = server
        .stub()
        .streaming_input_call()
        .with_options(tagged("stuck").timeout(deadline))
        .call(rx)
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert_between(
        "client-streaming deadline",
        start.elapsed(),
        deadline,
        deadline + DEADLINE_SLACK,
    );
    let events = server.events();
    events.expect("stuck", EventKind::Request, PROMPT);
    events.expect("stuck", EventKind::RequestError, PROMPT);
    events.expect("stuck", EventKind::Callback, PROMPT);
    // The iterator's thread is released once the sender goes away.
    drop(tx);
}

#[test]
fn unary_stream_cancelled_from_another_thread() {
    let server = TestServer::start();
    let mut stream = server
        .stub()
        .streaming_output_call()
        .with_options(tagged("cancel-stream"))
        .call(EchoRequest {
            response_count: 2,
            interval_ms: 30_000,
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(stream.next().unwrap().unwrap().index, 0);
    let call = stream.call().clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        ready_tx.send(()).unwrap();
        let next = stream.next();
        (Instant::now(), next, stream.code())
    });
    ready_rx.recv().unwrap();
    std::thread::sleep(ms(50)); // let the reader block in next()
    let cancelled_at = Instant::now();
    call.cancel();
    let (woke_at, next, code) = reader.join().unwrap();
    assert!(
        woke_at - cancelled_at < PROMPT,
        "next() woke after {:?}",
        woke_at - cancelled_at
    );
    let err = next.expect("an item").unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    assert_eq!(code, Code::Cancelled);
    let saw = server
        .events()
        .expect("cancel-stream", EventKind::SawInactive, PROMPT);
    assert!(saw.at - cancelled_at < PROMPT);
}

#[test]
fn dropping_a_response_iterator_cancels_the_rpc() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel(1);
    let mut stream = server
        .stub()
        .full_duplex_call()
        .with_options(tagged("drop-bidi"))
        .call(rx)
        .unwrap();
    tx.send(echo("one")).unwrap();
    assert_eq!(stream.next().unwrap().unwrap().message, "one");
    drop(stream);
    let events = server.events();
    let error = events.expect("drop-bidi", EventKind::RequestError, PROMPT);
    assert_eq!(error.detail, "CANCELLED");
    events.expect("drop-bidi", EventKind::Callback, PROMPT);
    drop(tx);

    // The same for a server-streaming call whose handler is sleeping.
    let stream = server
        .stub()
        .streaming_output_call()
        .with_options(tagged("drop-stream"))
        .call(EchoRequest {
            sleep_ms: 30_000,
            response_count: 1,
            ..EchoRequest::default()
        })
        .unwrap();
    events.expect("drop-stream", EventKind::Started, PROMPT);
    drop(stream);
    events.expect("drop-stream", EventKind::SawInactive, PROMPT);
}

#[test]
fn client_streaming_future_cancelled_from_another_thread() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel::<EchoRequest>(1);
    tx.send(echo("first")).unwrap();
    let future = server
        .stub()
        .streaming_input_call()
        .with_options(tagged("cancel-client-stream"))
        .future(rx);
    let events = server.events();
    events.expect("cancel-client-stream", EventKind::Request, PROMPT);
    let canceller = {
        let future = future.clone();
        std::thread::spawn(move || future.cancel())
    };
    assert!(canceller.join().unwrap());
    let err = future.result(Some(PROMPT)).unwrap_err();
    assert!(err.is_future_cancelled(), "{err:?}");
    let error = events.expect("cancel-client-stream", EventKind::RequestError, PROMPT);
    assert_eq!(error.detail, "CANCELLED");
    drop(tx);
}

#[test]
fn blocking_request_iterators_do_not_stall_the_channel() {
    let server = TestServer::start();
    let stub = server.stub();
    // Connect first, so the timings below measure calls, not the handshake.
    stub.unary_call().call(echo("warm up")).unwrap();

    // 1. A queue fed slowly by another thread.
    let (tx, rx) = mpsc::sync_channel(0);
    let slow_queue = stub.streaming_input_call().future(rx);
    let feeder = std::thread::spawn(move || {
        for i in 0..3 {
            std::thread::sleep(ms(150));
            tx.send(echo(&format!("q{i}"))).unwrap();
        }
    });

    // 2. An iterator that sleeps between items, drawn by a blocking call on
    //    another thread.
    let sleepy = {
        let stub = stub.clone();
        std::thread::spawn(move || {
            stub.streaming_input_call()
                .call((0..3).map(|i| {
                    std::thread::sleep(ms(150));
                    echo(&format!("s{i}"))
                }))
                .unwrap()
        })
    };

    // 3. A bidi call whose request iterator is stuck for now.
    let (stuck_tx, stuck_rx) = mpsc::sync_channel(0);
    let mut bidi = stub.full_duplex_call().call(stuck_rx).unwrap();

    // Meanwhile unary calls on the same channel complete while the bidi
    // call's iterator is still stuck (it is released only below): a
    // stalled channel would end them with DEADLINE_EXCEEDED instead.
    for i in 0..5 {
        let reply = stub
            .unary_call()
            .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
            .call(echo(&format!("u{i}")))
            .unwrap_or_else(|err| panic!("unary call {i} next to blocked iterators: {err:?}"));
        assert_eq!(reply.message, format!("u{i}"));
        std::thread::sleep(ms(20));
    }

    // And the slow streams complete correctly.
    let summary = slow_queue.result(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(summary.message, "q0,q1,q2");
    feeder.join().unwrap();
    assert_eq!(sleepy.join().unwrap().message, "s0,s1,s2");
    stuck_tx.send(echo("unstuck")).unwrap();
    assert_eq!(bidi.next().unwrap().unwrap().message, "unstuck");
    drop(stuck_tx);
    assert!(bidi.next().is_none());
}

#[test]
fn huge_timeouts_are_no_problem() {
    let server = TestServer::start();
    let stub = server.stub();
    for timeout in [
        Duration::MAX,
        Duration::from_secs(400_000_000),
        Duration::from_secs(3600),
    ] {
        let reply = stub
            .unary_call()
            .with_options(CallOptions::new().timeout(timeout))
            .call(echo("patient"))
            .unwrap_or_else(|e| panic!("{timeout:?}: {e:?}"));
        assert_eq!(reply.message, "patient");
    }
}

#[test]
fn stop_cancels_a_call_whose_request_iterator_is_stuck() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::sync_channel::<EchoRequest>(1);
    tx.send(echo("first")).unwrap();
    let future = server
        .stub()
        .streaming_input_call()
        .with_options(tagged("stuck-stop"))
        .future(rx);
    server
        .events()
        .expect("stuck-stop", EventKind::Request, Duration::from_secs(5));
    let start = Instant::now();
    let stopped = server.stop(None);
    let err = future.result(Some(Duration::from_secs(5))).unwrap_err();
    assert_eq!(err.code(), Code::Cancelled, "{err:?}");
    assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());
    assert!(stopped.wait_timeout(Duration::from_secs(2)));
    drop(tx);
}
