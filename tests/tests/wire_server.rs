//! Our server on the wire, seen by a raw HTTP/2 client (the `h2` crate):
//! response shapes, framing, encodings, headers and odd requests.

use std::time::Duration;

use bytes::Bytes;
use grpc_core::{Compression, Server};
use h2::client::SendRequest;
use http::{HeaderMap, Request, StatusCode};
use prost::Message;
use rustgrpc_tests::raw::{self, frame, frame_bytes, gunzip, gzip, header, split_frames};
use rustgrpc_tests::{EchoRequest, EchoResponse, EventKind, TAG_KEY, TestServer, echo};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const CLIENT_STREAMING: &str = "/rustgrpc.testing.TestService/StreamingInputCall";
const BIDI: &str = "/rustgrpc.testing.TestService/FullDuplexCall";
const PROMPT: Duration = Duration::from_secs(1);

/// A response as it came off the wire.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    /// The response was a single HEADERS frame with END_STREAM.
    trailers_only: bool,
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
}

impl Reply {
    /// Where the status lives: the trailers, or the headers of a
    /// Trailers-Only response.
    fn status_headers(&self) -> &HeaderMap {
        if self.trailers_only {
            &self.headers
        } else {
            self.trailers.as_ref().expect("trailers")
        }
    }

    fn grpc_status(&self) -> &str {
        header(self.status_headers(), "grpc-status")
    }

    fn grpc_message(&self) -> &str {
        header(self.status_headers(), "grpc-message")
    }

    fn messages(&self) -> Vec<(bool, Vec<u8>)> {
        split_frames(&self.data)
    }

    fn responses(&self) -> Vec<EchoResponse> {
        self.messages()
            .into_iter()
            .map(|(compressed, payload)| {
                assert!(!compressed);
                EchoResponse::decode(payload.as_slice()).unwrap()
            })
            .collect()
    }
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    raw::runtime().block_on(future)
}

async fn connect(port: u16) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A gRPC request to `path`; `headers` are added, replacing defaults.
fn request(port: u16, path: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut request = Request::post(format!("http://127.0.0.1:{port}{path}"))
        .body(())
        .unwrap();
    let map = request.headers_mut();
    map.insert("content-type", "application/grpc".parse().unwrap());
    map.insert("te", "trailers".parse().unwrap());
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        map.insert(name, value.parse().unwrap());
    }
    request
}

/// Sends `request` with `chunks` as separate DATA frames (the last one
/// ending the stream) and reads the whole response.
async fn exchange(client: &SendRequest<Bytes>, request: Request<()>, chunks: Vec<Bytes>) -> Reply {
    let mut client = client.clone().ready().await.unwrap();
    let (response, mut send) = client.send_request(request, chunks.is_empty()).unwrap();
    let count = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        // The server may answer (and close) before reading everything.
        let _ = send.send_data(chunk, i + 1 == count);
    }
    let response = response.await.unwrap();
    let (parts, body) = response.into_parts();
    let trailers_only = body.is_end_stream();
    let (data, trailers) = raw::read_body(body).await.unwrap();
    drop(send);
    Reply {
        status: parts.status,
        headers: parts.headers,
        trailers_only,
        data,
        trailers,
    }
}

#[test]
fn unimplemented_is_a_trailers_only_response() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        for path in [
            "/rustgrpc.testing.UnimplementedService/UnimplementedCall",
            "/rustgrpc.testing.TestService/UnimplementedCall",
            "/rustgrpc.testing.TestService/NoSuchMethod",
            "/not-a-grpc-path",
        ] {
            let reply = exchange(&client, request(port, path, &[]), vec![frame(&echo("x"))]).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            assert!(reply.trailers_only, "{path}: not Trailers-Only: {reply:?}");
            assert!(header(&reply.headers, "content-type").starts_with("application/grpc"));
            assert_eq!(reply.grpc_status(), "12", "{path}");
            assert!(reply.data.is_empty());
            assert!(reply.trailers.is_none());
        }
        // A handler that fails before sending anything answers Trailers-Only too.
        let failing = EchoRequest {
            fail_code: 5,
            fail_message: "nope".into(),
            ..EchoRequest::default()
        };
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&failing)]).await;
        assert!(reply.trailers_only, "{reply:?}");
        assert_eq!(reply.grpc_status(), "5");
        assert_eq!(reply.grpc_message(), "nope");
    });
}

#[test]
fn a_normal_response_is_headers_data_trailers() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let reply = exchange(
            &client,
            request(
                port,
                UNARY,
                &[
                    ("x-raw", "text"),
                    ("x-padded-bin", "AAEC/w=="),
                    ("grpc-timeout", "2S"),
                ],
            ),
            vec![frame(&echo("hi"))],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.trailers_only);
        assert!(header(&reply.headers, "content-type").starts_with("application/grpc"));
        assert!(reply.headers.get("grpc-status").is_none());
        let responses = reply.responses();
        assert_eq!(responses.len(), 1);
        let response = &responses[0];
        assert_eq!(response.message, "hi");
        assert!(response.has_deadline);
        assert!((1_000..=2_000).contains(&response.time_remaining_ms));
        let seen = |key: &str| {
            response
                .invocation_metadata
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.clone())
        };
        assert_eq!(seen("x-raw"), Some(b"text".to_vec()));
        assert_eq!(seen("x-padded-bin"), Some(vec![0, 1, 2, 255]));
        assert_eq!(seen("te"), None);
        assert_eq!(seen("grpc-timeout"), None);
        let trailers = reply.trailers.as_ref().unwrap();
        assert_eq!(header(trailers, "grpc-status"), "0");
        assert!(
            trailers.get("grpc-message").is_none(),
            "empty details are not sent"
        );

        // application/grpc+proto is gRPC too.
        let reply = exchange(
            &client,
            request(port, UNARY, &[("content-type", "application/grpc+proto")]),
            vec![frame(&echo("proto"))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0");
        assert_eq!(reply.responses()[0].message, "proto");
    });
}

#[test]
fn non_grpc_requests_get_plain_http_errors() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        for content_type in ["application/json", "text/plain", "application/grpcx"] {
            let reply = exchange(
                &client,
                request(port, UNARY, &[("content-type", content_type)]),
                vec![frame(&echo("x"))],
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type}"
            );
        }
        let mut no_type = request(port, UNARY, &[]);
        no_type.headers_mut().remove("content-type");
        let reply = exchange(&client, no_type, vec![frame(&echo("x"))]).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let mut get = request(port, UNARY, &[]);
        *get.method_mut() = http::Method::GET;
        let reply = exchange(&client, get, vec![]).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);

        // The connection still serves gRPC.
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&echo("ok"))]).await;
        assert_eq!(reply.grpc_status(), "0");
    });
}

#[test]
fn grpc_message_is_percent_encoded_on_the_wire() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let failing = EchoRequest {
            fail_code: 3,
            fail_message: "¡Hola! 日本語 100% \u{1F600}\r\n".into(),
            ..EchoRequest::default()
        };
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&failing)]).await;
        assert_eq!(reply.grpc_status(), "3");
        assert_eq!(
            reply.grpc_message(),
            "%C2%A1Hola! %E6%97%A5%E6%9C%AC%E8%AA%9E 100%25 %F0%9F%98%80%0D%0A"
        );
        // And after messages, in real trailers.
        let failing = EchoRequest {
            response_count: 1,
            ..failing
        };
        let reply = exchange(
            &client,
            request(
                port,
                "/rustgrpc.testing.TestService/StreamingOutputCall",
                &[],
            ),
            vec![frame(&failing)],
        )
        .await;
        assert!(!reply.trailers_only);
        assert_eq!(reply.messages().len(), 1);
        assert!(reply.grpc_message().starts_with("%C2%A1Hola!"));
    });
}

#[test]
fn messages_split_across_many_data_frames() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let big = echo(&"split me ".repeat(40));
        let wire = frame(&big);
        // One message in DATA frames of 1..=7 bytes.
        let mut chunks = Vec::new();
        let mut rest = wire.clone();
        let mut size = 1;
        while !rest.is_empty() {
            chunks.push(rest.split_to(size.min(rest.len())));
            size = size % 7 + 1;
        }
        assert!(chunks.len() > 50);
        let reply = exchange(&client, request(port, UNARY, &[]), chunks).await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        assert_eq!(reply.responses()[0].message, big.message);

        // Three messages whose boundaries fall inside frames.
        let mut all = Vec::new();
        for word in ["one", "two", "three"] {
            all.extend_from_slice(&frame(&echo(word)));
        }
        let all = Bytes::from(all);
        let chunks = vec![
            all.slice(..3),
            all.slice(3..9),
            all.slice(9..15),
            all.slice(15..),
        ];
        let reply = exchange(&client, request(port, CLIENT_STREAMING, &[]), chunks).await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        let summary = &reply.responses()[0];
        assert_eq!(summary.request_count, 3);
        assert_eq!(summary.message, "one,two,three");

        // Half-close with an empty DATA frame after the messages.
        let chunks = vec![frame(&echo("a")), frame(&echo("b")), Bytes::new()];
        let reply = exchange(&client, request(port, CLIENT_STREAMING, &[]), chunks).await;
        assert_eq!(reply.responses()[0].message, "a,b");
    });
}

#[test]
fn many_messages_in_one_data_frame() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let mut all = Vec::new();
        for i in 0..5 {
            all.extend_from_slice(&frame(&echo(&i.to_string())));
        }
        // An empty message counts too.
        all.extend_from_slice(&frame_bytes(false, &[]));
        let reply = exchange(
            &client,
            request(port, CLIENT_STREAMING, &[]),
            vec![Bytes::from(all.clone())],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        let summary = &reply.responses()[0];
        assert_eq!(summary.request_count, 6);
        assert_eq!(summary.message, "0,1,2,3,4,");

        let reply = exchange(&client, request(port, BIDI, &[]), vec![Bytes::from(all)]).await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        let messages: Vec<_> = reply.responses().into_iter().map(|r| r.message).collect();
        assert_eq!(messages, ["0", "1", "2", "3", "4", ""]);
    });
}

#[test]
fn bad_request_bodies_end_with_a_status() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        // The stream ends inside a message.
        let wire = frame(&echo("truncated message"));
        let reply = exchange(&client, request(port, UNARY, &[]), vec![wire.slice(..10)]).await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");
        // Two messages for a unary method.
        let reply = exchange(
            &client,
            request(port, UNARY, &[]),
            vec![frame(&echo("a")), frame(&echo("b"))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");
        // No message at all.
        let reply = exchange(&client, request(port, UNARY, &[]), vec![]).await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");
        // Not a protobuf message.
        let reply = exchange(
            &client,
            request(port, UNARY, &[]),
            vec![frame_bytes(false, &[0xff, 0xff, 0xff])],
        )
        .await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");
        // A compressed flag without grpc-encoding.
        let reply = exchange(
            &client,
            request(port, UNARY, &[]),
            vec![frame_bytes(true, &gzip(&echo("x").encode_to_vec()))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");
        // An invalid compressed-flag byte.
        let mut bad_flag = frame(&echo("x")).to_vec();
        bad_flag[0] = 7;
        let reply = exchange(
            &client,
            request(port, UNARY, &[]),
            vec![Bytes::from(bad_flag)],
        )
        .await;
        assert_eq!(reply.grpc_status(), "13", "{reply:?}");

        // The connection still serves.
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&echo("ok"))]).await;
        assert_eq!(reply.grpc_status(), "0");
    });
}

#[test]
fn unsupported_grpc_encoding_is_unimplemented_with_accept_encoding() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let reply = exchange(
            &client,
            request(port, UNARY, &[("grpc-encoding", "snappy")]),
            vec![frame_bytes(true, b"whatever")],
        )
        .await;
        assert_eq!(reply.grpc_status(), "12", "{reply:?}");
        let accepted = header(reply.status_headers(), "grpc-accept-encoding");
        assert!(
            accepted.contains("gzip"),
            "grpc-accept-encoding: {accepted:?}"
        );
        assert!(
            accepted.contains("identity"),
            "grpc-accept-encoding: {accepted:?}"
        );
    });
}

#[test]
fn compression_on_the_wire() {
    let server = TestServer::start_with(Server::builder().compression(Compression::Gzip));
    let port = server.port();
    run(async {
        let client = connect(port).await;
        let req = EchoRequest {
            message: "zip".into(),
            payload: vec![b'p'; 5_000],
            response_size: 10_000,
            ..EchoRequest::default()
        };
        let compressed = gzip(&req.encode_to_vec());
        assert!(compressed.len() < 1_000);
        let headers = [
            ("grpc-encoding", "gzip"),
            ("grpc-accept-encoding", "identity, gzip"),
        ];
        let reply = exchange(
            &client,
            request(port, UNARY, &headers),
            vec![frame_bytes(true, &compressed)],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        assert_eq!(header(&reply.headers, "grpc-encoding"), "gzip");
        let messages = reply.messages();
        assert_eq!(messages.len(), 1);
        let (flag, payload) = &messages[0];
        assert!(*flag, "the response is compressed");
        assert!(payload.len() < 2_000);
        let response = EchoResponse::decode(gunzip(payload).as_slice()).unwrap();
        assert_eq!(response.message, "zip");
        assert_eq!(response.payload.len(), 10_000);

        // A client that only accepts identity gets identity.
        let reply = exchange(
            &client,
            request(port, UNARY, &[("grpc-accept-encoding", "identity")]),
            vec![frame(&req)],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0");
        assert_ne!(header(&reply.headers, "grpc-encoding"), "gzip");
        assert!(!reply.messages()[0].0);
        // An uncompressed message is fine under grpc-encoding: gzip.
        let reply = exchange(
            &client,
            request(port, UNARY, &[("grpc-encoding", "gzip")]),
            vec![frame(&echo("plain"))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
    });
}

#[test]
fn malformed_grpc_timeouts_do_not_break_the_server() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        for timeout in ["abc", "1x", "123456789S", "-1S", "1.5S", "S", " 1S", "1"] {
            let reply = exchange(
                &client,
                request(port, UNARY, &[("grpc-timeout", timeout)]),
                vec![frame(&echo("x"))],
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{timeout:?}");
            assert!(
                !reply.grpc_status().is_empty() && reply.grpc_status() != "0",
                "{timeout:?}: {reply:?}"
            );
        }
        // Extreme but valid timeouts.
        for timeout in ["99999999H", "99999999S", "0n", "1n"] {
            let reply = exchange(
                &client,
                request(port, UNARY, &[("grpc-timeout", timeout)]),
                vec![frame(&echo("x"))],
            )
            .await;
            assert!(!reply.grpc_status().is_empty(), "{timeout:?}: {reply:?}");
        }
        let reply = exchange(
            &client,
            request(port, UNARY, &[("grpc-timeout", "99999999H")]),
            vec![frame(&echo("far"))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&echo("ok"))]).await;
        assert_eq!(reply.grpc_status(), "0");
    });
}

#[test]
fn client_reset_cancels_the_handler() {
    let server = TestServer::start();
    let port = server.port();
    let events = server.events().clone();
    run(async {
        let client = connect(port).await;
        let mut client = client.ready().await.unwrap();
        let (response, mut send) = client
            .send_request(request(port, UNARY, &[("test-tag", "raw-reset")]), false)
            .unwrap();
        let sleepy = EchoRequest {
            sleep_ms: 30_000,
            ..EchoRequest::default()
        };
        send.send_data(frame(&sleepy), true).unwrap();
        let started = tokio::task::spawn_blocking({
            let events = events.clone();
            move || events.wait_for("raw-reset", EventKind::Started, Duration::from_secs(5))
        });
        assert!(started.await.unwrap().is_some());
        send.send_reset(h2::Reason::CANCEL);
        let err = response.await.unwrap_err();
        assert_eq!(err.reason(), Some(h2::Reason::CANCEL));
    });
    events.expect("raw-reset", EventKind::SawInactive, PROMPT);
}

#[test]
fn an_expired_deadline_is_deadline_exceeded_before_the_handler_runs() {
    let server = TestServer::start();
    let port = server.port();
    run(async {
        let client = connect(port).await;
        for timeout in ["0n", "0S", "0H"] {
            let reply = exchange(
                &client,
                request(
                    port,
                    UNARY,
                    &[("grpc-timeout", timeout), (TAG_KEY, timeout)],
                ),
                vec![frame(&echo(timeout))],
            )
            .await;
            assert_eq!(reply.grpc_status(), "4", "{timeout}: {reply:?}");
            assert!(reply.trailers_only, "answered before any response");
        }
        // The same request with time left reaches the handler.
        let reply = exchange(
            &client,
            request(port, UNARY, &[("grpc-timeout", "10S"), (TAG_KEY, "10S")]),
            vec![frame(&echo("10S"))],
        )
        .await;
        assert_eq!(reply.grpc_status(), "0", "{reply:?}");
    });
    assert_eq!(server.events().count("10S", EventKind::Started), 1);
    for timeout in ["0n", "0S", "0H"] {
        assert_eq!(
            server.events().count(timeout, EventKind::Started),
            0,
            "the handler never ran for {timeout}"
        );
    }
}

#[test]
fn the_server_caps_concurrent_streams_per_connection() {
    let default = TestServer::start();
    let capped = TestServer::start_with(Server::builder().max_concurrent_streams(3));
    run(async {
        for (server, expected) in [(&default, 200), (&capped, 3)] {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
                .await
                .unwrap();
            let (client, connection) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            // The server's SETTINGS arrive with the first exchange.
            let reply = exchange(
                &client,
                request(server.port(), UNARY, &[]),
                vec![frame(&echo("settings"))],
            )
            .await;
            assert_eq!(reply.grpc_status(), "0");
            assert_eq!(client.current_max_send_streams(), expected);
        }
    });
}

#[test]
fn a_connection_that_never_completes_the_preface_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server =
        TestServer::start_with(Server::builder().handshake_timeout(Duration::from_millis(300)));
    let port = server.port();
    run(async {
        let mut half = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        // The server closes the socket: the read ends (EOF or reset)
        // instead of waiting forever.
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match half.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a half-sent preface held the connection");
        // Others are served all along.
        let client = connect(port).await;
        let reply = exchange(&client, request(port, UNARY, &[]), vec![frame(&echo("ok"))]).await;
        assert_eq!(reply.grpc_status(), "0");
    });
}
