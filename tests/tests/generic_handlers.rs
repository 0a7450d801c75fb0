//! Generic handlers over real sockets: methods over raw bytes on client
//! and server, and a fallback handler for unregistered methods: a
//! transparent proxy (`rustgrpc_examples::proxy`) in front of the test
//! server, every kind of method through it.

use std::time::Duration;

use bytes::Bytes;
use grpc_core::{
    CallOptions, Code, Metadata, RawBytes, Server, ServiceBuilder, ServicerContext, Status,
    insecure_channel,
};
use prost::Message;
use rustgrpc_examples::proxy::forwarding_service;
use rustgrpc_tests::{EchoResponse, TestServer, TestServiceStub, echo, entry};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";

/// A started proxy server in front of `backend`.
fn start_proxy(backend: &TestServer) -> Server {
    let proxy = Server::builder().build();
    proxy
        .add_fallback(forwarding_service(backend.channel()))
        .expect("one method");
    proxy.add_insecure_port("127.0.0.1:0").expect("bind");
    proxy.start().expect("start");
    proxy
}

fn stub_through(proxy: &Server) -> TestServiceStub {
    let address = proxy.local_addrs()[0];
    TestServiceStub::new(insecure_channel(&address.to_string()).expect("target"))
}

#[test]
fn raw_bytes_methods_on_client_and_server() {
    // A typed server method, called with raw bytes.
    let server = TestServer::start();
    let channel = server.channel();
    let raw = channel.unary_unary::<RawBytes, RawBytes>(UNARY);
    let request = RawBytes::from(echo("raw").encode_to_vec());
    let reply = raw.call(request).expect("call");
    assert_eq!(EchoResponse::decode(reply.0).unwrap().message, "raw");
    // A raw server method (reversing the bytes), called with raw bytes.
    let raw_server = Server::builder().build();
    let mut service = ServiceBuilder::new("raw.Bytes");
    service.unary_unary("Reverse", |request: RawBytes, _ctx: &ServicerContext| {
        let mut bytes = request.to_vec();
        bytes.reverse();
        Ok::<_, Status>(RawBytes::from(bytes))
    });
    raw_server.add_service(service.build());
    let port = raw_server.add_insecure_port("127.0.0.1:0").unwrap();
    raw_server.start().unwrap();
    let channel = insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let reverse = channel.unary_unary::<RawBytes, RawBytes>("/raw.Bytes/Reverse");
    // Not a protobuf message: raw bytes pass as they are.
    let reply = reverse
        .call(RawBytes::from(Bytes::from_static(b"\xff\x00abc")))
        .unwrap();
    assert_eq!(reply.0.as_ref(), b"cba\x00\xff");
    let empty = reverse.call(RawBytes::default()).unwrap();
    assert!(empty.is_empty());
    raw_server.stop(None).wait();
}

#[test]
fn a_fallback_needs_exactly_one_method() {
    let server = Server::builder().build();
    let error = server
        .add_fallback(ServiceBuilder::new("none").build())
        .unwrap_err();
    assert!(error.is_invalid_argument(), "{error}");
}

#[test]
fn unregistered_methods_go_to_the_fallback_with_their_path() {
    let server = Server::builder().build();
    let mut fallback = ServiceBuilder::new("fallback");
    fallback.unary_unary("Any", |_: RawBytes, ctx: &ServicerContext| {
        Ok::<_, Status>(RawBytes::from(ctx.method().as_bytes().to_vec()))
    });
    server.add_fallback(fallback.build()).unwrap();
    let mut registered = ServiceBuilder::new("demo.Echo");
    registered.unary_unary("Echo", |request: String, _ctx: &ServicerContext| {
        Ok::<_, Status>(request)
    });
    server.add_service(registered.build());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    let channel = insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let echo = channel.unary_unary::<String, String>("/demo.Echo/Echo");
    assert_eq!(echo.call("registered".into()).unwrap(), "registered");
    let other = channel.unary_unary::<RawBytes, RawBytes>("/some.Other/Method");
    let reply = other.call(RawBytes::default()).unwrap();
    assert_eq!(reply.0.as_ref(), b"/some.Other/Method");
    server.stop(None).wait();
}

#[test]
fn a_transparent_proxy_forwards_every_kind_of_call() {
    let backend = TestServer::start();
    let proxy = start_proxy(&backend);
    let stub = stub_through(&proxy);
    // Unary, with metadata both ways and the deadline passed on.
    let mut request = echo("via proxy");
    request.initial_metadata = vec![entry("x-initial", "i")];
    request.trailing_metadata = vec![entry("x-trailing", "t")];
    let metadata = Metadata::from_pairs([("x-client", "c")]).unwrap();
    let options = CallOptions::new()
        .metadata(metadata)
        .timeout(Duration::from_secs(30));
    let (reply, call) = stub
        .unary_call()
        .with_options(options)
        .with_call(request)
        .unwrap();
    assert_eq!(reply.message, "via proxy");
    assert!(reply.has_deadline);
    assert!(reply.time_remaining_ms <= 30_000);
    let seen: Vec<_> = reply
        .invocation_metadata
        .iter()
        .filter(|e| e.key == "x-client")
        .collect();
    assert_eq!(seen.len(), 1);
    assert_eq!(call.initial_metadata().get("x-initial"), Some("i"));
    assert_eq!(call.trailing_metadata().get("x-trailing"), Some("t"));
    // Server streaming.
    let mut request = echo("s");
    request.response_count = 4;
    let indexes: Vec<u32> = stub
        .streaming_output_call()
        .call(request)
        .unwrap()
        .map(|reply| reply.unwrap().index)
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);
    // Client streaming.
    let summary = stub
        .streaming_input_call()
        .call(vec![echo("a"), echo("b"), echo("c")].into_iter())
        .unwrap();
    assert_eq!(
        (summary.message.as_str(), summary.request_count),
        ("a,b,c", 3)
    );
    // Bidi.
    let replies: Vec<String> = stub
        .full_duplex_call()
        .call(vec![echo("x"), echo("y")].into_iter())
        .unwrap()
        .map(|reply| reply.unwrap().message)
        .collect();
    assert_eq!(replies, ["x", "y"]);
    proxy.stop(None).wait();
}

#[test]
fn a_transparent_proxy_passes_errors_through() {
    let backend = TestServer::start();
    let proxy = start_proxy(&backend);
    let stub = stub_through(&proxy);
    let mut failing = echo("f");
    failing.fail_code = Code::NotFound.value();
    failing.fail_message = "no such thing".into();
    failing.trailing_metadata = vec![entry("x-why", "because")];
    let error = stub.unary_call().call(failing).unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    assert_eq!(error.details(), "no such thing");
    assert_eq!(error.trailing_metadata().get("x-why"), Some("because"));
    // The backend's UNIMPLEMENTED passes through too.
    let error = stub.unimplemented_call().call(echo("u")).unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    // The client's deadline holds across the proxy.
    let mut slow = echo("slow");
    slow.sleep_ms = 10_000;
    let error = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_millis(200)))
        .call(slow)
        .unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded);
    proxy.stop(None).wait();
}

#[test]
fn a_proxy_reports_an_unreachable_backend() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let proxy = Server::builder().build();
    let backend = insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    proxy.add_fallback(forwarding_service(backend)).unwrap();
    proxy.add_insecure_port("127.0.0.1:0").unwrap();
    proxy.start().unwrap();
    let error = stub_through(&proxy)
        .unary_call()
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    proxy.stop(None).wait();
}
