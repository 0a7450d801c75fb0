//! An honest client that cancels thousands of calls on one connection keeps
//! it: neither side's HTTP/2 abuse guards (h2 counts streams it had to
//! reset because frames arrived for a stream it already forgot, over the
//! connection's whole life) mistake cancellations for an attack.
//!
//! Both directions are tried: a client that cancels server streams while
//! the server writes as fast as it can, and a server that ends client
//! streams early while the client writes as fast as it can; either way
//! frames for the ended stream are still in flight when the reset goes
//! out, thousands of times a run.

use std::net::TcpListener;
use std::time::Duration;

use grpc_core::{Channel, Code};
use rustgrpc_tests::frames::{self, Event, HeaderBlock, RawConn, reason};
use rustgrpc_tests::raw::frame;
use rustgrpc_tests::{EchoRequest, EchoResponse, TestServer, TestServiceStub};

const SERVER_STREAMING: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";
const CLIENT_STREAMING: &str = "/rustgrpc.testing.TestService/StreamingInputCall";
/// How long a raw peer waits for the next frame before giving up.
const PATIENCE: Duration = Duration::from_secs(10);
/// Ended streams whose late frames a raw peer holds back, then sends at
/// once: h2 remembers 50 reset streams by default, so at least 150 of each
/// batch land on streams it has forgotten and must answer with a reset of
/// its own, which h2 counts against a limit for the connection's life
/// (1024 by default).
const LATE_BATCH: usize = 200;
/// Enough batches to pass that lifetime limit twice.
const RAW_CALLS: usize = 2_000;

const THREADS: usize = 64;
const CALLS_PER_THREAD: usize = 40;

fn endless_stream() -> EchoRequest {
    EchoRequest {
        message: "x".repeat(2048),
        response_count: 1_000_000,
        ..EchoRequest::default()
    }
}

/// Opens a stream, reads one message, cancels by dropping it.
fn read_one_and_cancel(stub: &TestServiceStub) -> Result<(), String> {
    let mut responses = stub
        .streaming_output_call()
        .call(endless_stream())
        .map_err(|e| format!("call failed: {e}"))?;
    match responses.next() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(format!("first message failed: {e}")),
        None => Err("stream ended without a message".to_owned()),
    }
}

/// Uploads without end; the server fails the call at the first message.
fn upload_until_refused(stub: &TestServiceStub) -> Result<(), String> {
    let refusing = EchoRequest {
        payload: vec![7; 2048],
        fail_code: Code::FailedPrecondition as i32,
        ..EchoRequest::default()
    };
    match stub
        .streaming_input_call()
        .call(std::iter::repeat(refusing))
    {
        Err(e) if e.code() == Code::FailedPrecondition => Ok(()),
        Err(e) => Err(format!("call failed: {e}")),
        Ok(_) => Err("the server accepted a failing upload".to_owned()),
    }
}

fn storm(channel: &Channel, call: fn(&TestServiceStub) -> Result<(), String>) -> Vec<String> {
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let stub = TestServiceStub::new(channel.clone());
            std::thread::spawn(move || {
                (0..CALLS_PER_THREAD)
                    .filter_map(|_| call(&stub).err())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker thread"))
        .collect()
}

#[test]
fn thousands_of_cancelled_streams_keep_the_connection() {
    storm_keeps_the_connection(read_one_and_cancel);
}

#[test]
fn thousands_of_uploads_ended_early_keep_the_connection() {
    storm_keeps_the_connection(upload_until_refused);
}

fn storm_keeps_the_connection(call: fn(&TestServiceStub) -> Result<(), String>) {
    let server = TestServer::start();
    let channel = server.channel();
    let failures = storm(&channel, call);
    assert!(
        failures.is_empty(),
        "{} of {} calls failed; first: {:?}",
        failures.len(),
        THREADS * CALLS_PER_THREAD,
        failures.first()
    );

    // The same connection still carries calls: no GOAWAY from either side.
    TestServiceStub::new(channel.clone())
        .unary_call()
        .call(EchoRequest::default())
        .expect("a unary call after the storm");
    let sockets = server.server().channelz().sockets();
    assert_eq!(sockets.len(), 1, "the client reconnected");
    assert_eq!(
        sockets[0].streams().started as usize,
        THREADS * CALLS_PER_THREAD + 1,
        "every call went over the first connection"
    );
}

/// Our client cancels server streams; the raw server's next message for
/// each cancelled stream was "in flight" and arrives after 200 more
/// cancellations. The client ignores those frames and keeps the
/// connection (it used to send GOAWAY `ENHANCE_YOUR_CALM` to the server
/// after 1024 of them, failing every call in flight).
#[test]
fn late_frames_for_cancelled_calls_keep_the_client_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let raw_server = std::thread::spawn(move || serve_then_send_late(&listener));
    let stub = TestServiceStub::new(
        grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).expect("channel"),
    );
    for call in 0..RAW_CALLS {
        if let Err(e) = read_one_and_cancel(&stub) {
            panic!(
                "call {call}: {e}; the raw server saw {:?}",
                raw_server.join()
            );
        }
    }
    // Closing the channel ends the raw server's loop.
    drop(stub);
    let goaway = raw_server.join().expect("raw server");
    assert_eq!(goaway, None, "the client sent GOAWAY");
}

/// Answers every request with headers and one message, holds back a late
/// message for each cancelled stream; returns the client's GOAWAY, if any,
/// once the client has gone.
fn serve_then_send_late(listener: &TcpListener) -> Option<Event> {
    let mut conn = RawConn::accept(listener);
    let message = frame(&EchoResponse::default());
    let head = HeaderBlock::new()
        .literal(":status", "200")
        .literal("content-type", "application/grpc");
    let mut late = Vec::new();
    loop {
        match conn.next(PATIENCE)? {
            Event::Headers { stream, .. } => {
                let mut reply = frames::headers(stream, head.bytes(), false);
                reply.extend(frames::data(stream, &message, false));
                conn.send(&reply);
            }
            Event::Reset { stream, code } if code == reason::CANCEL => {
                late.push(stream);
                if late.len() == LATE_BATCH {
                    let bytes: Vec<u8> = late
                        .drain(..)
                        .flat_map(|s| frames::data(s, &message, false))
                        .collect();
                    conn.send(&bytes);
                }
            }
            // The channel closing says goodbye with NO_ERROR.
            Event::GoAway { code, .. } if code == reason::NO_ERROR => {}
            goaway @ Event::GoAway { .. } => return Some(goaway),
            Event::Closed => return None,
            _ => {}
        }
    }
}

/// A raw client's uploads are ended early by our server (the handler fails
/// at the first message); its next message for each ended stream was "in
/// flight" and arrives after 200 more streams ended. The server ignores
/// those frames and keeps serving the connection.
#[test]
fn late_data_for_uploads_the_server_ended_keeps_the_connection() {
    let server = TestServer::start();
    let mut conn = RawConn::handshake(server.port());
    let refusing = frame(&EchoRequest {
        fail_code: Code::FailedPrecondition as i32,
        ..EchoRequest::default()
    });
    let block = HeaderBlock::grpc(CLIENT_STREAMING);
    let mut late = Vec::new();
    for n in 0..RAW_CALLS as u32 {
        let stream = 2 * n + 1;
        let mut bytes = frames::headers(stream, block.bytes(), false);
        bytes.extend(frames::data(stream, &refusing, false));
        conn.send(&bytes);
        let outcome = conn.outcome(stream, PATIENCE);
        assert_eq!(
            outcome.grpc_status(),
            Some(Code::FailedPrecondition as u32),
            "upload {n}: {outcome:?}"
        );
        late.push(stream);
        if late.len() == LATE_BATCH {
            let bytes: Vec<u8> = late
                .drain(..)
                .flat_map(|s| frames::data(s, &refusing, false))
                .collect();
            conn.send(&bytes);
        }
    }
    let stream = 2 * RAW_CALLS as u32 + 1;
    let mut bytes = frames::headers(stream, HeaderBlock::grpc(SERVER_STREAMING).bytes(), false);
    bytes.extend(frames::data(
        stream,
        &frame(&EchoRequest {
            response_count: 1,
            ..EchoRequest::default()
        }),
        true,
    ));
    conn.send(&bytes);
    let outcome = conn.outcome(stream, PATIENCE);
    assert_eq!(
        outcome.grpc_status(),
        Some(0),
        "after the uploads: {outcome:?}"
    );
    let goaways: Vec<_> = conn
        .seen()
        .iter()
        .filter(|e| matches!(e, Event::GoAway { .. }))
        .collect();
    assert!(goaways.is_empty(), "the server sent {goaways:?}");
}
