//! gRPC-Web (binary and text) on the same port as gRPC, over HTTP/1.1 and
//! HTTP/2, and `ServicerContext::protocol` for all three protocols.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use grpc_core::{Code, Protocol, Server, ServiceBuilder, Status};
use http::{HeaderMap, Request, StatusCode};
use prost::Message as _;
use rustgrpc_tests::raw::runtime;
use rustgrpc_tests::web::{self, Client, VERSIONS, Version, envelope, envelopes, full};
use rustgrpc_tests::{EchoRequest, EchoResponse, TestServer, echo, entry};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const SERVER_STREAM: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";
const CLIENT_STREAM: &str = "/rustgrpc.testing.TestService/StreamingInputCall";

fn web_request(path: &str, content_type: &str, body: Vec<u8>) -> Request<web::Body> {
    Request::post(path)
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .body(full(body))
        .unwrap()
}

/// The trailers of a gRPC-Web trailers envelope.
fn parse_trailers(block: &[u8]) -> HeaderMap {
    let text = std::str::from_utf8(block).unwrap();
    let mut headers = HeaderMap::new();
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    headers
}

/// Messages and trailers of a binary gRPC-Web body.
fn split(body: &[u8]) -> (Vec<EchoResponse>, HeaderMap) {
    let mut messages = Vec::new();
    let mut trailers = None;
    for (flags, payload) in envelopes(body) {
        if flags & 0x80 != 0 {
            assert!(trailers.is_none(), "two trailers envelopes");
            trailers = Some(parse_trailers(&payload));
        } else {
            assert!(trailers.is_none(), "message after the trailers");
            messages.push(EchoResponse::decode(&payload[..]).unwrap());
        }
    }
    (messages, trailers.expect("no trailers envelope"))
}

#[test]
fn unary_binary_over_http1_and_http2() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            for content_type in ["application/grpc-web", "application/grpc-web+proto"] {
                let mut client = Client::connect(server.port(), version).await;
                let request = EchoRequest {
                    initial_metadata: vec![entry("x-initial", "i")],
                    trailing_metadata: vec![entry("x-trailing", "t")],
                    ..echo("web")
                };
                let body = envelope(0, &request.encode_to_vec());
                let (head, body) = client.call(web_request(UNARY, content_type, body)).await;
                assert_eq!(head.status, StatusCode::OK);
                assert_eq!(head.headers["content-type"], content_type);
                assert_eq!(head.headers["x-initial"], "i");
                let (messages, trailers) = split(&body);
                assert_eq!(messages.len(), 1, "{version:?}");
                assert_eq!(messages[0].message, "web");
                assert_eq!(trailers["grpc-status"], "0");
                assert_eq!(trailers["x-trailing"], "t");
            }
        }
    });
}

#[test]
fn text_format_is_base64_both_ways() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let request = EchoRequest {
                response_count: 2,
                ..echo("text")
            };
            let body = STANDARD.encode(envelope(0, &request.encode_to_vec()));
            let (head, body) = client
                .call(web_request(
                    SERVER_STREAM,
                    "application/grpc-web-text",
                    body.into_bytes(),
                ))
                .await;
            assert_eq!(head.status, StatusCode::OK);
            assert_eq!(head.headers["content-type"], "application/grpc-web-text");
            // The body is base64 chunks, each padded: decode group by group.
            let text = String::from_utf8(body.to_vec()).unwrap();
            let mut decoded = Vec::new();
            let mut run = String::new();
            for group in text.as_bytes().chunks(4) {
                run.push_str(std::str::from_utf8(group).unwrap());
                if group.contains(&b'=') {
                    decoded.extend(STANDARD.decode(&run).unwrap());
                    run.clear();
                }
            }
            decoded.extend(STANDARD.decode(&run).unwrap());
            let (messages, trailers) = split(&decoded);
            assert_eq!(messages.len(), 2, "{version:?}");
            assert_eq!(trailers["grpc-status"], "0");
        }
    });
}

#[test]
fn errors_go_in_the_trailers_envelope() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let request = EchoRequest {
                fail_code: Code::PermissionDenied.value(),
                fail_message: "not you".into(),
                ..echo("x")
            };
            let body = envelope(0, &request.encode_to_vec());
            let (head, body) = client
                .call(web_request(UNARY, "application/grpc-web", body))
                .await;
            assert_eq!(head.status, StatusCode::OK);
            let (messages, trailers) = split(&body);
            assert!(messages.is_empty());
            assert_eq!(trailers["grpc-status"], "7");
            assert_eq!(trailers["grpc-message"], "not you");
        }
    });
}

#[test]
fn client_streaming_and_malformed_bodies() {
    let server = TestServer::start();
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let mut body = Vec::new();
            for name in ["x", "y"] {
                body.extend(envelope(0, &echo(name).encode_to_vec()));
            }
            let (_, body) = client
                .call(web_request(
                    CLIENT_STREAM,
                    "application/grpc-web+proto",
                    body,
                ))
                .await;
            let (messages, trailers) = split(&body);
            assert_eq!(messages[0].message, "x,y");
            assert_eq!(trailers["grpc-status"], "0");

            for (content_type, body, code) in [
                (
                    "application/grpc-web",
                    vec![0, 0xff, 0xff, 0xff, 0xff],
                    Code::ResourceExhausted,
                ),
                (
                    "application/grpc-web",
                    vec![0, 0, 0, 0, 9, 1],
                    Code::InvalidArgument,
                ),
                (
                    "application/grpc-web-text",
                    b"!!!!".to_vec(),
                    Code::InvalidArgument,
                ),
                (
                    "application/grpc-web-text",
                    b"AAA".to_vec(),
                    Code::InvalidArgument,
                ),
            ] {
                let (head, body) = client.call(web_request(UNARY, content_type, body)).await;
                assert_eq!(head.status, StatusCode::OK);
                let body = if content_type.ends_with("text") {
                    Bytes::from(STANDARD.decode(&body).unwrap())
                } else {
                    body
                };
                let (_, trailers) = split(&body);
                assert_eq!(
                    trailers["grpc-status"],
                    code.value().to_string().as_str(),
                    "{content_type} {version:?}"
                );
            }
        }
    });
}

fn protocol_service() -> grpc_core::Service {
    let mut service = ServiceBuilder::new("test.Which");
    service
        .unary_unary("Blocking", |_: String, ctx| {
            Ok::<_, Status>(ctx.protocol().to_string())
        })
        .unary_unary_async(
            "Async",
            |_: String, ctx: grpc_core::ServicerContext| async move {
                Ok::<_, Status>(ctx.protocol().name().to_owned())
            },
        );
    service.build()
}

#[test]
fn servicer_context_reports_the_protocol() {
    let server = Server::builder().build();
    server.add_service(protocol_service());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let grpc: String = channel
        .unary_unary::<String, String>("/test.Which/Blocking")
        .call("x".to_owned())
        .unwrap();
    assert_eq!(grpc, Protocol::Grpc.name());
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(port, version).await;
            for method in ["Blocking", "Async"] {
                let path = format!("/test.Which/{method}");
                let request = Request::post(path.as_str())
                    .header("content-type", "application/proto")
                    .body(full("x".to_owned().encode_to_vec()))
                    .unwrap();
                let (_, body) = client.call(request).await;
                assert_eq!(String::decode(body).unwrap(), "connect");
                let body = envelope(0, &"x".to_owned().encode_to_vec());
                let (_, body) = client
                    .call(web_request(&path, "application/grpc-web", body))
                    .await;
                let (flags, payload) = envelopes(&body).remove(0);
                assert_eq!(flags, 0);
                assert_eq!(
                    String::decode(&payload[..]).unwrap(),
                    "grpc-web",
                    "{version:?}"
                );
            }
        }
    });
    let _ = Version::Http1;
    server.stop(None).wait();
}
