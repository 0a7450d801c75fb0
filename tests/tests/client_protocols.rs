//! Our client speaking gRPC-Web and Connect (protobuf and JSON, POST and
//! GET) over HTTP/1.1 and HTTP/2 to our own server, through the generated
//! stub and both faces: the four patterns (bidi only on HTTP/2), metadata
//! both ways, errors with rich details, deadlines and gzip. The servicer
//! reports the protocol the call arrived in, so each case proves which
//! wire it used.

use grpc_core::{ChannelBuilder, ClientProtocol, Code, HttpVersion};
use prost::Message as _;
use rustgrpc_tests::client_cases::run_cases;
use rustgrpc_tests::pb::TestServiceStub;
use rustgrpc_tests::{EchoRequest, TESTING_DESCRIPTOR_SET, TestServer, echo};

/// The testing descriptors, `UnaryCall` marked `NO_SIDE_EFFECTS` when
/// `idempotent`.
fn descriptors(idempotent: bool) -> Vec<u8> {
    let mut set = prost_types::FileDescriptorSet::decode(TESTING_DESCRIPTOR_SET).unwrap();
    for method in set
        .file
        .iter_mut()
        .flat_map(|file| file.service.iter_mut())
        .flat_map(|service| service.method.iter_mut())
        .filter(|method| method.name() == "UnaryCall")
    {
        if idempotent {
            method
                .options
                .get_or_insert_with(Default::default)
                .idempotency_level = Some(1);
        }
    }
    set.encode_to_vec()
}

/// A server that knows the descriptors (for JSON and GET).
fn server(get_allowed: bool) -> TestServer {
    let server = TestServer::start();
    server
        .server()
        .add_file_descriptor_set(&descriptors(get_allowed))
        .unwrap();
    server
}

fn stub(server: &TestServer, protocol: ClientProtocol) -> TestServiceStub {
    let channel = ChannelBuilder::new(server.target())
        .protocol(protocol.add_file_descriptor_set(descriptors(true)))
        .build()
        .unwrap();
    TestServiceStub::new(channel)
}

fn request(message: &str) -> EchoRequest {
    echo(message)
}

fn matrix_row(protocol: ClientProtocol, expected: &str) -> usize {
    let server = server(false);
    let http = protocol.http();
    let stub = stub(&server, protocol);
    run_cases(&stub, expected, http)
}

#[test]
fn grpc_web_over_http1_and_http2() {
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let protocol = ClientProtocol::grpc_web().http_version(http);
        assert_eq!(matrix_row(protocol, "grpc-web"), 10, "{http:?}");
    }
}

#[test]
fn grpc_web_text_over_http1_and_http2() {
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let protocol = ClientProtocol::grpc_web_text().http_version(http);
        assert!(protocol.is_text());
        assert_eq!(matrix_row(protocol, "grpc-web"), 10, "{http:?}");
    }
}

/// grpc-web-text on the wire, checked byte by byte against a hand-made
/// HTTP/1.1 peer: the request is `application/grpc-web-text` with a base64
/// body holding the gRPC frame; the base64 response (a message run and a
/// trailers run, each padded on its own) decodes to the reply and status.
#[test]
fn grpc_web_text_wire_format() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use rustgrpc_tests::EchoResponse;
    use rustgrpc_tests::raw::frame;
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        // The head, then a body of Content-Length bytes.
        let (head, body) = loop {
            let read = tcp.read(&mut chunk).unwrap();
            assert!(read > 0, "the client closed before sending its request");
            request.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&request).into_owned();
            let Some(end) = text.find("\r\n\r\n") else {
                continue;
            };
            let head = text[..end].to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse().unwrap())
                .expect("a Content-Length");
            if request.len() >= end + 4 + length {
                break (head, request[end + 4..end + 4 + length].to_vec());
            }
        };
        let reply = frame(&EchoResponse {
            message: "from the peer".into(),
            ..Default::default()
        });
        let trailers = b"grpc-status:0\r\n";
        let mut trailer_frame = vec![0x80];
        trailer_frame.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        trailer_frame.extend_from_slice(trailers);
        let body_out = format!(
            "{}{}",
            STANDARD.encode(&reply),
            STANDARD.encode(&trailer_frame)
        );
        write!(
            tcp,
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web-text\r\n\
             content-length: {}\r\n\r\n{body_out}",
            body_out.len()
        )
        .unwrap();
        (head, body)
    });
    let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .protocol(ClientProtocol::grpc_web_text().http_version(HttpVersion::Http1))
        .build()
        .unwrap();
    let reply = TestServiceStub::new(channel)
        .unary_call()
        .call(request("to the peer"))
        .expect("the text response decodes");
    assert_eq!(reply.message, "from the peer");
    let (head, body) = peer.join().unwrap();
    assert!(
        head.contains("content-type: application/grpc-web-text"),
        "{head}"
    );
    let decoded = STANDARD.decode(&body).expect("a base64 request body");
    assert_eq!(decoded, frame(&request("to the peer")).to_vec());
}

#[test]
fn connect_proto_over_http1_and_http2() {
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let protocol = ClientProtocol::connect().http_version(http);
        assert_eq!(matrix_row(protocol, "connect"), 10, "{http:?}");
    }
}

#[test]
fn connect_json_over_http1_and_http2() {
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let protocol = ClientProtocol::connect_json().http_version(http);
        assert_eq!(matrix_row(protocol, "connect"), 10, "{http:?}");
    }
}

#[test]
fn grpc_default_still_works_through_the_same_cases() {
    let server = server(false);
    let stub = stub(&server, ClientProtocol::grpc());
    assert_eq!(run_cases(&stub, "grpc", HttpVersion::Http2), 10);
}

/// GET goes out only for `NO_SIDE_EFFECTS` methods: a server that does
/// not mark the method refuses the GET, one that does answers it.
#[test]
fn connect_get_for_idempotent_unary_methods() {
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        for json in [false, true] {
            let protocol = match json {
                true => ClientProtocol::connect_json(),
                false => ClientProtocol::connect(),
            }
            .http_version(http)
            .unary_get();
            let refusing = server(false);
            let error = stub(&refusing, protocol.clone())
                .unary_call()
                .call(request("get"))
                .unwrap_err();
            assert_ne!(error.code(), Code::Ok);
            let serving = server(true);
            let stub = stub(&serving, protocol);
            let reply = stub.unary_call().call(request("get")).unwrap();
            assert_eq!(
                (reply.message.as_str(), reply.protocol.as_str()),
                ("get", "connect")
            );
            // Streaming methods still POST.
            let replies = stub
                .streaming_output_call()
                .call(EchoRequest {
                    response_count: 2,
                    ..request("post")
                })
                .unwrap();
            assert_eq!(replies.count(), 2);
        }
    }
}

#[test]
fn invalid_combinations_are_build_errors() {
    let error = ChannelBuilder::new("localhost:1")
        .protocol(ClientProtocol::grpc().http_version(HttpVersion::Http1))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("HTTP/2"), "{error}");
    let error = ChannelBuilder::new("localhost:1")
        .protocol(ClientProtocol::grpc_web().unary_get())
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("Connect"), "{error}");
    let error = ChannelBuilder::new("localhost:1")
        .protocol(ClientProtocol::connect_json().add_file_descriptor_set(&b"\xff\xff"[..]))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("descriptor"), "{error}");
}

#[test]
fn json_without_descriptors_fails_the_call_clearly() {
    let server = server(false);
    let channel = ChannelBuilder::new(server.target())
        .protocol(ClientProtocol::connect_json())
        .build()
        .unwrap();
    let error = TestServiceStub::new(channel)
        .unary_call()
        .call(request("x"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(
        error.details().contains("add_file_descriptor_set"),
        "{error:?}"
    );
}

#[test]
fn unreachable_server_is_unavailable_on_http1() {
    let server = server(false);
    let target = server.target().to_owned();
    drop(server);
    let channel = ChannelBuilder::new(target)
        .protocol(ClientProtocol::connect().http_version(HttpVersion::Http1))
        .build()
        .unwrap();
    let error = TestServiceStub::new(channel)
        .unary_call()
        .call(request("x"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
}

/// `wait_for_ready` on HTTP/1.1 waits for a connection within the
/// deadline, as on HTTP/2; without it the call fails at once.
#[test]
fn wait_for_ready_on_http1_waits_for_a_server_that_starts_late() {
    use grpc_core::CallOptions;
    use std::time::Duration;
    // A free port with nothing listening on it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let channel = ChannelBuilder::new(&address)
        .protocol(ClientProtocol::connect().http_version(HttpVersion::Http1))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let stub = TestServiceStub::new(channel);
    let call = |options: CallOptions| {
        stub.unary_call()
            .with_options(options)
            .call(request("late"))
    };
    let error = call(CallOptions::new()).unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    let error = call(
        CallOptions::new()
            .wait_for_ready(true)
            .timeout(Duration::from_millis(300)),
    )
    .unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            call(
                CallOptions::new()
                    .wait_for_ready(true)
                    .timeout(Duration::from_secs(30)),
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !waiting.is_finished(),
            "the call did not wait for the server"
        );
        let server = TestServer::start_on(grpc_core::Server::builder(), &address).unwrap();
        let reply = waiting
            .join()
            .unwrap()
            .expect("served once the server is up");
        assert_eq!(reply.message, "late");
        drop(server);
    });
}

/// Connect and gRPC-Web calls count in channelz as gRPC calls do, on both
/// sides.
#[test]
fn connect_and_grpc_web_calls_count_in_channelz() {
    let server = server(false);
    let protocols = [
        ClientProtocol::connect().http_version(HttpVersion::Http1),
        ClientProtocol::grpc_web(),
    ];
    for (done, protocol) in protocols.into_iter().enumerate() {
        let channel = ChannelBuilder::new(server.target())
            .protocol(protocol)
            .build()
            .unwrap();
        let stub = TestServiceStub::new(channel.clone());
        stub.unary_call().call(request("counted")).unwrap();
        let failing = EchoRequest {
            fail_code: Code::Aborted as i32,
            ..request("failed")
        };
        stub.unary_call().call(failing).unwrap_err();
        let client = channel.channelz().calls();
        assert_eq!((client.started, client.succeeded, client.failed), (2, 1, 1));
        let expected = 2 * (done as u64 + 1);
        // The server records a call just after its response went out.
        let mut server_calls = server.server().channelz().calls();
        for _ in 0..500 {
            if server_calls.succeeded + server_calls.failed == expected {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            server_calls = server.server().channelz().calls();
        }
        assert_eq!(server_calls.started, expected);
        assert_eq!(server_calls.succeeded, expected / 2);
        assert_eq!(server_calls.failed, expected / 2);
    }
}
