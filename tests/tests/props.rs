//! The server fed arbitrary HTTP/2 frame sequences over a real loopback
//! socket (property-based, with proptest): whatever a peer sends, no code
//! of ours or h2's panics, and the server keeps serving a normal call.
//!
//! `PROPTEST_CASES` sets the number of sequences (64 by default, a few
//! seconds); e.g. `PROPTEST_CASES=20000 cargo test -p rustgrpc-tests --test
//! props --release` for a long run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpc_core::CallOptions;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rustgrpc_tests::frames::{self, Event, HeaderBlock, RawConn, kind};
use rustgrpc_tests::raw::frame;
use rustgrpc_tests::{EchoRequest, TestServer, echo};

const METHODS: [&str; 5] = [
    "/rustgrpc.testing.TestService/UnaryCall",
    "/rustgrpc.testing.TestService/StreamingOutputCall",
    "/rustgrpc.testing.TestService/StreamingInputCall",
    "/rustgrpc.testing.TestService/FullDuplexCall",
    "/nope/Nope",
];

/// One frame a hostile client may send.
#[derive(Clone, Debug)]
enum Spec {
    Headers {
        stream: u32,
        block: Block,
        flags: u8,
    },
    Continuation {
        stream: u32,
        bytes: Vec<u8>,
        flags: u8,
    },
    Data {
        stream: u32,
        payload: Payload,
        flags: u8,
    },
    Reset {
        stream: u32,
        code: u32,
    },
    Settings(Vec<(u16, u32)>),
    Ping(u8),
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Other {
        kind: u8,
        flags: u8,
        stream: u32,
        bytes: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
enum Block {
    /// A valid gRPC request to one of [`METHODS`] with header overrides.
    Grpc(usize, Vec<(String, String)>),
    /// Arbitrary HPACK bytes.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Payload {
    /// A well-formed request message (sleep capped, no panics asked for).
    Request(EchoRequest),
    /// A prefix declaring `len`, then some bytes.
    Prefix(bool, u32, Vec<u8>),
    Raw(Vec<u8>),
}

fn stream_id() -> impl Strategy<Value = u32> {
    prop_oneof![8 => (0u32..6).prop_map(|n| 1 + 2 * n), 1 => 0u32..16, 1 => any::<u32>()]
}

fn header_override() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("grpc-timeout".to_owned()),
        Just("grpc-encoding".to_owned()),
        Just("grpc-accept-encoding".to_owned()),
        Just("content-type".to_owned()),
        Just("te".to_owned()),
        Just(":method".to_owned()),
        Just(":path".to_owned()),
        Just("x-md-bin".to_owned()),
        "[a-z:-]{1,8}",
    ];
    let value = prop_oneof![
        Just("0n".to_owned()),
        Just("1S".to_owned()),
        Just("gzip".to_owned()),
        Just("deflate".to_owned()),
        Just("application/grpc".to_owned()),
        "[ -~]{0,12}",
    ];
    (name, value)
}

fn request() -> impl Strategy<Value = EchoRequest> {
    (
        "[a-z]{0,8}",
        0u32..20,
        0u32..4,
        0u32..5,
        0u32..64,
        prop::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(
            |(message, sleep_ms, fail_code, response_count, response_size, payload)| EchoRequest {
                message,
                sleep_ms,
                fail_code: fail_code as i32,
                response_count,
                response_size,
                payload,
                ..EchoRequest::default()
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    let block = prop_oneof![
        4 => (0..METHODS.len(), prop::collection::vec(header_override(), 0..3))
            .prop_map(|(m, o)| Block::Grpc(m, o)),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Block::Raw),
    ];
    let payload = prop_oneof![
        4 => request().prop_map(Payload::Request),
        1 => (any::<bool>(), any::<u32>(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(c, l, b)| Payload::Prefix(c, l, b)),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Payload::Raw),
    ];
    let flags = prop_oneof![Just(0x4u8), Just(0x5), Just(0x0), Just(0x1), any::<u8>()];
    prop_oneof![
        6 => (stream_id(), block, flags.clone()).prop_map(|(stream, block, flags)| Spec::Headers { stream, block, flags }),
        1 => (stream_id(), prop::collection::vec(any::<u8>(), 0..30), flags.clone())
            .prop_map(|(stream, bytes, flags)| Spec::Continuation { stream, bytes, flags }),
        6 => (stream_id(), payload, flags.clone()).prop_map(|(stream, payload, flags)| Spec::Data { stream, payload, flags }),
        2 => (stream_id(), 0u32..16).prop_map(|(stream, code)| Spec::Reset { stream, code }),
        1 => prop::collection::vec((0u16..10, prop_oneof![0u32..70_000, any::<u32>()]), 0..4).prop_map(Spec::Settings),
        1 => any::<u8>().prop_map(Spec::Ping),
        1 => (stream_id(), prop_oneof![1u32..100_000, any::<u32>()])
            .prop_map(|(stream, increment)| Spec::WindowUpdate { stream, increment }),
        1 => (0u8..16, any::<u8>(), stream_id(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(kind, flags, stream, bytes)| Spec::Other { kind, flags, stream, bytes }),
    ]
}

fn encode(spec: &Spec) -> Vec<u8> {
    match spec {
        Spec::Headers {
            stream,
            block,
            flags,
        } => {
            let bytes = match block {
                Block::Grpc(method, overrides) => {
                    let pairs: Vec<(&str, &str)> = overrides
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    HeaderBlock::grpc_with(METHODS[*method], &pairs)
                        .bytes()
                        .to_vec()
                }
                Block::Raw(bytes) => bytes.clone(),
            };
            frames::frame(kind::HEADERS, *flags, *stream, &bytes)
        }
        Spec::Continuation {
            stream,
            bytes,
            flags,
        } => frames::frame(kind::CONTINUATION, *flags, *stream, bytes),
        Spec::Data {
            stream,
            payload,
            flags,
        } => {
            let bytes = match payload {
                Payload::Request(request) => frame(request).to_vec(),
                Payload::Prefix(compressed, len, rest) => {
                    let mut bytes = frames::grpc_prefix(*compressed, *len).to_vec();
                    bytes.extend_from_slice(rest);
                    bytes
                }
                Payload::Raw(bytes) => bytes.clone(),
            };
            frames::frame(kind::DATA, *flags, *stream, &bytes)
        }
        Spec::Reset { stream, code } => frames::rst_stream(*stream, *code),
        Spec::Settings(params) => frames::settings(params),
        Spec::Ping(n) => frames::ping([*n; 8]),
        Spec::WindowUpdate { stream, increment } => frames::window_update(*stream, *increment),
        Spec::Other {
            kind,
            flags,
            stream,
            bytes,
        } => frames::frame(*kind, *flags, *stream, bytes),
    }
}

/// Panics raised anywhere in grpc-core or h2 while the sequences run.
fn count_library_panics() -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let messages = Mutex::new(());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let file = info.location().map(|l| l.file()).unwrap_or_default();
        if file.contains("grpc-core") || file.contains("/h2-") {
            let _guard = messages.lock();
            eprintln!("library panic: {info}");
            seen.fetch_add(1, Ordering::SeqCst);
        }
        previous(info);
    }));
    count
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[test]
fn arbitrary_frame_sequences_never_break_the_server() {
    let panics = count_library_panics();
    let server = TestServer::start();
    let stub = server.stub();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(spec(), 1..24);
    let result = runner.run(&strategy, |specs| {
        let mut conn = RawConn::handshake(server.port());
        let mut bytes: Vec<u8> = specs.iter().flat_map(encode).collect();
        // A final PING: its ACK means every frame before it was processed.
        bytes.extend(frames::ping(*b"the end!"));
        conn.send(&bytes);
        let _ = conn.wait_for(Duration::from_secs(5), |e| {
            matches!(e, Event::Ping { ack: true } | Event::Closed)
        });
        drop(conn);
        let reply = stub
            .unary_call()
            .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
            .call(echo("alive"));
        prop_assert!(reply.is_ok(), "not serving after {:?}: {:?}", specs, reply);
        prop_assert_eq!(panics.load(Ordering::SeqCst), 0);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    eprintln!("{} frame sequences sent", cases());
}
