//! Our client against a raw HTTP/2 server (the `h2` crate) that answers in
//! ways our own server never does: plain HTTP errors, non-gRPC content,
//! stream resets, Trailers-Only, missing trailers, compressed responses.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_core::{CallOptions, Code, Metadata, RpcError};
use h2::RecvStream;
use h2::server::SendResponse;
use http::{HeaderMap, Request, Response};
use prost::Message;
use rustgrpc_tests::raw::{self, frame, frame_bytes, gunzip, gzip};
use rustgrpc_tests::{EchoRequest, EchoResponse, TestServiceStub, echo, ms};

const PROMPT: Duration = Duration::from_secs(1);

type Handler = Arc<
    dyn Fn(Request<RecvStream>, SendResponse<Bytes>) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// A raw HTTP/2 server on 127.0.0.1 that hands every stream to `handler`.
struct RawServer {
    runtime: Option<tokio::runtime::Runtime>,
    port: u16,
}

impl RawServer {
    fn start<F, Fut>(handler: F) -> RawServer
    where
        F: Fn(Request<RecvStream>, SendResponse<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler =
            Arc::new(move |request, respond| Box::pin(handler(request, respond)));
        let runtime = raw::runtime();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(tcp).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        tokio::spawn(handler(request, respond));
                    }
                });
            }
        });
        RawServer {
            runtime: Some(runtime),
            port,
        }
    }

    fn stub(&self) -> TestServiceStub {
        TestServiceStub::new(
            grpc_core::insecure_channel(&format!("127.0.0.1:{}", self.port)).unwrap(),
        )
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn response(status: u16, headers: &[(&str, &str)]) -> Response<()> {
    let mut response = Response::builder().status(status).body(()).unwrap();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        response.headers_mut().append(name, value.parse().unwrap());
    }
    response
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    response(200, pairs).headers().clone()
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

/// Reads the request body to its end, then runs `answer`.
async fn drain(request: Request<RecvStream>) -> (http::request::Parts, Vec<u8>) {
    let (parts, body) = request.into_parts();
    let (data, _) = raw::read_body(body).await.unwrap_or_default();
    (parts, data)
}

fn unary_error(server: &RawServer) -> RpcError {
    server
        .stub()
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(5)))
        .call(echo("x"))
        .unwrap_err()
}

#[test]
fn http_status_codes_map_to_grpc_codes() {
    for (http_status, code) in [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (500, Code::Unknown),
        (418, Code::Unknown),
    ] {
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            let _ = respond.send_response(response(http_status, &[]), true);
        });
        let err = unary_error(&server);
        assert_eq!(err.code(), code, "HTTP {http_status}: {err:?}");
        assert!(err.details().contains(&http_status.to_string()), "{err:?}");

        // The same with a body of HTML, on a streaming call.
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            let Ok(mut send) = respond.send_response(
                response(http_status, &[("content-type", "text/html")]),
                false,
            ) else {
                return;
            };
            let _ = send.send_data(Bytes::from_static(b"<html>oops</html>"), true);
        });
        let err = server
            .stub()
            .streaming_output_call()
            .call(echo("x"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code(), code, "HTTP {http_status} with a body: {err:?}");
    }
}

#[test]
fn http_200_without_grpc_content_type_is_unknown() {
    for content_type in [Some("text/html"), Some("application/json"), None] {
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            let headers: Vec<(&str, &str)> = content_type
                .map(|value| vec![("content-type", value)])
                .unwrap_or_default();
            let Ok(mut send) = respond.send_response(response(200, &headers), false) else {
                return;
            };
            let _ = send.send_data(Bytes::from_static(b"not grpc"), true);
        });
        let err = unary_error(&server);
        assert_eq!(err.code(), Code::Unknown, "{content_type:?}: {err:?}");
    }
}

#[test]
fn stream_resets_map_to_grpc_codes() {
    for (reason, code) in [
        (h2::Reason::REFUSED_STREAM, Code::Unavailable),
        (h2::Reason::CANCEL, Code::Cancelled),
        (h2::Reason::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
        (h2::Reason::INADEQUATE_SECURITY, Code::PermissionDenied),
        (h2::Reason::INTERNAL_ERROR, Code::Internal),
        (h2::Reason::PROTOCOL_ERROR, Code::Internal),
    ] {
        // Before any response headers.
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            respond.send_reset(reason);
        });
        let err = unary_error(&server);
        assert_eq!(err.code(), code, "{reason:?}: {err:?}");

        // After headers and a message, on a stream.
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            let Ok(mut send) = respond.send_response(response(200, &[GRPC]), false) else {
                return;
            };
            let _ = send.send_data(frame(&EchoResponse::default()), false);
            tokio::time::sleep(ms(20)).await;
            send.send_reset(reason);
        });
        let mut stream = server
            .stub()
            .streaming_output_call()
            .call(echo("x"))
            .unwrap();
        assert!(stream.next().unwrap().is_ok());
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!(err.code(), code, "{reason:?} mid-stream: {err:?}");
    }
}

#[test]
fn trailers_only_responses() {
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let _ = respond.send_response(
            response(
                200,
                &[
                    GRPC,
                    ("grpc-status", "5"),
                    // Lowercase escapes must decode too; a bad escape stays.
                    ("grpc-message", "not%20found%20%e2%9c%93 %zz"),
                    ("grpc-status-details-bin", "AAEC/w"),
                    ("x-why", "because"),
                    ("x-why-bin", "AAEC/w=="),
                ],
            ),
            true,
        );
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.details(), "not found \u{2713} %zz");
    assert_eq!(err.status().binary_details().as_ref(), &[0, 1, 2, 255]);
    assert_eq!(err.trailing_metadata().get("x-why"), Some("because"));
    assert_eq!(
        err.trailing_metadata().get_bin("x-why-bin"),
        Some(&[0u8, 1, 2, 255][..])
    );
    assert!(err.initial_metadata().is_empty());
    for (key, _) in err.trailing_metadata() {
        assert!(!key.starts_with("grpc-") && key != "content-type", "{key}");
    }

    // Trailers-Only with OK on a server stream: an empty stream.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let _ = respond.send_response(response(200, &[GRPC, ("grpc-status", "0")]), true);
    });
    let mut stream = server
        .stub()
        .streaming_output_call()
        .call(echo("x"))
        .unwrap();
    assert!(stream.next().is_none());
    assert_eq!(stream.code(), Code::Ok);
    // ... but a unary call needs its one message.
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");
}

#[test]
fn a_full_response_from_another_implementation() {
    let (seen_tx, seen_rx) = mpsc::channel();
    let seen_tx = Arc::new(Mutex::new(seen_tx));
    let server = RawServer::start(move |request, mut respond| {
        let seen_tx = Arc::clone(&seen_tx);
        async move {
            let (parts, body) = drain(request).await;
            let _ = seen_tx.lock().unwrap().send((parts, body));
            let Ok(mut send) = respond.send_response(
                response(
                    200,
                    &[
                        ("content-type", "application/grpc+proto"),
                        ("x-initial", "1"),
                    ],
                ),
                false,
            ) else {
                return;
            };
            let reply = EchoResponse {
                message: "from h2".into(),
                ..EchoResponse::default()
            };
            let _ = send.send_data(frame(&reply), false);
            let _ = send.send_trailers(headers(&[("grpc-status", "0"), ("x-trailing", "2")]));
        }
    });
    let options = CallOptions::new()
        .timeout(Duration::from_secs(3))
        .metadata(Metadata::from_pairs([("x-custom", "c"), ("user-agent", "agent/9")]).unwrap());
    let (reply, call) = server
        .stub()
        .unary_call()
        .with_options(options)
        .with_call(echo("to h2"))
        .unwrap();
    assert_eq!(reply.message, "from h2");
    assert_eq!(call.initial_metadata().get("x-initial"), Some("1"));
    assert_eq!(call.trailing_metadata().get("x-trailing"), Some("2"));
    assert_eq!(call.code(), Code::Ok);

    // What our client sent.
    let (parts, body) = seen_rx.recv_timeout(PROMPT).unwrap();
    assert_eq!(parts.method, http::Method::POST);
    assert_eq!(parts.uri.path(), "/rustgrpc.testing.TestService/UnaryCall");
    assert_eq!(parts.uri.scheme_str(), Some("http"));
    assert_eq!(
        parts.uri.authority().map(|a| a.as_str().to_owned()),
        Some(format!("127.0.0.1:{}", server.port))
    );
    let header = |name: &str| raw::header(&parts.headers, name).to_owned();
    assert_eq!(header("content-type"), "application/grpc");
    assert_eq!(header("te"), "trailers");
    assert_eq!(header("x-custom"), "c");
    assert!(header("user-agent").starts_with("agent/9 grpc-rust-rustgrpc/"));
    assert_eq!(parts.headers.get_all("user-agent").iter().count(), 1);
    assert!(header("grpc-accept-encoding").contains("gzip"));
    assert!(parts.headers.get("grpc-encoding").is_none());
    let timeout = header("grpc-timeout");
    let (digits, unit) = timeout.split_at(timeout.len() - 1);
    assert!(
        digits.len() <= 8 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{timeout}"
    );
    let nanos_per_unit: u64 = match unit {
        "n" => 1,
        "u" => 1_000,
        "m" => 1_000_000,
        "S" => 1_000_000_000,
        other => panic!("unexpected unit {other}"),
    };
    let sent = Duration::from_nanos(digits.parse::<u64>().unwrap() * nanos_per_unit);
    assert!(
        sent <= Duration::from_secs(3) && sent > Duration::from_secs(2),
        "{timeout}"
    );
    let messages = raw::split_frames(&body);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        EchoRequest::decode(messages[0].1.as_slice())
            .unwrap()
            .message,
        "to h2"
    );
}

#[test]
fn compressed_responses_and_requests() {
    let server = RawServer::start(|request, mut respond| async move {
        let (parts, body) = drain(request).await;
        // Echo the request back, compressed with gzip.
        let messages = raw::split_frames(&body);
        let request = if parts
            .headers
            .get("grpc-encoding")
            .is_some_and(|v| v == "gzip")
        {
            assert!(messages[0].0, "compressed flag");
            EchoRequest::decode(gunzip(&messages[0].1).as_slice()).unwrap()
        } else {
            EchoRequest::decode(messages[0].1.as_slice()).unwrap()
        };
        let reply = EchoResponse {
            message: request.message,
            payload: request.payload,
            ..EchoResponse::default()
        };
        let Ok(mut send) =
            respond.send_response(response(200, &[GRPC, ("grpc-encoding", "gzip")]), false)
        else {
            return;
        };
        let _ = send.send_data(frame_bytes(true, &gzip(&reply.encode_to_vec())), false);
        let _ = send.send_trailers(headers(&[("grpc-status", "0")]));
    });
    let request = EchoRequest {
        message: "squeeze".into(),
        payload: vec![b'z'; 50_000],
        ..EchoRequest::default()
    };
    for compression in [
        grpc_core::Compression::Identity,
        grpc_core::Compression::Gzip,
    ] {
        let reply = server
            .stub()
            .unary_call()
            .with_options(CallOptions::new().compression(compression))
            .call(request.clone())
            .unwrap();
        assert_eq!(reply.message, "squeeze");
        assert_eq!(reply.payload.len(), 50_000);
    }

    // A response encoding we do not support.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let Ok(mut send) =
            respond.send_response(response(200, &[GRPC, ("grpc-encoding", "snappy")]), false)
        else {
            return;
        };
        let _ = send.send_data(frame_bytes(true, b"???"), false);
        let _ = send.send_trailers(headers(&[("grpc-status", "0")]));
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");
}

#[test]
fn broken_responses_are_errors() {
    // Data and end of stream, but no trailers.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let Ok(mut send) = respond.send_response(response(200, &[GRPC]), false) else {
            return;
        };
        let _ = send.send_data(frame(&EchoResponse::default()), true);
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");

    // Two messages for a unary call.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let Ok(mut send) = respond.send_response(response(200, &[GRPC]), false) else {
            return;
        };
        let _ = send.send_data(frame(&EchoResponse::default()), false);
        let _ = send.send_data(frame(&EchoResponse::default()), false);
        let _ = send.send_trailers(headers(&[("grpc-status", "0")]));
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");

    // A message cut short by the trailers.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let Ok(mut send) = respond.send_response(response(200, &[GRPC]), false) else {
            return;
        };
        let _ = send.send_data(frame(&echo("cut")).slice(..6), false);
        let _ = send.send_trailers(headers(&[("grpc-status", "0")]));
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");

    // A message that is not protobuf.
    let server = RawServer::start(|request, mut respond| async move {
        let _ = drain(request).await;
        let Ok(mut send) = respond.send_response(response(200, &[GRPC]), false) else {
            return;
        };
        let _ = send.send_data(frame_bytes(false, &[0xff, 0xff, 0xff]), false);
        let _ = send.send_trailers(headers(&[("grpc-status", "0")]));
    });
    let err = unary_error(&server);
    assert_eq!(err.code(), Code::Internal, "{err:?}");

    // A grpc-status that is not a number, and one out of range.
    for (status, code) in [("banana", Code::Unknown), ("99", Code::Unknown)] {
        let server = RawServer::start(move |request, mut respond| async move {
            let _ = drain(request).await;
            let _ = respond.send_response(response(200, &[GRPC, ("grpc-status", status)]), true);
        });
        let err = unary_error(&server);
        assert_eq!(err.code(), code, "{status}: {err:?}");
    }
}

#[test]
fn deadline_and_cancel_reset_the_stream_on_the_wire() {
    let (reset_tx, reset_rx) = mpsc::channel();
    let reset_tx = Arc::new(Mutex::new(reset_tx));
    // A server that never answers and reports how the client gave up.
    let server = RawServer::start(move |request, mut respond| {
        let reset_tx = Arc::clone(&reset_tx);
        async move {
            let (_, body) = request.into_parts();
            let _keep = body;
            let reason = std::future::poll_fn(|cx| respond.poll_reset(cx)).await;
            let _ = reset_tx.lock().unwrap().send((Instant::now(), reason.ok()));
        }
    });
    let stub = server.stub();
    let start = Instant::now();
    let err = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(ms(200)))
        .call(echo("never answered"))
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(start.elapsed() >= ms(200), "ended before its deadline");
    let (at, reason) = reset_rx
        .recv_timeout(PROMPT)
        .expect("the client reset the stream");
    assert_eq!(reason, Some(h2::Reason::CANCEL));
    assert!(at - start < ms(200) + PROMPT);

    let future = stub.unary_call().future(echo("cancelled"));
    std::thread::sleep(ms(50));
    assert!(future.cancel());
    let (_, reason) = reset_rx
        .recv_timeout(PROMPT)
        .expect("the client reset the stream");
    assert_eq!(reason, Some(h2::Reason::CANCEL));
    assert!(
        future
            .result(Some(PROMPT))
            .unwrap_err()
            .is_future_cancelled()
    );
}
