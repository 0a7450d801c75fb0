//! The Connect protocol on the same port as gRPC, from a plain HTTP client
//! (hyper) over HTTP/1.1 and HTTP/2: unary and streaming, errors, metadata,
//! deadlines, compression, limits, CORS, and malformed input.

use std::time::Duration;

use bytes::Bytes;
use grpc_core::{Code, ServerBuilder};
use http::{HeaderMap, Request, StatusCode};
use prost::Message as _;
use rustgrpc_tests::raw::{gunzip, gzip, runtime};
use rustgrpc_tests::web::{self, Client, VERSIONS, Version, envelope, envelopes, full};
use rustgrpc_tests::{
    EchoRequest, EchoResponse, EventKind, FailMode, TestServer, echo, entry, ms, tagged,
};
use serde_json::Value;

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const SERVER_STREAM: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";
const CLIENT_STREAM: &str = "/rustgrpc.testing.TestService/StreamingInputCall";
const BIDI: &str = "/rustgrpc.testing.TestService/FullDuplexCall";

fn unary_request(path: &str, body: impl Into<Bytes>) -> http::request::Builder {
    let _ = body;
    Request::post(path)
        .header("content-type", "application/proto")
        .header("connect-protocol-version", "1")
}

fn post_unary(path: &str, message: &EchoRequest) -> Request<web::Body> {
    unary_request(path, Bytes::new())
        .body(full(message.encode_to_vec()))
        .unwrap()
}

fn stream_request(path: &str, body: web::Body) -> Request<web::Body> {
    Request::post(path)
        .header("content-type", "application/connect+proto")
        .header("connect-protocol-version", "1")
        .body(body)
        .unwrap()
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", String::from_utf8_lossy(body)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// The messages and the end-of-stream JSON of a streaming response.
fn split_stream(body: &[u8]) -> (Vec<EchoResponse>, Value) {
    let mut messages = Vec::new();
    let mut end = None;
    for (flags, payload) in envelopes(body) {
        if flags & 0x02 != 0 {
            assert!(end.is_none(), "two end-of-stream messages");
            end = Some(json(&payload));
        } else {
            assert!(end.is_none(), "message after end-of-stream");
            messages.push(EchoResponse::decode(&payload[..]).unwrap());
        }
    }
    (messages, end.expect("no end-of-stream message"))
}

#[test]
fn unary_over_http1_and_http2() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            for round in 0..2 {
                let (head, body) = client.call(post_unary(UNARY, &echo("hi"))).await;
                assert_eq!(head.status, StatusCode::OK, "{version:?} round {round}");
                assert_eq!(header(&head.headers, "content-type"), "application/proto");
                let reply = EchoResponse::decode(body).unwrap();
                assert_eq!(reply.message, "hi");
                assert!(reply.peer.starts_with("ipv4:127.0.0.1:"), "{}", reply.peer);
                assert!(!reply.has_deadline);
            }
        }
    });
}

#[test]
fn grpc_keeps_working_on_the_same_port() {
    let server = TestServer::start();
    assert_eq!(
        server
            .stub()
            .unary_call()
            .call(echo("grpc"))
            .unwrap()
            .message,
        "grpc"
    );
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let (head, _) = client.call(post_unary(UNARY, &echo("connect"))).await;
        assert_eq!(head.status, StatusCode::OK);
    });
    assert_eq!(
        server
            .stub()
            .unary_call()
            .call(echo("again"))
            .unwrap()
            .message,
        "again"
    );
}

#[test]
fn unary_error_is_json_with_code_http_status_and_details() {
    let server = TestServer::start();
    // A google.rpc.Status with one Any (type_url, value), encoded by hand.
    let type_url = b"type.googleapis.com/google.rpc.ErrorInfo";
    let any = [
        &[0x0a, type_url.len() as u8][..],
        type_url,
        &[0x12, 3, 1, 2, 3],
    ]
    .concat();
    let details = [
        &[0x08, 5, 0x12, 4][..],
        b"gone",
        &[0x1a, any.len() as u8],
        &any,
    ]
    .concat();
    let request = EchoRequest {
        fail_code: Code::NotFound.value(),
        fail_message: "no such thing".into(),
        fail_binary_details: details,
        fail_mode: FailMode::AbortWithStatus.into(),
        ..echo("x")
    };
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let (head, body) = client.call(post_unary(UNARY, &request)).await;
            assert_eq!(head.status, StatusCode::NOT_FOUND, "{version:?}");
            assert_eq!(header(&head.headers, "content-type"), "application/json");
            let error = json(&body);
            assert_eq!(error["code"], "not_found");
            assert_eq!(error["message"], "no such thing");
            assert_eq!(error["details"][0]["type"], "google.rpc.ErrorInfo");
            assert_eq!(error["details"][0]["value"], "AQID");
        }
    });
}

#[test]
fn every_code_maps_to_its_name_and_http_status() {
    let server = TestServer::start();
    let cases = [
        (Code::Cancelled, "canceled", 499),
        (Code::Unknown, "unknown", 500),
        (Code::InvalidArgument, "invalid_argument", 400),
        (Code::DeadlineExceeded, "deadline_exceeded", 504),
        (Code::AlreadyExists, "already_exists", 409),
        (Code::PermissionDenied, "permission_denied", 403),
        (Code::ResourceExhausted, "resource_exhausted", 429),
        (Code::FailedPrecondition, "failed_precondition", 400),
        (Code::Aborted, "aborted", 409),
        (Code::OutOfRange, "out_of_range", 400),
        (Code::Unimplemented, "unimplemented", 501),
        (Code::Internal, "internal", 500),
        (Code::Unavailable, "unavailable", 503),
        (Code::DataLoss, "data_loss", 500),
        (Code::Unauthenticated, "unauthenticated", 401),
    ];
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        for (code, name, http) in cases {
            let request = EchoRequest {
                fail_code: code.value(),
                fail_message: format!("failed with {name}"),
                ..echo("x")
            };
            let (head, body) = client.call(post_unary(UNARY, &request)).await;
            assert_eq!(head.status.as_u16(), http, "{name}");
            let error = json(&body);
            assert_eq!(error["code"], name);
            assert_eq!(error["message"], format!("failed with {name}"));
        }
    });
}

#[test]
fn unary_metadata_headers_and_trailer_prefixed_trailing_metadata() {
    let server = TestServer::start();
    let request = EchoRequest {
        initial_metadata: vec![entry("x-initial", "one"), entry("x-blob-bin", [0u8, 1, 2])],
        trailing_metadata: vec![entry("x-trailing", "two")],
        ..echo("md")
    };
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let http_request = unary_request(UNARY, Bytes::new())
                .header("x-custom", "from-client")
                .body(full(request.encode_to_vec()))
                .unwrap();
            let (head, body) = client.call(http_request).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(header(&head.headers, "x-initial"), "one");
            assert_eq!(header(&head.headers, "x-blob-bin"), "AAEC");
            assert_eq!(header(&head.headers, "trailer-x-trailing"), "two");
            let reply = EchoResponse::decode(body).unwrap();
            let seen: Vec<_> = reply
                .invocation_metadata
                .iter()
                .map(|e| e.key.as_str())
                .collect();
            assert!(seen.contains(&"x-custom"), "{seen:?}");
            assert!(
                !seen.iter().any(|key| key.starts_with("connect-")),
                "protocol headers are not metadata: {seen:?}"
            );
        }
    });
}

#[test]
fn gzip_request_and_response_bodies() {
    let server = TestServer::start();
    let request = EchoRequest {
        response_compression: "gzip".into(),
        response_size: 2000,
        ..echo("zipped")
    };
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let http_request = unary_request(UNARY, Bytes::new())
                .header("content-encoding", "gzip")
                .header("accept-encoding", "gzip")
                .body(full(gzip(&request.encode_to_vec())))
                .unwrap();
            let (head, body) = client.call(http_request).await;
            assert_eq!(head.status, StatusCode::OK, "{version:?}");
            assert_eq!(header(&head.headers, "content-encoding"), "gzip");
            let reply = EchoResponse::decode(&gunzip(&body)[..]).unwrap();
            assert_eq!(reply.message, "zipped");
            assert_eq!(reply.payload.len(), 2000);
        }
    });
}

#[test]
fn connect_timeout_ms_sets_the_deadline() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let tag = format!("timeout-{version:?}");
            let request = EchoRequest {
                sleep_ms: 60_000,
                ..echo("slow")
            };
            let http_request = unary_request(UNARY, Bytes::new())
                .header("connect-timeout-ms", "100")
                .header("test-tag", tag.as_str())
                .body(full(request.encode_to_vec()))
                .unwrap();
            let (head, body) = client.call(http_request).await;
            assert_eq!(head.status, StatusCode::GATEWAY_TIMEOUT);
            assert_eq!(json(&body)["code"], "deadline_exceeded");
            server
                .events()
                .expect(&tag, EventKind::SawInactive, ms(10_000));

            let http_request = unary_request(UNARY, Bytes::new())
                .header("connect-timeout-ms", "60000")
                .body(full(echo("fast").encode_to_vec()))
                .unwrap();
            let (head, body) = client.call(http_request).await;
            assert_eq!(head.status, StatusCode::OK);
            let reply = EchoResponse::decode(body).unwrap();
            assert!(reply.has_deadline && reply.time_remaining_ms <= 60_000);
        }
    });
}

#[test]
fn server_streaming_over_http1_and_http2() {
    let server = TestServer::start();
    let request = EchoRequest {
        response_count: 3,
        ..echo("s")
    };
    let failing = EchoRequest {
        fail_code: Code::Aborted.value(),
        fail_message: "stopped".into(),
        trailing_metadata: vec![entry("x-t", "v")],
        ..request.clone()
    };
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let body = full(envelope(0, &request.encode_to_vec()));
            let (head, body) = client.call(stream_request(SERVER_STREAM, body)).await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(
                header(&head.headers, "content-type"),
                "application/connect+proto"
            );
            let (messages, end) = split_stream(&body);
            let indexes: Vec<u32> = messages.iter().map(|m| m.index).collect();
            assert_eq!(indexes, [0, 1, 2], "{version:?}");
            assert_eq!(end, serde_json::json!({}));

            let body = full(envelope(0, &failing.encode_to_vec()));
            let (head, body) = client.call(stream_request(SERVER_STREAM, body)).await;
            assert_eq!(head.status, StatusCode::OK, "streaming errors are 200");
            let (messages, end) = split_stream(&body);
            assert_eq!(messages.len(), 3);
            assert_eq!(end["error"]["code"], "aborted");
            assert_eq!(end["error"]["message"], "stopped");
            assert_eq!(end["metadata"]["x-t"][0], "v");
        }
    });
}

#[test]
fn client_streaming_over_http1_and_http2() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let mut body = Vec::new();
            for name in ["a", "b", "c"] {
                body.extend(envelope(0, &echo(name).encode_to_vec()));
            }
            let (head, body) = client.call(stream_request(CLIENT_STREAM, full(body))).await;
            assert_eq!(head.status, StatusCode::OK);
            let (messages, end) = split_stream(&body);
            assert_eq!(messages.len(), 1, "{version:?}");
            assert_eq!(messages[0].message, "a,b,c");
            assert_eq!(messages[0].request_count, 3);
            assert_eq!(end, serde_json::json!({}));
        }
    });
}

#[test]
fn client_streaming_body_sent_piece_by_piece_over_http1() {
    let server = TestServer::start();
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let (tx, body) = web::streaming();
        let request = Request::post(CLIENT_STREAM)
            .header("content-type", "application/connect+proto")
            .header("test-tag", "pieces")
            .body(body)
            .unwrap();
        let response = tokio::spawn(async move { client.call(request).await });
        for name in ["one", "two"] {
            let bytes = envelope(0, &echo(name).encode_to_vec());
            // Split each envelope across two writes.
            tx.send(Bytes::copy_from_slice(&bytes[..3])).await.unwrap();
            tx.send(Bytes::copy_from_slice(&bytes[3..])).await.unwrap();
        }
        // The handler has both messages before the body ends.
        let events = server.events().clone();
        tokio::task::spawn_blocking(move || {
            events.wait_for_count("pieces", EventKind::Request, 2, ms(10_000))
        })
        .await
        .unwrap();
        drop(tx);
        let (head, body) = response.await.unwrap();
        assert_eq!(head.status, StatusCode::OK);
        let (messages, _) = split_stream(&body);
        assert_eq!(messages[0].message, "one,two");
    });
}

#[test]
fn bidi_over_http2_answers_each_request_before_the_next() {
    let server = TestServer::start();
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http2).await;
        let (tx, body) = web::streaming();
        // The response head comes with the first response, so send first.
        let mut pending = Some(tokio::spawn(async move {
            client.send(stream_request(BIDI, body)).await
        }));
        let mut response = None;
        let mut received = Vec::new();
        for name in ["ping", "pong", "pung"] {
            tx.send(Bytes::from(envelope(0, &echo(name).encode_to_vec())))
                .await
                .unwrap();
            if let Some(pending) = pending.take() {
                let head: http::Response<_> = pending.await.unwrap();
                assert_eq!(head.status(), StatusCode::OK);
                response = Some(head);
            }
            let response = response.as_mut().unwrap();
            // The answer arrives while the request stream is still open.
            let mut buffered = Vec::new();
            loop {
                let chunk = web::next_chunk(response.body_mut()).await.expect("a reply");
                buffered.extend_from_slice(&chunk);
                if buffered.len() >= 5 {
                    let len = u32::from_be_bytes(buffered[1..5].try_into().unwrap()) as usize;
                    if buffered.len() >= 5 + len {
                        break;
                    }
                }
            }
            let (flags, payload) = envelopes(&buffered).remove(0);
            assert_eq!(flags, 0);
            received.push(EchoResponse::decode(&payload[..]).unwrap().message);
        }
        drop(tx);
        let mut response = response.unwrap();
        let mut rest = Vec::new();
        while let Some(chunk) = web::next_chunk(response.body_mut()).await {
            rest.extend_from_slice(&chunk);
        }
        assert_eq!(received, ["ping", "pong", "pung"]);
        let (messages, end) = split_stream(&rest);
        assert!(messages.is_empty());
        assert_eq!(end, serde_json::json!({}));
    });
}

#[test]
fn protocol_errors_are_clear_and_never_stall() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            // Unknown method.
            let (head, body) = client
                .call(post_unary("/rustgrpc.testing.TestService/Nope", &echo("x")))
                .await;
            assert_eq!(head.status, StatusCode::NOT_IMPLEMENTED);
            assert_eq!(json(&body)["code"], "unimplemented");
            // A content type nobody speaks.
            let request = Request::post(UNARY)
                .header("content-type", "text/plain")
                .body(full("hello"))
                .unwrap();
            assert_eq!(
                client.call(request).await.0.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            );
            // Malformed timeout, wrong protocol version, unknown compression.
            for (name, value, http, code) in [
                ("connect-timeout-ms", "soon", 400, "invalid_argument"),
                ("connect-timeout-ms", "12345678901", 400, "invalid_argument"),
                ("connect-protocol-version", "2", 400, "invalid_argument"),
                ("content-encoding", "br", 501, "unimplemented"),
            ] {
                let mut request = post_unary(UNARY, &echo("x"));
                request.headers_mut().insert(name, value.parse().unwrap());
                let (head, body) = client.call(request).await;
                assert_eq!(head.status.as_u16(), http, "{name}: {value}");
                assert_eq!(json(&body)["code"], code);
            }
            // Not protobuf.
            let request = unary_request(UNARY, Bytes::new())
                .body(full(vec![0xff; 7]))
                .unwrap();
            let (head, body) = client.call(request).await;
            assert_eq!(head.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(json(&body)["code"], "internal");
            // Not gzip.
            let request = unary_request(UNARY, Bytes::new())
                .header("content-encoding", "gzip")
                .body(full(vec![1, 2, 3]))
                .unwrap();
            let (head, body) = client.call(request).await;
            assert!(head.status.is_client_error() || head.status.is_server_error());
            assert!(json(&body)["code"].is_string());
            // An envelope declaring 4 GiB, a truncated envelope, a bad flag.
            for (bytes, code) in [
                (vec![0, 0xff, 0xff, 0xff, 0xff, 1], "resource_exhausted"),
                (vec![0, 0, 0, 0, 9, 1, 2], "invalid_argument"),
                (vec![0x40, 0, 0, 0, 0], "internal"),
            ] {
                let (head, body) = client
                    .call(stream_request(SERVER_STREAM, full(bytes)))
                    .await;
                assert_eq!(head.status, StatusCode::OK);
                let (_, end) = split_stream(&body);
                assert_eq!(end["error"]["code"], code, "{version:?}");
            }
            // The connection still serves.
            let (head, _) = client.call(post_unary(UNARY, &echo("after"))).await;
            assert_eq!(head.status, StatusCode::OK);
        }
    });
}

#[test]
fn oversized_unary_body_is_refused() {
    let server = TestServer::start_with(ServerBuilder::new().max_receive_message_length(1024));
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let request = EchoRequest {
                payload: vec![7; 4096],
                ..echo("big")
            };
            let (head, body) = client.call(post_unary(UNARY, &request)).await;
            assert_eq!(head.status, StatusCode::TOO_MANY_REQUESTS, "{version:?}");
            assert_eq!(json(&body)["code"], "resource_exhausted");
        }
    });
}

#[test]
fn http1_client_disconnect_cancels_the_handler() {
    let server = TestServer::start();
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let request = unary_request(UNARY, Bytes::new())
            .header("test-tag", "gone")
            .body(full(
                EchoRequest {
                    sleep_ms: 60_000,
                    ..echo("x")
                }
                .encode_to_vec(),
            ))
            .unwrap();
        let call = tokio::spawn(async move { client.send(request).await });
        let events = server.events().clone();
        let started = tokio::task::spawn_blocking(move || {
            events.wait_for("gone", EventKind::Started, ms(10_000))
        });
        assert!(started.await.unwrap().is_some());
        call.abort(); // drops the connection
        let events = server.events().clone();
        let inactive = tokio::task::spawn_blocking(move || {
            events.wait_for("gone", EventKind::SawInactive, ms(10_000))
        });
        assert!(
            inactive.await.unwrap().is_some(),
            "the handler saw the RPC end"
        );
    });
}

#[test]
fn maximum_concurrent_rpcs_holds_for_connect() {
    let server = TestServer::start_with(ServerBuilder::new().maximum_concurrent_rpcs(1));
    runtime().block_on(async {
        let mut busy = Client::connect(server.port(), Version::Http1).await;
        let request = unary_request(UNARY, Bytes::new())
            .header("test-tag", "busy")
            .body(full(
                EchoRequest {
                    sleep_ms: 2_000,
                    ..echo("x")
                }
                .encode_to_vec(),
            ))
            .unwrap();
        let first = tokio::spawn(async move { busy.call(request).await });
        let events = server.events().clone();
        tokio::task::spawn_blocking(move || events.expect("busy", EventKind::Started, ms(10_000)))
            .await
            .unwrap();
        let mut client = Client::connect(server.port(), Version::Http2).await;
        let (head, body) = client.call(post_unary(UNARY, &echo("second"))).await;
        assert_eq!(head.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(json(&body)["code"], "resource_exhausted");
        assert_eq!(first.await.unwrap().0.status, StatusCode::OK);
    });
}

#[test]
fn stop_with_grace_lets_an_http1_call_finish_then_refuses() {
    let server = TestServer::start();
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let request = unary_request(UNARY, Bytes::new())
            .header("test-tag", "graceful")
            .body(full(
                EchoRequest {
                    sleep_ms: 300,
                    ..echo("x")
                }
                .encode_to_vec(),
            ))
            .unwrap();
        let call = tokio::spawn(async move { client.call(request).await });
        let events = server.events().clone();
        tokio::task::spawn_blocking(move || {
            events.expect("graceful", EventKind::Started, ms(10_000))
        })
        .await
        .unwrap();
        let stopped = server.stop(Some(Duration::from_secs(30)));
        let (head, body) = call.await.unwrap();
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(EchoResponse::decode(body).unwrap().message, "x");
        tokio::task::spawn_blocking(move || stopped.wait())
            .await
            .unwrap();
    });
}

#[test]
fn cors_preflight_and_exposed_headers() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let preflight = Request::options(UNARY)
                .header("origin", "http://page.example")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,connect-protocol-version",
                )
                .body(full(Bytes::new()))
                .unwrap();
            let (head, _) = client.call(preflight).await;
            assert_eq!(head.status, StatusCode::NO_CONTENT);
            assert_eq!(header(&head.headers, "access-control-allow-origin"), "*");
            assert!(header(&head.headers, "access-control-allow-methods").contains("POST"));
            assert!(
                header(&head.headers, "access-control-allow-headers")
                    .contains("connect-protocol-version")
            );
            let request = unary_request(UNARY, Bytes::new())
                .header("origin", "http://page.example")
                .body(full(
                    EchoRequest {
                        trailing_metadata: vec![entry("x-t", "1")],
                        ..echo("c")
                    }
                    .encode_to_vec(),
                ))
                .unwrap();
            let (head, _) = client.call(request).await;
            assert_eq!(header(&head.headers, "access-control-allow-origin"), "*");
            assert!(header(&head.headers, "access-control-expose-headers").contains("trailer-x-t"));
        }
    });
}

#[test]
fn cors_origin_list_is_enforced() {
    let server = TestServer::start_with(
        ServerBuilder::new().cors(grpc_core::Cors::allow_origins(["http://good.example"])),
    );
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        for (origin, status, allowed) in [
            ("http://good.example", StatusCode::NO_CONTENT, true),
            ("http://evil.example", StatusCode::FORBIDDEN, false),
        ] {
            let preflight = Request::options(UNARY)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .body(full(Bytes::new()))
                .unwrap();
            let (head, _) = client.call(preflight).await;
            assert_eq!(head.status, status);
            assert_eq!(
                head.headers.contains_key("access-control-allow-origin"),
                allowed
            );
        }
    });
}

#[test]
fn handler_sees_the_same_context_for_every_protocol() {
    let server = TestServer::start();
    let request = EchoRequest {
        echo_metadata: true,
        ..echo("ctx")
    };
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        let http_request = unary_request(UNARY, Bytes::new())
            .header("x-key", "value")
            .body(full(request.encode_to_vec()))
            .unwrap();
        let (head, _) = client.call(http_request).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(header(&head.headers, "trailer-x-key"), "value");
    });
    let _ = tagged("unused");
}
