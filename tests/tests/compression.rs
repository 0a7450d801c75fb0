//! Compression on the wire, both ways, beyond `limits_lifecycle` and the
//! `wire_*` suites: deflate requests and responses, negotiation fallback,
//! per-message compression switches (server and client) as the compressed
//! flag of each message, the server's view of each request's flag, and the
//! client's receive limit applied after decompression.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use grpc_core::{CallOptions, Code, Compression, Server, WithOptions, Writes};
use h2::client::SendRequest;
use http::{HeaderMap, Request, Response};
use prost::Message;
use rustgrpc_examples::interop::pb::{
    BoolValue, Payload, ResponseParameters, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use rustgrpc_tests::raw::{self, frame_bytes, header, split_frames};
use rustgrpc_tests::{EchoRequest, EchoResponse, TestServer, TestServiceStub};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const INTEROP_OUTPUT: &str = "/grpc.testing.TestService/StreamingOutputCall";
const INTEROP_INPUT: &str = "/grpc.testing.TestService/StreamingInputCall";

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid zlib");
    out
}

/// A response as it came off the wire.
struct Reply {
    headers: HeaderMap,
    data: Vec<u8>,
    trailers: HeaderMap,
}

impl Reply {
    fn grpc_status(&self) -> &str {
        match header(&self.trailers, "grpc-status") {
            "" => header(&self.headers, "grpc-status"),
            status => status,
        }
    }
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

/// Sends one gRPC request with `headers` and the messages of `body`, and
/// reads the whole response.
fn exchange(port: u16, path: &str, headers: &[(&str, &str)], body: Vec<Bytes>) -> Reply {
    raw::runtime().block_on(async {
        let client = connect(port).await;
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
        let mut client = client.ready().await.unwrap();
        let (response, mut send) = client.send_request(request, false).unwrap();
        let mut data = Vec::new();
        for message in body {
            data.extend_from_slice(&message);
        }
        let _ = send.send_data(Bytes::from(data), true);
        let (parts, body) = response.await.unwrap().into_parts();
        let (data, trailers) = raw::read_body(body).await.unwrap();
        Reply {
            headers: parts.headers,
            data,
            trailers: trailers.unwrap_or_default(),
        }
    })
}

/// The messages of a body: `(compressed, payload)`.
type Messages = Vec<(bool, Vec<u8>)>;
/// A raw server's answer: extra response headers, then framed messages.
type Answer = (Vec<(&'static str, &'static str)>, Vec<Bytes>);
/// Makes the answer to a request's messages.
type Responder = fn(&[(bool, Vec<u8>)]) -> Answer;

/// A raw HTTP/2 server that records each request (headers and messages)
/// and answers with `reply(request messages)`: response headers, then the
/// returned frames, then grpc-status 0.
struct RecordingServer {
    /// Runs the server; its tasks end when it is dropped.
    _runtime: tokio::runtime::Runtime,
    port: u16,
    seen: Arc<Mutex<Vec<(HeaderMap, Messages)>>>,
}

impl RecordingServer {
    fn start(reply: Responder) -> RecordingServer {
        let runtime = raw::runtime();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(tcp).await else {
                        return;
                    };
                    while let Some(Ok((request, mut respond))) = connection.accept().await {
                        let record = Arc::clone(&record);
                        tokio::spawn(async move {
                            let (parts, body) = request.into_parts();
                            let (data, _) = raw::read_body(body).await.unwrap_or_default();
                            let messages = split_frames(&data);
                            let (headers, frames) = reply(&messages);
                            record.lock().unwrap().push((parts.headers, messages));
                            let mut response = Response::new(());
                            response
                                .headers_mut()
                                .insert("content-type", "application/grpc".parse().unwrap());
                            for (name, value) in headers {
                                response.headers_mut().insert(name, value.parse().unwrap());
                            }
                            let Ok(mut send) = respond.send_response(response, false) else {
                                return;
                            };
                            for frame in frames {
                                let _ = send.send_data(frame, false);
                            }
                            let mut trailers = HeaderMap::new();
                            trailers.insert("grpc-status", "0".parse().unwrap());
                            let _ = send.send_trailers(trailers);
                        });
                    }
                });
            }
        });
        RecordingServer {
            _runtime: runtime,
            port,
            seen,
        }
    }

    fn stub(&self) -> TestServiceStub {
        TestServiceStub::new(
            grpc_core::insecure_channel(&format!("127.0.0.1:{}", self.port)).unwrap(),
        )
    }

    /// The last request: its headers and `(compressed, payload)` messages.
    fn last(&self) -> (HeaderMap, Messages) {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

fn echo_response(message: &str, payload_len: usize) -> EchoResponse {
    EchoResponse {
        message: message.to_owned(),
        payload: vec![b'd'; payload_len],
        ..EchoResponse::default()
    }
}

#[test]
fn deflate_requests_and_responses_on_the_wire() {
    // A deflate request to our server, which answers in deflate.
    let server = TestServer::start();
    let request = EchoRequest {
        message: "deflated".into(),
        payload: vec![b'q'; 20_000],
        response_size: 30_000,
        response_compression: "deflate".into(),
        ..EchoRequest::default()
    };
    let compressed = deflate(&request.encode_to_vec());
    assert!(compressed.len() < 1_000);
    let reply = exchange(
        server.port(),
        UNARY,
        &[
            ("grpc-encoding", "deflate"),
            ("grpc-accept-encoding", "identity,deflate"),
        ],
        vec![frame_bytes(true, &compressed)],
    );
    assert_eq!(reply.grpc_status(), "0", "{:?}", reply.trailers);
    assert_eq!(header(&reply.headers, "grpc-encoding"), "deflate");
    let messages = split_frames(&reply.data);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0, "the response is flagged compressed");
    assert!(messages[0].1.len() < 2_000, "and it is");
    let response = EchoResponse::decode(inflate(&messages[0].1).as_slice()).unwrap();
    assert_eq!(response.message, "deflated");
    assert_eq!(response.payload.len(), 30_000);

    // Our client sending deflate, and reading a deflate response.
    let raw = RecordingServer::start(|_| {
        let reply = echo_response("from raw", 40_000);
        (
            vec![("grpc-encoding", "deflate")],
            vec![frame_bytes(true, &deflate(&reply.encode_to_vec()))],
        )
    });
    let reply = raw
        .stub()
        .unary_call()
        .with_options(CallOptions::new().compression(Compression::Deflate))
        .call(EchoRequest {
            payload: vec![b'z'; 40_000],
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(reply.message, "from raw");
    assert_eq!(reply.payload.len(), 40_000);
    let (headers, messages) = raw.last();
    assert_eq!(header(&headers, "grpc-encoding"), "deflate");
    let accepted = header(&headers, "grpc-accept-encoding");
    for name in ["identity", "deflate", "gzip"] {
        assert!(accepted.contains(name), "grpc-accept-encoding {accepted:?}");
    }
    assert_eq!(messages.len(), 1);
    assert!(messages[0].0, "the request is flagged compressed");
    let sent = EchoRequest::decode(inflate(&messages[0].1).as_slice()).unwrap();
    assert_eq!(sent.payload.len(), 40_000);
}

#[test]
fn response_compression_falls_back_to_what_the_client_accepts() {
    let server = TestServer::start_with(Server::builder().compression(Compression::Gzip));
    let wants_deflate = EchoRequest {
        message: "fallback".into(),
        response_size: 10_000,
        response_compression: "deflate".into(),
        ..EchoRequest::default()
    };
    let ask = |accept: &str, request: &EchoRequest| {
        exchange(
            server.port(),
            UNARY,
            &[("grpc-accept-encoding", accept)],
            vec![raw::frame(request)],
        )
    };
    let flags = |reply: &Reply| {
        split_frames(&reply.data)
            .iter()
            .map(|(flag, _)| *flag)
            .collect::<Vec<_>>()
    };

    // The handler asks for deflate; a client that only takes gzip gets
    // identity (the handler's choice is not swapped for another algorithm).
    let reply = ask("identity,gzip", &wants_deflate);
    assert_eq!(reply.grpc_status(), "0");
    assert_eq!(header(&reply.headers, "grpc-encoding"), "");
    assert_eq!(flags(&reply), [false]);

    // A client that takes deflate gets deflate.
    let reply = ask("gzip, deflate", &wants_deflate);
    assert_eq!(header(&reply.headers, "grpc-encoding"), "deflate");
    assert_eq!(flags(&reply), [true]);

    // The server's default (gzip) is used only where the client takes it.
    let plain = EchoRequest {
        response_size: 10_000,
        ..EchoRequest::default()
    };
    let reply = ask("identity,deflate", &plain);
    assert_eq!(header(&reply.headers, "grpc-encoding"), "");
    assert_eq!(flags(&reply), [false]);
    let reply = ask("identity,deflate,gzip", &plain);
    assert_eq!(header(&reply.headers, "grpc-encoding"), "gzip");
    assert_eq!(flags(&reply), [true]);

    // No grpc-accept-encoding at all: identity.
    let reply = exchange(server.port(), UNARY, &[], vec![raw::frame(&plain)]);
    assert_eq!(header(&reply.headers, "grpc-encoding"), "");
    assert_eq!(flags(&reply), [false]);
}

/// The interop server on a free port.
fn interop_server() -> (Server, u16) {
    let server = rustgrpc_examples::interop::server(Server::builder());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    (server, port)
}

#[test]
fn disable_next_message_compression_clears_the_flag_of_that_message() {
    // The interop servicer compresses the stream when a response asks for
    // it and calls disable_next_message_compression before the others.
    let (server, port) = interop_server();
    let wanted = [true, false, true, false, false];
    let request = StreamingOutputCallRequest {
        response_parameters: wanted
            .iter()
            .map(|&compressed| ResponseParameters {
                size: 5_000,
                interval_us: 0,
                compressed: Some(BoolValue { value: compressed }),
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    };
    let reply = exchange(
        port,
        INTEROP_OUTPUT,
        &[("grpc-accept-encoding", "identity,deflate,gzip")],
        vec![raw::frame(&request)],
    );
    assert_eq!(reply.grpc_status(), "0");
    assert_eq!(header(&reply.headers, "grpc-encoding"), "deflate");
    let messages = split_frames(&reply.data);
    let flags: Vec<bool> = messages.iter().map(|(flag, _)| *flag).collect();
    assert_eq!(flags, wanted);
    for (compressed, payload) in messages {
        let bytes = if compressed {
            inflate(&payload)
        } else {
            payload
        };
        let response = StreamingOutputCallResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(response.payload.unwrap().body.len(), 5_000);
    }
    server.stop(None).wait();
}

/// Request `index` of the per-message option tests: odd ones go out plain.
fn optioned_request(index: usize) -> WithOptions<EchoRequest> {
    let request = EchoRequest {
        message: format!("request {index}"),
        payload: vec![b'x'; 10_000],
        ..EchoRequest::default()
    };
    if index % 2 == 1 {
        WithOptions::uncompressed(request)
    } else {
        WithOptions::from(request)
    }
}

/// The last request had alternating compressed flags under gzip, and each
/// message decodes to the request it was.
fn assert_alternating_flags(raw: &RecordingServer) {
    let (headers, messages) = raw.last();
    assert_eq!(header(&headers, "grpc-encoding"), "gzip");
    let flags: Vec<bool> = messages.iter().map(|(flag, _)| *flag).collect();
    assert_eq!(flags, [true, false, true, false]);
    for (index, (compressed, payload)) in messages.into_iter().enumerate() {
        let bytes = if compressed {
            raw::gunzip(&payload)
        } else {
            payload
        };
        let request = EchoRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(request.message, format!("request {index}"));
    }
}

fn gzip_options() -> CallOptions {
    CallOptions::new().compression(Compression::Gzip)
}

#[test]
fn write_options_clear_the_flag_of_that_request_on_the_async_face() {
    let raw = RecordingServer::start(|_| (vec![], vec![raw::frame(&echo_response("ok", 0))]));
    let upload = raw
        .stub()
        .streaming_input_call()
        .with_options(gzip_options());
    let runtime = raw::runtime();

    // A request stream of messages with options.
    let requests = Writes(tokio_stream::iter((0..4).map(optioned_request)));
    let reply = runtime.block_on(upload.call_async(requests)).unwrap();
    assert_eq!(reply.message, "ok");
    assert_alternating_flags(&raw);

    // Awaited writes, each with its own options.
    let reply = runtime
        .block_on(async {
            let call = upload.start_async();
            for index in 0..4 {
                call.write(optioned_request(index)).await?;
            }
            call.done_writing();
            call.await
        })
        .unwrap();
    assert_eq!(reply.message, "ok");
    assert_alternating_flags(&raw);
}

#[test]
fn write_options_clear_the_flag_of_that_request() {
    let raw = RecordingServer::start(|_| (vec![], vec![raw::frame(&echo_response("ok", 0))]));
    let reply = raw
        .stub()
        .streaming_input_call()
        .with_options(gzip_options())
        .call(Writes((0..4).map(optioned_request)))
        .unwrap();
    assert_eq!(reply.message, "ok");
    assert_alternating_flags(&raw);

    // A unary call on the same channel keeps the call's compression.
    let reply = raw
        .stub()
        .unary_call()
        .with_options(CallOptions::new().compression(Compression::Gzip))
        .call(EchoRequest {
            payload: vec![b'y'; 10_000],
            ..EchoRequest::default()
        })
        .unwrap();
    assert_eq!(reply.message, "ok");
    let (_, messages) = raw.last();
    assert!(messages[0].0);
}

#[test]
fn the_server_sees_the_flag_of_each_request_message() {
    // grpc.testing's StreamingInputCall checks each message's
    // expect_compressed against ServicerContext::last_request_compressed.
    let (server, port) = interop_server();
    let message = |expect: bool| {
        let request = StreamingInputCallRequest {
            payload: Some(Payload {
                r#type: 0,
                body: vec![0; 3_000],
            }),
            expect_compressed: Some(BoolValue { value: expect }),
        };
        let bytes = request.encode_to_vec();
        if expect {
            frame_bytes(true, &raw::gzip(&bytes))
        } else {
            frame_bytes(false, &bytes)
        }
    };
    let gzip = [("grpc-encoding", "gzip")];

    // Compressed, plain, compressed: each as announced.
    let reply = exchange(
        port,
        INTEROP_INPUT,
        &gzip,
        vec![message(true), message(false), message(true)],
    );
    assert_eq!(reply.grpc_status(), "0", "{:?}", reply.trailers);
    let (_, payload) = split_frames(&reply.data).remove(0);
    let response = StreamingInputCallResponse::decode(payload.as_slice()).unwrap();
    assert_eq!(response.aggregated_payload_size, 9_000);

    // A plain message that claims to be compressed, under grpc-encoding gzip.
    let liar = {
        let request = StreamingInputCallRequest {
            payload: None,
            expect_compressed: Some(BoolValue { value: true }),
        };
        frame_bytes(false, &request.encode_to_vec())
    };
    let reply = exchange(port, INTEROP_INPUT, &gzip, vec![message(true), liar]);
    assert_eq!(
        reply.grpc_status(),
        Code::InvalidArgument.value().to_string()
    );
    server.stop(None).wait();
}

#[test]
fn the_client_receive_limit_applies_after_decompression() {
    // 8 MiB of zeros gzip to a few KiB: over the 4 MiB default once inflated.
    let raw = RecordingServer::start(|_| {
        let bomb = echo_response("bomb", 8 << 20);
        (
            vec![("grpc-encoding", "gzip")],
            vec![frame_bytes(true, &raw::gzip(&bomb.encode_to_vec()))],
        )
    });
    let err = raw
        .stub()
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(10)))
        .call(EchoRequest::default())
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.details().contains("larger than max"), "{err:?}");
}
