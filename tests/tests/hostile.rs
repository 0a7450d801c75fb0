//! Hostile peers over real sockets: frame floods, malformed headers and
//! bodies, slow and silent peers, junk on the port, many idle connections.
//!
//! Every case checks that the server stays up, that a normal call on a
//! fresh connection still succeeds, that the offender gets a clear status or
//! GOAWAY, and (where the attack could make the server hold memory) that the
//! process's resident memory stays bounded. The cases run one at a time (a
//! process-wide lock) so the memory figures belong to the case measuring
//! them. Counts are bounded; nothing asserts how fast anything happened.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use grpc_core::{CallOptions, Compression, Server};
use prost::Message;
use rustgrpc_tests::frames::{
    self, Event, HeaderBlock, PREFACE, RawConn, flag, kind, reason, rss_bytes,
};
use rustgrpc_tests::raw::{frame, frame_bytes, gzip};
use rustgrpc_tests::{EchoRequest, EventKind, TestServer, echo};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const SERVER_STREAMING: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";
const CLIENT_STREAMING: &str = "/rustgrpc.testing.TestService/StreamingInputCall";
/// How long to wait for something that should happen (never asserted as
/// an upper bound on speed: only "it happened at all").
const PATIENCE: Duration = Duration::from_secs(10);
/// Generous bound on how much one attack may grow the process.
const MAX_GROWTH: u64 = 64 << 20;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the cases one at a time.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Memory before an attack; [`Baseline::check`] after it.
struct Baseline(u64);

impl Baseline {
    fn take() -> Baseline {
        Baseline(rss_bytes())
    }

    #[track_caller]
    fn check(&self, what: &str) -> u64 {
        let now = rss_bytes();
        let growth = now.saturating_sub(self.0);
        eprintln!(
            "{what}: RSS {} KiB -> {} KiB (+{} KiB)",
            self.0 >> 10,
            now >> 10,
            growth >> 10
        );
        assert!(
            growth < MAX_GROWTH,
            "{what}: resident memory grew by {} MiB",
            growth >> 20
        );
        growth
    }
}

/// A normal unary call on a fresh channel succeeds.
#[track_caller]
fn assert_serving(server: &TestServer, what: &str) {
    let options = CallOptions::new().timeout(PATIENCE);
    let reply = server
        .stub()
        .unary_call()
        .with_options(options)
        .call(echo("still serving"))
        .unwrap_or_else(|error| panic!("{what}: a fresh connection was not served: {error:?}"));
    assert_eq!(reply.message, "still serving");
}

/// A valid unary request on `stream` of `conn` is answered with OK.
#[track_caller]
fn assert_conn_serves(conn: &mut RawConn, stream: u32, what: &str) {
    send_unary(conn, stream, &HeaderBlock::grpc(UNARY), &echo("ok"));
    let outcome = conn.outcome(stream, PATIENCE);
    assert_eq!(
        outcome.grpc_status(),
        Some(0),
        "{what}: the same connection no longer serves: {outcome:?}"
    );
}

fn send_unary(conn: &mut RawConn, stream: u32, block: &HeaderBlock, request: &EchoRequest) {
    let mut bytes = frames::headers(stream, block.bytes(), false);
    bytes.extend(frames::data(stream, &frame(request), true));
    conn.send(&bytes);
}

fn goaway_or_closed(conn: &mut RawConn) -> Option<u32> {
    let goaway = conn.wait_goaway(PATIENCE);
    assert!(
        goaway.is_some() || conn.seen().contains(&Event::Closed),
        "neither GOAWAY nor close: {:?}",
        conn.seen().iter().rev().take(5).collect::<Vec<_>>()
    );
    goaway
}

// ---------------------------------------------------------------------------
// Floods
// ---------------------------------------------------------------------------

#[test]
fn rapid_reset_flood() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let block = HeaderBlock::grpc(UNARY);
    let mut sent = 0u32;
    'flood: for batch in 0..50u32 {
        let mut bytes = Vec::new();
        for i in 0..200u32 {
            let stream = 1 + 2 * (batch * 200 + i);
            bytes.extend(frames::headers(stream, block.bytes(), false));
            bytes.extend(frames::rst_stream(stream, reason::CANCEL));
        }
        if !conn.send(&bytes) {
            break 'flood;
        }
        sent += 200;
    }
    eprintln!("rapid reset: {sent} HEADERS+RST_STREAM pairs written");
    // Either the server calls the flood abuse (GOAWAY) or it absorbed it and
    // the connection still serves.
    let next = 1 + 2 * sent;
    send_unary(&mut conn, next, &block, &echo("ok"));
    let outcome = conn.outcome(next, PATIENCE);
    match outcome.goaway {
        Some(code) => assert_eq!(code, reason::ENHANCE_YOUR_CALM, "{outcome:?}"),
        None => assert_eq!(outcome.grpc_status(), Some(0), "{outcome:?}"),
    }
    // No handler ran for a reset stream.
    assert_eq!(server.events().count("", EventKind::Started), 0);
    assert_serving(&server, "rapid reset");
    baseline.check("rapid reset");
}

/// "MadeYouReset" (CVE-2025-8671): a client that makes the *server* reset
/// its streams (here with a WINDOW_UPDATE that overflows the stream window,
/// a stream error) to get
/// around the concurrent-stream limit. The server's h2 counts such resets
/// over the connection's life and sends GOAWAY `ENHANCE_YOUR_CALM` past
/// 1024; late frames for streams the server ended (an honest client's)
/// are not counted (see `cancel_storm.rs`).
#[test]
fn made_you_reset_flood_gets_goaway() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let block = HeaderBlock::grpc(UNARY);
    for batch in 0..8u32 {
        let mut bytes = Vec::new();
        for i in 0..200u32 {
            let stream = 1 + 2 * (batch * 200 + i);
            bytes.extend(frames::headers(stream, block.bytes(), false));
            bytes.extend(frames::window_update(stream, 0x7fff_ffff));
        }
        if !conn.send(&bytes) {
            break;
        }
    }
    assert_eq!(
        conn.wait_goaway(PATIENCE),
        Some(reason::ENHANCE_YOUR_CALM),
        "{:?}",
        conn.seen().iter().rev().take(3).collect::<Vec<_>>()
    );
    assert_serving(&server, "made you reset");
    baseline.check("made you reset");
}

#[test]
fn rapid_reset_after_the_request_body() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let block = HeaderBlock::grpc(UNARY);
    let body = frame(&EchoRequest {
        sleep_ms: 50,
        ..echo("x")
    });
    for batch in 0..10u32 {
        let mut bytes = Vec::new();
        for i in 0..100u32 {
            let stream = 1 + 2 * (batch * 100 + i);
            bytes.extend(frames::headers(stream, block.bytes(), false));
            bytes.extend(frames::data(stream, &body, true));
            bytes.extend(frames::rst_stream(stream, reason::CANCEL));
        }
        if !conn.send(&bytes) {
            break;
        }
    }
    assert_serving(&server, "rapid reset after bodies");
    baseline.check("rapid reset after bodies");
}

#[test]
fn continuation_flood_is_cut_off() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let first = HeaderBlock::grpc(UNARY);
    conn.send(&frames::frame(kind::HEADERS, 0, 1, first.bytes()));
    let filler = HeaderBlock::new().literal("x-filler", &"a".repeat(16_000));
    let mut written = 0usize;
    for _ in 0..4_000 {
        // 64 MiB in all, if the server never objects.
        if !conn.send(&frames::frame(kind::CONTINUATION, 0, 1, filler.bytes())) {
            break;
        }
        written += 1;
    }
    eprintln!("CONTINUATION flood: {written} frames written before the server closed");
    let outcome = conn.outcome(1, PATIENCE);
    assert!(
        outcome.goaway.is_some() || outcome.closed || outcome.reset.is_some(),
        "the oversized header block was accepted: {outcome:?}"
    );
    if let Some(code) = outcome.goaway {
        eprintln!("CONTINUATION flood: GOAWAY {code:#x}");
    }
    assert!(written < 4_000, "the server kept reading 64 MiB of headers");
    assert_serving(&server, "CONTINUATION flood");
    baseline.check("CONTINUATION flood");
}

#[test]
fn settings_flood() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let one = frames::settings(&[(0x4, 65_535), (0x2, 0)]);
    for _ in 0..100 {
        if !conn.send(&one.repeat(200)) {
            break;
        }
    }
    // The connection either still serves or was closed for abuse.
    send_unary(&mut conn, 1, &HeaderBlock::grpc(UNARY), &echo("ok"));
    let outcome = conn.outcome(1, PATIENCE);
    match outcome.goaway {
        Some(code) => assert_eq!(code, reason::ENHANCE_YOUR_CALM, "{outcome:?}"),
        None => assert_eq!(outcome.grpc_status(), Some(0), "{outcome:?}"),
    }
    assert_serving(&server, "SETTINGS flood");
    baseline.check("SETTINGS flood");
}

#[test]
fn ping_flood_gets_goaway_enhance_your_calm() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    for batch in 0..100u8 {
        let pings: Vec<u8> = (0..100u8)
            .flat_map(|i| frames::ping([batch, i, 0, 0, 0, 0, 0, 0]))
            .collect();
        if !conn.send(&pings) {
            break;
        }
    }
    assert_eq!(
        conn.wait_goaway(PATIENCE),
        Some(reason::ENHANCE_YOUR_CALM),
        "{:?}",
        conn.seen().iter().rev().take(3).collect::<Vec<_>>()
    );
    assert!(conn.wait_closed(PATIENCE), "the connection stayed open");
    assert_serving(&server, "PING flood");
    baseline.check("PING flood");
}

#[test]
fn a_peer_that_never_reads_cannot_make_the_server_buffer() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    // PINGs and SETTINGS want answers; this peer never reads them.
    let mut deaf = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    deaf.set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    deaf.write_all(PREFACE).unwrap();
    deaf.write_all(&frames::settings(&[])).unwrap();
    let junk = [frames::settings(&[(0x4, 65_535)]), frames::ping([1; 8])]
        .concat()
        .repeat(1_000);
    let mut written = 0usize;
    for _ in 0..200 {
        // 6 MiB of requests for answers, if the server reads them all.
        if deaf.write_all(&junk).is_err() {
            break;
        }
        written += junk.len();
    }
    eprintln!(
        "deaf peer: wrote {} KiB before the server stopped reading",
        written >> 10
    );
    assert_serving(&server, "deaf peer");
    baseline.check("deaf peer");
}

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

/// A header block of `block` split into HEADERS + CONTINUATION frames,
/// then a request message.
fn split_request(stream: u32, block: &HeaderBlock) -> Vec<u8> {
    let chunks: Vec<&[u8]> = block.bytes().chunks(16_000).collect();
    let mut bytes = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let kind = if i == 0 {
            kind::HEADERS
        } else {
            kind::CONTINUATION
        };
        let flags = if i + 1 == chunks.len() {
            flag::END_HEADERS
        } else {
            0
        };
        bytes.extend(frames::frame(kind, flags, stream, chunk));
    }
    bytes.extend(frames::data(stream, &frame(&echo("x")), true));
    bytes
}

#[test]
fn oversized_and_numerous_headers_are_refused() {
    let _serial = serial();
    let server = TestServer::start();
    let mut many = HeaderBlock::grpc(UNARY);
    for i in 0..2_000 {
        many = many.literal(&format!("x-h{i}"), "v");
    }
    let cases = [
        // Just over the 16 KiB header list limit.
        (
            "a 20 KiB header",
            HeaderBlock::grpc_with(UNARY, &[("x-big", &"v".repeat(20 << 10))]),
        ),
        // Four times the limit.
        (
            "a 64 KiB header",
            HeaderBlock::grpc_with(UNARY, &[("x-big", &"v".repeat(64 << 10))]),
        ),
        // Over the list limit with their 32-byte overhead each.
        ("2000 small headers", many),
    ];
    for (what, block) in cases {
        let mut conn = RawConn::handshake(server.port());
        conn.send(&split_request(1, &block));
        let outcome = conn.outcome(1, PATIENCE);
        eprintln!(
            "{what}: reset {:?}, GOAWAY {:?}, :status {:?}, grpc-status {:?}",
            outcome.reset,
            outcome.goaway,
            outcome.http_status(),
            outcome.grpc_status()
        );
        // h2 (as in tonic and hyper) refuses the stream when the list is
        // over the limit, and closes the connection with ENHANCE_YOUR_CALM
        // when the block goes on far past it.
        // (The GOAWAY can be lost when the server closes while we write.)
        if outcome.goaway.is_some() || outcome.closed {
            assert!(
                matches!(outcome.goaway, None | Some(reason::ENHANCE_YOUR_CALM)),
                "{what}: {outcome:?}"
            );
            continue;
        }
        assert!(
            outcome.reset.is_some()
                || outcome.http_status().is_some_and(|s| s != "200")
                || outcome.grpc_status().is_some_and(|s| s != 0),
            "{what} was served: {outcome:?}"
        );
        assert_conn_serves(&mut conn, 3, what);
    }
    assert_serving(&server, "oversized headers");
}

#[test]
fn hpack_tricks_are_compression_errors() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut int_overflow = vec![0x00];
    frames::hpack_int(&mut int_overflow, 0x00, 7, u64::MAX >> 1);
    let tricks: Vec<(&str, Vec<u8>)> = vec![
        // Indexed field far past the static and dynamic tables.
        ("index out of range", {
            let mut b = Vec::new();
            frames::hpack_int(&mut b, 0x80, 7, 10_000);
            b
        }),
        // Index 0 is never valid.
        ("index zero", vec![0x80]),
        // A dynamic table size update above SETTINGS_HEADER_TABLE_SIZE.
        ("table size above the limit", {
            let mut b = Vec::new();
            frames::hpack_int(&mut b, 0x20, 5, 1 << 30);
            b
        }),
        // A string length near 2^63 with no bytes behind it.
        ("integer overflow", int_overflow),
        // A string length past the end of the block.
        (
            "string past the end",
            vec![0x00, 0x7f, 0x80, 0x80, 0x04, b'a'],
        ),
        // A Huffman string with invalid padding (all ones then EOS).
        (
            "bad huffman",
            vec![0x00, 0x81, 0x00, 0x84, 0xff, 0xff, 0xff, 0xff],
        ),
    ];
    for (what, block) in tricks {
        let mut conn = RawConn::handshake(server.port());
        let grpc = HeaderBlock::grpc(UNARY).raw(&block);
        conn.send(&frames::headers(1, grpc.bytes(), true));
        let outcome = conn.outcome(1, PATIENCE);
        eprintln!("HPACK {what}: {outcome:?}");
        assert!(
            // h2 answers some decoding errors with PROTOCOL_ERROR.
            outcome.goaway == Some(reason::COMPRESSION_ERROR)
                || outcome.goaway == Some(reason::PROTOCOL_ERROR)
                || outcome.reset == Some(reason::PROTOCOL_ERROR)
                || outcome.closed,
            "{what}: {outcome:?}"
        );
    }
    // Churning the dynamic table (every field indexed, table evicting) is
    // legal and served.
    let mut conn = RawConn::handshake(server.port());
    for i in 0..200u32 {
        let stream = 1 + 2 * i;
        let mut block = HeaderBlock::grpc(UNARY);
        for j in 0..8 {
            block = block.indexed_literal(&format!("x-churn-{j}"), &"z".repeat(500 + i as usize));
        }
        send_unary(&mut conn, stream, &block, &echo("ok"));
        let outcome = conn.outcome(stream, PATIENCE);
        assert_eq!(outcome.grpc_status(), Some(0), "churn {i}: {outcome:?}");
    }
    assert_serving(&server, "HPACK tricks");
    baseline.check("HPACK tricks");
}

/// One malformed request and what the server must answer.
struct Malformed {
    what: &'static str,
    block: HeaderBlock,
    /// The acceptable endings.
    expect: &'static [Ending],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Grpc(u32),
    Http(&'static str),
    Reset(u32),
    GoAway(u32),
}

fn ending_of(outcome: &frames::Outcome) -> Option<Ending> {
    if let Some(code) = outcome.goaway {
        return Some(Ending::GoAway(code));
    }
    if let Some(code) = outcome.reset {
        return Some(Ending::Reset(code));
    }
    match outcome.http_status()? {
        "200" => outcome.grpc_status().map(Ending::Grpc),
        status => match status {
            "400" => Some(Ending::Http("400")),
            "404" => Some(Ending::Http("404")),
            "405" => Some(Ending::Http("405")),
            "415" => Some(Ending::Http("415")),
            _ => Some(Ending::Http("other")),
        },
    }
}

#[test]
fn malformed_request_headers_get_clear_answers() {
    let _serial = serial();
    let server = TestServer::start();
    let mut conn = RawConn::handshake(server.port());
    let with = |overrides: &[(&str, &str)]| HeaderBlock::grpc_with(UNARY, overrides);
    let cases = vec![
        Malformed {
            what: "grpc-timeout without unit",
            block: with(&[("grpc-timeout", "100")]),
            expect: &[Ending::Grpc(13)],
        },
        Malformed {
            what: "grpc-timeout with 9 digits",
            block: with(&[("grpc-timeout", "123456789S")]),
            expect: &[Ending::Grpc(13)],
        },
        Malformed {
            what: "grpc-timeout negative",
            block: with(&[("grpc-timeout", "-5m")]),
            expect: &[Ending::Grpc(13)],
        },
        Malformed {
            what: "grpc-timeout non-ASCII",
            block: HeaderBlock::grpc(UNARY).literal_bytes(b"grpc-timeout", b"1\xffS"),
            expect: &[Ending::Grpc(13), Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "no content-type",
            block: with(&[("content-type", "\0")]),
            expect: &[Ending::Http("415")],
        },
        Malformed {
            what: "content-type text/plain",
            block: with(&[("content-type", "text/plain")]),
            expect: &[Ending::Http("415")],
        },
        Malformed {
            what: "content-type application/grpcx",
            block: with(&[("content-type", "application/grpcx")]),
            expect: &[Ending::Http("415")],
        },
        Malformed {
            what: ":path without a method",
            block: HeaderBlock::grpc_with("/rustgrpc.testing.TestService", &[]),
            expect: &[Ending::Grpc(12)],
        },
        Malformed {
            what: ":path relative",
            block: HeaderBlock::grpc_with("rustgrpc.testing.TestService/UnaryCall", &[]),
            expect: &[Ending::Grpc(12), Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: ":path empty",
            block: HeaderBlock::grpc_with("", &[]),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR), Ending::Grpc(12)],
        },
        Malformed {
            what: ":path of 8 KiB",
            block: HeaderBlock::grpc_with(&format!("/{}", "p".repeat(8 << 10)), &[]),
            expect: &[Ending::Grpc(12)],
        },
        Malformed {
            what: ":path missing",
            block: with(&[(":path", "\0")]),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: ":method GET",
            block: with(&[(":method", "GET")]),
            expect: &[Ending::Http("405")],
        },
        Malformed {
            what: ":method missing",
            block: with(&[(":method", "\0")]),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            // h2 treats an invalid method as a connection error.
            what: ":method with a space",
            block: with(&[(":method", "PO ST")]),
            expect: &[Ending::GoAway(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: ":scheme ftp",
            block: with(&[(":scheme", "ftp")]),
            expect: &[
                Ending::Grpc(0),
                Ending::Reset(reason::PROTOCOL_ERROR),
                Ending::Http("400"),
            ],
        },
        Malformed {
            what: ":scheme missing",
            block: with(&[(":scheme", "\0")]),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "te gzip",
            block: with(&[("te", "gzip")]),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            // grpc-go and tonic serve a request without te; so do we.
            what: "te missing",
            block: with(&[("te", "\0")]),
            expect: &[Ending::Grpc(0)],
        },
        Malformed {
            what: "uppercase header name",
            block: HeaderBlock::grpc(UNARY).literal("X-Upper", "v"),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "connection-specific header",
            block: HeaderBlock::grpc(UNARY).literal("connection", "keep-alive"),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "pseudo header after a regular one",
            block: HeaderBlock::grpc(UNARY).literal(":authority", "late"),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "unknown pseudo header",
            block: HeaderBlock::new()
                .literal(":bogus", "1")
                .raw(HeaderBlock::grpc(UNARY).bytes()),
            expect: &[Ending::Reset(reason::PROTOCOL_ERROR)],
        },
        Malformed {
            what: "unsupported grpc-encoding",
            block: with(&[("grpc-encoding", "br")]),
            expect: &[Ending::Grpc(12)],
        },
        Malformed {
            what: "invalid -bin metadata",
            block: with(&[("x-bad-bin", "!!!not base64!!!")]),
            expect: &[Ending::Grpc(0), Ending::Grpc(13)],
        },
    ];
    let mut stream = 1;
    for case in cases {
        send_unary(&mut conn, stream, &case.block, &echo("x"));
        let outcome = conn.outcome(stream, PATIENCE);
        let ending = ending_of(&outcome);
        eprintln!("{}: {ending:?}", case.what);
        // h2 turns some malformed requests into a connection error where
        // the RFC allows a stream error; either is a clear answer.
        let protocol_error = ending == Some(Ending::GoAway(reason::PROTOCOL_ERROR))
            && case.expect.contains(&Ending::Reset(reason::PROTOCOL_ERROR));
        assert!(
            protocol_error || ending.is_some_and(|e| case.expect.contains(&e)),
            "{}: expected one of {:?}, got {outcome:?}",
            case.what,
            case.expect
        );
        stream += 2;
        if outcome.goaway.is_some() {
            conn = RawConn::handshake(server.port());
            stream = 1;
        }
        assert_conn_serves(&mut conn, stream, case.what);
        stream += 2;
    }
    assert_serving(&server, "malformed headers");
}

#[test]
fn an_expired_grpc_timeout_is_deadline_exceeded() {
    let _serial = serial();
    let server = TestServer::start();
    let mut conn = RawConn::handshake(server.port());
    for (i, timeout) in ["0n", "0u", "0m", "0S", "0M", "0H"].iter().enumerate() {
        let stream = 1 + 2 * i as u32;
        let block = HeaderBlock::grpc_with(UNARY, &[("grpc-timeout", timeout)]);
        send_unary(&mut conn, stream, &block, &echo("late"));
        let outcome = conn.outcome(stream, PATIENCE);
        assert_eq!(outcome.grpc_status(), Some(4), "{timeout}: {outcome:?}");
    }
    assert_eq!(server.events().count("", EventKind::Started), 0);
}

// ---------------------------------------------------------------------------
// Stream ids
// ---------------------------------------------------------------------------

#[test]
fn invalid_stream_ids_are_protocol_errors() {
    let _serial = serial();
    let server = TestServer::start();
    let block = HeaderBlock::grpc(UNARY);
    let body = frame(&echo("x"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("even stream id", frames::headers(2, block.bytes(), true)),
        ("stream id 0", frames::headers(0, block.bytes(), true)),
        ("decreasing ids", {
            let mut b = frames::headers(5, block.bytes(), false);
            b.extend(frames::headers(3, block.bytes(), false));
            b
        }),
        ("DATA on an idle stream", frames::data(7, &body, true)),
        (
            "RST_STREAM on an idle stream",
            frames::rst_stream(9, reason::CANCEL),
        ),
        ("DATA on stream 0", frames::data(0, &body, true)),
        ("WINDOW_UPDATE overflowing the connection window", {
            let mut b = frames::window_update(0, 0x7fff_ffff);
            b.extend(frames::window_update(0, 0x7fff_ffff));
            b
        }),
        (
            "SETTINGS on a stream",
            frames::frame(kind::SETTINGS, 0, 1, &[]),
        ),
        ("PING of 7 bytes", frames::frame(kind::PING, 0, 0, &[0; 7])),
        (
            "PUSH_PROMISE from a client",
            frames::frame(kind::PUSH_PROMISE, 0x4, 1, &[0, 0, 0, 2]),
        ),
        ("SETTINGS_ENABLE_PUSH = 2", frames::settings(&[(0x2, 2)])),
        (
            "SETTINGS_INITIAL_WINDOW_SIZE > 2^31-1",
            frames::settings(&[(0x4, 0x8000_0000)]),
        ),
        (
            "SETTINGS_MAX_FRAME_SIZE < 16 KiB",
            frames::settings(&[(0x5, 100)]),
        ),
        (
            "frame over the max frame size",
            frames::data(1, &vec![0; 20_000], false),
        ),
    ];
    for (what, bytes) in cases {
        let mut conn = RawConn::handshake(server.port());
        conn.send(&bytes);
        let code = goaway_or_closed(&mut conn);
        eprintln!("{what}: GOAWAY {code:?}");
        assert!(
            matches!(
                code,
                None | Some(
                    reason::PROTOCOL_ERROR | reason::FLOW_CONTROL_ERROR | reason::FRAME_SIZE_ERROR
                )
            ),
            "{what}: GOAWAY {code:?}"
        );
    }
    assert_serving(&server, "invalid stream ids");
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

#[test]
fn huge_declared_lengths_fail_before_the_body_arrives() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    let mut stream = 1;
    for path in [UNARY, CLIENT_STREAMING] {
        for declared in [u32::MAX, 1 << 31, (4 << 20) + 1] {
            let mut bytes = frames::headers(stream, HeaderBlock::grpc(path).bytes(), false);
            let mut body = frames::grpc_prefix(false, declared).to_vec();
            body.extend_from_slice(&[0u8; 100]);
            bytes.extend(frames::data(stream, &body, false));
            conn.send(&bytes);
            // The body trickles in (never more than 100 bytes): the server
            // must decide on the prefix alone.
            let outcome = conn.outcome(stream, PATIENCE);
            assert_eq!(
                outcome.grpc_status(),
                Some(8),
                "{path} declaring {declared}: {outcome:?}"
            );
            stream += 2;
        }
    }
    assert_conn_serves(&mut conn, stream, "after huge declared lengths");
    assert_serving(&server, "huge declared lengths");
    baseline.check("huge declared lengths");
}

#[test]
fn bad_bodies_end_with_internal_or_resource_exhausted() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake(server.port());
    // 64 MiB of zeros in 64 KiB of gzip: over the 4 MiB receive limit.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let cases: Vec<(&str, HeaderBlock, Vec<u8>, u32)> = vec![
        (
            "compressed flag without grpc-encoding",
            HeaderBlock::grpc(UNARY),
            frame_bytes(true, &gzip(&echo("x").encode_to_vec())).to_vec(),
            13,
        ),
        (
            "gzip bomb",
            HeaderBlock::grpc_with(UNARY, &[("grpc-encoding", "gzip")]),
            frame_bytes(true, &bomb).to_vec(),
            8,
        ),
        (
            "not gzip at all",
            HeaderBlock::grpc_with(UNARY, &[("grpc-encoding", "gzip")]),
            frame_bytes(true, &garbage).to_vec(),
            13,
        ),
        (
            "garbage protobuf",
            HeaderBlock::grpc(UNARY),
            frame_bytes(false, &garbage).to_vec(),
            13,
        ),
        (
            "protobuf with a wrong wire type",
            HeaderBlock::grpc(UNARY),
            frame_bytes(false, &[0x0d, 1, 2, 3, 4, 0x0a, 0xff]).to_vec(),
            13,
        ),
    ];
    let mut stream = 1;
    for (what, block, body, code) in cases {
        let mut bytes = frames::headers(stream, block.bytes(), false);
        for chunk in body.chunks(16_000) {
            bytes.extend(frames::data(stream, chunk, false));
        }
        bytes.extend(frames::data(stream, &[], true));
        conn.send(&bytes);
        let outcome = conn.outcome(stream, PATIENCE);
        eprintln!(
            "{what}: {:?} {:?}",
            outcome.grpc_status(),
            outcome.last("grpc-message")
        );
        assert_eq!(outcome.grpc_status(), Some(code), "{what}: {outcome:?}");
        stream += 2;
        assert_conn_serves(&mut conn, stream, what);
        stream += 2;
    }
    assert_serving(&server, "bad bodies");
    baseline.check("bad bodies");
}

// ---------------------------------------------------------------------------
// Slow and silent peers
// ---------------------------------------------------------------------------

/// Server-streaming requests from a peer whose windows stay closed.
fn zero_window_streams(conn: &mut RawConn, streams: u32) {
    let request = EchoRequest {
        response_count: 1_000,
        response_size: 1_000,
        ..echo("zero window")
    };
    for i in 0..streams {
        send_unary(
            conn,
            1 + 2 * i,
            &HeaderBlock::grpc(SERVER_STREAMING),
            &request,
        );
    }
}

#[test]
fn a_peer_that_never_opens_its_window_holds_nothing_after_it_leaves() {
    let _serial = serial();
    // Fewer stalled streams than workers: the rest of the pool serves.
    let server = TestServer::start_with(Server::builder().max_workers(8));
    let baseline = Baseline::take();
    let mut conn = RawConn::handshake_with(server.port(), &[(0x4, 0)]);
    zero_window_streams(&mut conn, 4);
    assert!(
        server
            .events()
            .wait_for_count("", EventKind::Started, 4, PATIENCE)
            .is_some()
    );
    assert_serving(&server, "zero window (4 streams)");
    baseline.check("zero window (4 streams)");
    drop(conn);
    // The handlers blocked on the closed window end when the peer goes.
    assert!(
        server
            .events()
            .wait_for_count("", EventKind::Callback, 4, PATIENCE)
            .is_some(),
        "handlers stuck behind a closed window outlived their peer"
    );
    assert_serving(&server, "after the zero-window peer left");
}

#[test]
fn hundreds_of_zero_window_streams_do_not_take_the_pool() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut conns: Vec<RawConn> = (0..4)
        .map(|_| RawConn::handshake_with(server.port(), &[(0x4, 0)]))
        .collect();
    for conn in &mut conns {
        zero_window_streams(conn, 50);
    }
    for i in 0..20 {
        assert_serving(&server, &format!("zero window x200, call {i}"));
    }
    baseline.check("zero window x200");
}

#[test]
fn dozens_of_endless_client_streams_do_not_take_the_pool() {
    let _serial = serial();
    let server = TestServer::start();
    let mut conn = RawConn::handshake(server.port());
    for i in 0..48u32 {
        let stream = 1 + 2 * i;
        let mut bytes = frames::headers(stream, HeaderBlock::grpc(CLIENT_STREAMING).bytes(), false);
        bytes.extend(frames::data(stream, &frame(&echo("first")), false));
        conn.send(&bytes);
    }
    for i in 0..20 {
        assert_serving(&server, &format!("48 endless client streams, call {i}"));
    }
}

#[test]
fn slowloris_on_the_preface_and_headers_does_not_block_others() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut sockets = Vec::new();
    for i in 0..300 {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        match i % 3 {
            // Half a preface.
            0 => socket.write_all(&PREFACE[..12]).unwrap(),
            // A preface, then half a frame header.
            1 => {
                socket.write_all(PREFACE).unwrap();
                socket.write_all(&frames::settings(&[])[..5]).unwrap();
            }
            // A header block that never ends.
            _ => {
                socket.write_all(PREFACE).unwrap();
                socket.write_all(&frames::settings(&[])).unwrap();
                let block = HeaderBlock::grpc(UNARY);
                socket
                    .write_all(&frames::frame(kind::HEADERS, 0, 1, block.bytes()))
                    .unwrap();
            }
        }
        sockets.push(socket);
    }
    // One more byte from each, then silence.
    for socket in &mut sockets {
        let _ = socket.write_all(b"\0");
    }
    for i in 0..10 {
        assert_serving(&server, &format!("300 slowloris sockets, call {i}"));
    }
    baseline.check("300 slowloris sockets");
}

#[test]
fn a_half_sent_preface_is_closed_by_the_handshake_timeout() {
    let _serial = serial();
    // The default is 20 s, as gRPC core's; tonic and hyper have none.
    let server =
        TestServer::start_with(Server::builder().handshake_timeout(Duration::from_millis(500)));
    let mut half = RawConn::connect(server.port(), frames::Acks::Never);
    half.send(&PREFACE[..12]);
    let mut silent = RawConn::connect(server.port(), frames::Acks::Never);
    assert!(
        half.wait_closed(PATIENCE),
        "a connection that never finished its preface was kept open"
    );
    assert!(
        silent.wait_closed(PATIENCE),
        "a silent connection was kept open"
    );
    // A connection that completed its handshake is not subject to it.
    let mut done = RawConn::handshake(server.port());
    std::thread::sleep(Duration::from_millis(1_000));
    assert_conn_serves(&mut done, 1, "after the handshake timeout");
}

// ---------------------------------------------------------------------------
// Not HTTP/2 at all
// ---------------------------------------------------------------------------

#[test]
fn http1_and_random_bytes_are_turned_away() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    // HTTP/1.1 is served (Connect and gRPC-Web): requests that are neither
    // get a plain HTTP error, not a hang.
    for request in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"POST /rustgrpc.testing.TestService/UnaryCall HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0",
    ] {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
        tcp.write_all(request).expect("send");
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).expect("an HTTP/1.1 response");
        assert!(
            head.starts_with(b"HTTP/1.1 4"),
            "{:?} -> {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&head)
        );
    }
    let http1: &[&[u8]] = &[
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ];
    for bytes in http1 {
        let mut conn = RawConn::connect(server.port(), frames::Acks::Never);
        conn.send(bytes);
        assert!(
            conn.wait_closed(PATIENCE),
            "{:?}: the connection stayed open",
            String::from_utf8_lossy(bytes)
        );
    }
    // Random bytes, before and after a valid preface.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    for round in 0..40 {
        let mut conn = RawConn::connect(server.port(), frames::Acks::Never);
        let mut bytes = if round % 2 == 0 {
            Vec::new()
        } else {
            [PREFACE, &frames::settings(&[])].concat()
        };
        bytes.extend(random(64 << 10));
        conn.send(&bytes);
        assert!(
            conn.wait_closed(PATIENCE),
            "round {round}: random bytes kept the connection open"
        );
    }
    assert_serving(&server, "junk on the port");
    baseline.check("junk on the port");
}

#[test]
fn two_thousand_idle_connections() {
    let _serial = serial();
    let server = TestServer::start();
    let baseline = Baseline::take();
    let mut sockets = Vec::new();
    let hello = [PREFACE, &frames::settings(&[])].concat();
    for i in 0..2_000 {
        let Ok(mut socket) = TcpStream::connect(("127.0.0.1", server.port())) else {
            panic!("connection {i} was refused");
        };
        // Half of them finish the handshake; the others send nothing.
        if i % 2 == 0 {
            socket.write_all(&hello).unwrap();
        }
        sockets.push(socket);
    }
    for i in 0..10 {
        assert_serving(&server, &format!("2000 idle connections, call {i}"));
    }
    let growth = baseline.check("2000 idle connections");
    eprintln!("2000 idle connections: {} KiB each", (growth >> 10) / 2_000);
    drop(sockets);
    assert_serving(&server, "after 2000 idle connections left");
}

#[test]
fn the_server_caps_concurrent_streams() {
    let _serial = serial();
    let server = TestServer::start();
    let mut conn = RawConn::handshake(server.port());
    let limit = match conn.wait_for(PATIENCE, |e| {
        matches!(e, Event::Settings { ack: false, .. })
    }) {
        Some(Event::Settings { params, .. }) => {
            params.iter().find(|(id, _)| *id == 0x3).map(|p| p.1)
        }
        _ => None,
    };
    assert_eq!(limit, Some(200), "SETTINGS_MAX_CONCURRENT_STREAMS");
    // 200 uploads that never end (their handlers wait on the network and
    // hold no worker); stream 201 over the limit is refused.
    let upload = HeaderBlock::grpc(CLIENT_STREAMING);
    for i in 0..201u32 {
        let stream = 1 + 2 * i;
        let mut bytes = frames::headers(stream, upload.bytes(), false);
        bytes.extend(frames::data(stream, &frame(&echo("part")), false));
        conn.send(&bytes);
    }
    let outcome = conn.outcome(1 + 2 * 200, PATIENCE);
    assert_eq!(outcome.reset, Some(reason::REFUSED_STREAM), "{outcome:?}");
    assert_serving(&server, "stream cap");
}

#[test]
fn compression_on_a_hostile_connection_still_applies_limits() {
    let _serial = serial();
    // A server that compresses its answers still answers a client whose
    // grpc-accept-encoding is junk, in identity.
    let server = TestServer::start_with(Server::builder().compression(Compression::Gzip));
    let mut conn = RawConn::handshake(server.port());
    let block = HeaderBlock::grpc_with(UNARY, &[("grpc-accept-encoding", ",,,x,;;,gzip;q=0,")]);
    send_unary(&mut conn, 1, &block, &echo("hi"));
    let outcome = conn.outcome(1, PATIENCE);
    assert_eq!(outcome.grpc_status(), Some(0), "{outcome:?}");
}

// ---------------------------------------------------------------------------
// HTTP/1.1 connection flood
// ---------------------------------------------------------------------------

/// A Connect unary request (protobuf) for `message`, keep-alive.
fn connect_unary_http1(message: &str) -> Vec<u8> {
    let body = echo(message).encode_to_vec();
    let mut request = format!(
        "POST {UNARY} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/proto\r\n\
         Connect-Protocol-Version: 1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(body);
    request
}

/// Sends `request` on `tcp` and reads one whole response (by
/// `Content-Length` or chunked encoding, as HTTP/1.1 keep-alive needs);
/// the response as text.
fn http1_exchange(tcp: &mut TcpStream, request: &[u8]) -> std::io::Result<String> {
    use std::io::Read;
    tcp.write_all(request)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = tcp.read(&mut chunk)?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..head_end].to_ascii_lowercase();
        let body = &bytes[head_end + 4..];
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        let complete = match length {
            Some(length) => body.len() >= length,
            None => body.ends_with(b"0\r\n\r\n"),
        };
        if complete {
            return Ok(text);
        }
    }
}

/// An HTTP/1.1 connection that completed one Connect call and stays open.
fn held_http1_connection(port: u16) -> TcpStream {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let response = http1_exchange(&mut tcp, &connect_unary_http1("held")).expect("a response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    tcp
}

/// Whether the server closed `tcp` (EOF or reset) within `PATIENCE`.
fn closed_by_server(tcp: &mut TcpStream) -> bool {
    use std::io::Read;
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    match tcp.read(&mut [0u8; 64]) {
        Ok(read) => read == 0,
        Err(error) => !matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn an_http1_connection_flood_is_capped_and_grpc_keeps_serving() {
    use std::io::Read;
    let _serial = serial();
    const CAP: usize = 8;
    let server = TestServer::start_with(
        Server::builder()
            .max_http1_connections(CAP)
            .http1_idle_timeout(Duration::from_secs(2)),
    );
    let baseline = Baseline::take();
    // CAP keep-alive connections are served and keep their slots.
    let mut held: Vec<TcpStream> = (0..CAP)
        .map(|_| held_http1_connection(server.port()))
        .collect();
    // Every connection past the cap gets a 503 that says why, then EOF.
    for _ in 0..200 {
        let mut tcp = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
        tcp.write_all(&connect_unary_http1("extra")).expect("send");
        let mut response = String::new();
        tcp.read_to_string(&mut response)
            .expect("the refusal, then the server closes the connection");
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        assert!(
            response.contains("too many HTTP/1.1 connections"),
            "{response}"
        );
    }
    // Our own Connect client sees the refusal as UNAVAILABLE, saying why.
    let channel = grpc_core::ChannelBuilder::new(server.target())
        .protocol(grpc_core::ClientProtocol::connect().http_version(grpc_core::HttpVersion::Http1))
        .build()
        .expect("channel");
    let error = rustgrpc_tests::TestServiceStub::new(channel)
        .unary_call()
        .with_options(CallOptions::new().timeout(PATIENCE))
        .call(echo("refused"))
        .expect_err("past the cap");
    assert_eq!(error.code(), grpc_core::Code::Unavailable, "{error:?}");
    assert!(
        error.details().contains("too many HTTP/1.1 connections"),
        "{error:?}"
    );
    // gRPC over HTTP/2 is not counted and keeps serving; so do the
    // HTTP/1.1 connections that hold slots.
    assert_serving(&server, "during the HTTP/1.1 flood");
    let again = http1_exchange(&mut held[0], &connect_unary_http1("again")).expect("response");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    // A client closing its connection frees its slot for the next one.
    drop(held.pop());
    let served = (0..100).any(|_| {
        let mut tcp = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let response = http1_exchange(&mut tcp, &connect_unary_http1("freed"));
        let ok = response.is_ok_and(|response| response.starts_with("HTTP/1.1 200"));
        if !ok {
            std::thread::sleep(Duration::from_millis(20));
        }
        ok
    });
    assert!(served, "a freed slot was never given to a new connection");
    // Idle keep-alive connections are closed by the idle timeout, which
    // frees their slots: CAP new connections are served again.
    for tcp in &mut held {
        assert!(
            closed_by_server(tcp),
            "an idle HTTP/1.1 connection was kept open"
        );
    }
    let fresh: Vec<TcpStream> = (0..CAP)
        .map(|_| held_http1_connection(server.port()))
        .collect();
    assert_eq!(fresh.len(), CAP);
    baseline.check("HTTP/1.1 connection flood");
}
