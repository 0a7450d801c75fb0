//! Codecs over real sockets: a client and server speaking the proto3 JSON
//! mapping (`application/grpc+json`, every pattern, both faces, checked
//! on the wire by a raw HTTP/2 client), raw bytes both ways, a codec
//! defined here, and the errors of a call whose codec the method does not
//! speak.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use grpc_core::{
    BytesCodec, Code, Codec, Decoder, Encoder, JsonCodec, RequestStream, Requests, Server,
    ServiceBuilder, Status, insecure_channel,
};
use http::Request;
use prost::Message;
use rustgrpc_tests::raw::{self, frame_bytes, header, split_frames};
use rustgrpc_tests::{
    EchoRequest, EchoResponse, TESTING_DESCRIPTOR_SET, TestServer, TestServiceStub, echo,
};

const SERVICE: &str = "rustgrpc.testing.TestService";
const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";

fn json() -> JsonCodec {
    JsonCodec::new(TESTING_DESCRIPTOR_SET).expect("testing descriptors")
}

fn reply(prefix: &str, message: &str, index: u32) -> EchoResponse {
    EchoResponse {
        message: format!("{prefix}:{message}"),
        index,
        ..EchoResponse::default()
    }
}

/// The four testing methods as blocking handlers, answering `prefix:..`.
fn blocking_methods<C>(service: &mut ServiceBuilder<C>, prefix: &'static str)
where
    C: Decoder<EchoRequest> + Encoder<EchoResponse>,
{
    service
        .unary_unary("UnaryCall", move |request: EchoRequest, _ctx| {
            Ok::<_, Status>(reply(prefix, &request.message, 0))
        })
        .unary_stream("StreamingOutputCall", move |request: EchoRequest, _ctx| {
            let count = request.response_count;
            Ok::<_, Status>((0..count).map(move |i| Ok(reply(prefix, &request.message, i))))
        })
        .stream_unary(
            "StreamingInputCall",
            move |requests: Requests<EchoRequest>, _ctx| {
                let messages: Result<Vec<String>, Status> =
                    requests.map(|r| r.map(|r| r.message)).collect();
                Ok(reply(prefix, &messages?.join(","), 0))
            },
        )
        .stream_stream(
            "FullDuplexCall",
            move |requests: Requests<EchoRequest>, _ctx| {
                let mut index = 0;
                Ok::<_, Status>(requests.map(move |request| {
                    index += 1;
                    request.map(|r| reply(prefix, &r.message, index - 1))
                }))
            },
        );
}

/// The same four methods as async handlers.
fn async_methods<C>(service: &mut ServiceBuilder<C>, prefix: &'static str)
where
    C: Decoder<EchoRequest> + Encoder<EchoResponse>,
{
    service
        .unary_unary_async("UnaryCall", move |request: EchoRequest, _ctx| async move {
            Ok::<_, Status>(reply(prefix, &request.message, 0))
        })
        .unary_stream_async(
            "StreamingOutputCall",
            move |request: EchoRequest, _ctx| async move {
                let count = request.response_count;
                let replies = (0..count).map(move |i| Ok(reply(prefix, &request.message, i)));
                Ok::<_, Status>(futures_util::stream::iter(replies))
            },
        )
        .stream_unary_async(
            "StreamingInputCall",
            move |requests: RequestStream<EchoRequest>, _ctx| async move {
                let messages: Vec<Result<EchoRequest, Status>> = requests.collect().await;
                let messages: Result<Vec<String>, Status> =
                    messages.into_iter().map(|r| r.map(|r| r.message)).collect();
                Ok(reply(prefix, &messages?.join(","), 0))
            },
        )
        .stream_stream_async(
            "FullDuplexCall",
            move |requests: RequestStream<EchoRequest>, _ctx| async move {
                let replies = requests.enumerate().map(move |(index, request)| {
                    request.map(|r| reply(prefix, &r.message, index as u32))
                });
                Ok::<_, Status>(replies)
            },
        );
}

/// A started server with `service`; its port.
fn serve(service: grpc_core::Service) -> (Server, u16) {
    let server = Server::builder().build();
    server.add_service(service);
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    (server, port)
}

fn json_server(blocking: bool) -> (Server, u16) {
    let mut service = ServiceBuilder::new(SERVICE).with_codec(json());
    if blocking {
        blocking_methods(&mut service, "json");
    } else {
        async_methods(&mut service, "json");
    }
    serve(service.build())
}

fn channel(port: u16) -> grpc_core::Channel {
    insecure_channel(&format!("127.0.0.1:{port}")).expect("target")
}

fn streaming(message: &str, count: u32) -> EchoRequest {
    EchoRequest {
        response_count: count,
        ..echo(message)
    }
}

/// What the server answers to a message.
type Answer<'a> = &'a dyn Fn(&str) -> String;

/// Every pattern on the blocking face of a stub speaking `C`.
fn blocking_calls<C>(stub: &TestServiceStub<C>, answer: Answer<'_>)
where
    C: Codec + Encoder<EchoRequest> + Decoder<EchoResponse>,
{
    let unary = stub.unary_call().call(echo("one")).expect("unary");
    assert_eq!(unary.message, answer("one"));
    let stream: Vec<EchoResponse> = stub
        .streaming_output_call()
        .call(streaming("out", 3))
        .expect("server streaming")
        .collect::<Result<_, _>>()
        .expect("responses");
    let indexes: Vec<u32> = stream.iter().map(|r| r.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert!(stream.iter().all(|r| r.message == answer("out")));
    let summary = stub
        .streaming_input_call()
        .call(["a", "b", "c"].map(echo))
        .expect("client streaming");
    assert_eq!(summary.message, answer("a,b,c"));
    let chat: Vec<String> = stub
        .full_duplex_call()
        .call(["x", "y"].map(echo))
        .expect("bidi")
        .map(|r| r.expect("reply").message)
        .collect();
    assert_eq!(chat, [answer("x"), answer("y")]);
}

/// Every pattern on the async face.
async fn async_calls<C>(stub: &TestServiceStub<C>, answer: Answer<'_>)
where
    C: Codec + Encoder<EchoRequest> + Decoder<EchoResponse>,
{
    let unary = stub
        .unary_call()
        .call_async(echo("one"))
        .await
        .expect("unary");
    assert_eq!(unary.message, answer("one"));
    let stream = stub
        .streaming_output_call()
        .call_async(streaming("out", 2))
        .await
        .expect("server streaming");
    let indexes: Vec<u32> = stream.map(|r| r.expect("reply").index).collect().await;
    assert_eq!(indexes, [0, 1]);
    let requests = futures_util::stream::iter(["a", "b"].map(echo));
    let summary = stub
        .streaming_input_call()
        .call_async(requests)
        .await
        .expect("client streaming");
    assert_eq!(summary.message, answer("a,b"));
    let requests = futures_util::stream::iter(["x", "y"].map(echo));
    let chat = stub
        .full_duplex_call()
        .call_async(requests)
        .await
        .expect("bidi");
    let chat: Vec<String> = chat.map(|r| r.expect("reply").message).collect().await;
    assert_eq!(chat, [answer("x"), answer("y")]);
}

#[test]
fn a_json_client_and_server_speak_every_pattern_on_both_faces() {
    for blocking_server in [true, false] {
        let (_server, port) = json_server(blocking_server);
        let stub = TestServiceStub::new(channel(port)).with_codec(json());
        let answer = |message: &str| format!("json:{message}");
        blocking_calls(&stub, &answer);
        raw::runtime().block_on(async_calls(&stub, &answer));
    }
}

/// One unary request with `content_type` and `body` (framed) over a raw
/// HTTP/2 connection: the response's headers, messages and status headers.
async fn raw_unary(
    port: u16,
    content_type: &str,
    body: &[u8],
) -> (http::HeaderMap, Vec<Vec<u8>>, http::HeaderMap) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = Request::post(format!("http://127.0.0.1:{port}{UNARY}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(frame_bytes(false, body), true).unwrap();
    let (parts, body) = response.await.unwrap().into_parts();
    let trailers_only = body.is_end_stream();
    let (data, trailers) = raw::read_body(body).await.unwrap();
    let messages = split_frames(&data).into_iter().map(|(_, m)| m).collect();
    let status = if trailers_only {
        parts.headers.clone()
    } else {
        trailers.expect("trailers")
    };
    (parts.headers, messages, status)
}

#[test]
fn json_is_on_the_wire_as_application_grpc_json() {
    let (_server, port) = json_server(true);
    let (headers, messages, status) = raw::runtime().block_on(raw_unary(
        port,
        "application/grpc+json",
        br#"{"message":"wire","responseCount":1}"#,
    ));
    assert_eq!(header(&headers, "content-type"), "application/grpc+json");
    assert_eq!(header(&status, "grpc-status"), "0");
    assert_eq!(messages.len(), 1);
    let json: serde_json::Value = serde_json::from_slice(&messages[0]).expect("JSON response");
    assert_eq!(json, serde_json::json!({"message": "json:wire"}));
}

#[test]
fn a_codec_the_method_does_not_speak_is_unimplemented_with_a_clear_message() {
    // A proto method, called with an unknown content-subtype on the wire.
    let server = TestServer::start();
    let (headers, messages, status) = raw::runtime().block_on(raw_unary(
        server.port(),
        "application/grpc+cbor",
        &echo("x").encode_to_vec(),
    ));
    assert!(header(&headers, "content-type").starts_with("application/grpc"));
    assert!(messages.is_empty());
    assert_eq!(header(&status, "grpc-status"), "12");
    let message = header(&status, "grpc-message");
    assert!(
        message.contains("cbor") && message.contains("proto"),
        "{message}"
    );
    // A JSON client at a proto method, and a proto client at a JSON one.
    let json_stub = TestServiceStub::new(server.channel()).with_codec(json());
    let error = json_stub.unary_call().call(echo("x")).unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert!(error.details().contains("\"json\""), "{}", error.details());
    let (_json_server, port) = json_server(false);
    let error = TestServiceStub::new(channel(port))
        .unary_call()
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert!(error.details().contains("\"json\""), "{}", error.details());
}

#[test]
fn a_json_codec_without_the_method_descriptor_fails_the_call_clearly() {
    let server = TestServer::start();
    let codec = JsonCodec::new(&prost_types::FileDescriptorSet::default().encode_to_vec())
        .expect("an empty set");
    let error = TestServiceStub::new(server.channel())
        .with_codec(codec)
        .unary_call()
        .call(echo("x"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(
        error.details().contains("no descriptor for"),
        "{}",
        error.details()
    );
    assert!(JsonCodec::new(b"\xff not a descriptor set").is_err());
}

#[test]
fn raw_bytes_codec_both_ways() {
    // Raw bytes at a typed (prost) server.
    let server = TestServer::start();
    let raw = server
        .channel()
        .unary_unary::<Bytes, Bytes>(UNARY)
        .with_codec(BytesCodec::new());
    let answer = raw.call(echo("raw").encode_to_vec().into()).expect("call");
    assert_eq!(EchoResponse::decode(answer).unwrap().message, "raw");
    // A raw-bytes server answering a typed stub, every pattern.
    let mut service = ServiceBuilder::new(SERVICE).with_codec(BytesCodec::new());
    let response = |message: &str, index| Bytes::from(reply("raw", message, index).encode_to_vec());
    let message = |bytes: Bytes| EchoRequest::decode(bytes).unwrap().message;
    service
        .unary_unary("UnaryCall", move |request: Bytes, _ctx| {
            Ok::<_, Status>(response(&message(request), 0))
        })
        .unary_stream("StreamingOutputCall", move |request: Bytes, _ctx| {
            let request = EchoRequest::decode(request).unwrap();
            let count = request.response_count;
            Ok::<_, Status>((0..count).map(move |i| Ok(response(&request.message, i))))
        })
        .stream_unary(
            "StreamingInputCall",
            move |requests: Requests<Bytes>, _ctx| {
                let messages: Result<Vec<String>, Status> =
                    requests.map(|r| r.map(message)).collect();
                Ok(response(&messages?.join(","), 0))
            },
        )
        .stream_stream("FullDuplexCall", move |requests: Requests<Bytes>, _ctx| {
            Ok::<_, Status>(
                requests
                    .enumerate()
                    .map(move |(i, request)| request.map(|r| response(&message(r), i as u32))),
            )
        });
    let (_server, port) = serve(service.build());
    blocking_calls(&TestServiceStub::new(channel(port)), &|m| {
        format!("raw:{m}")
    });
}

/// A codec of this test's own: strings as UTF-8, `application/grpc+text`.
#[derive(Clone, Copy, Debug)]
struct TextCodec;

impl Codec for TextCodec {
    fn name(&self) -> &'static str {
        "text"
    }
}

impl Encoder<String> for TextCodec {
    fn encode(&self, message: &String, buf: &mut BytesMut) -> Result<(), Status> {
        buf.extend_from_slice(message.as_bytes());
        Ok(())
    }
}

impl Decoder<String> for TextCodec {
    fn decode(&self, bytes: Bytes) -> Result<String, Status> {
        String::from_utf8(bytes.to_vec()).map_err(|_| Status::internal("not UTF-8"))
    }
}

#[test]
fn a_user_codec_round_trips_and_its_errors_are_reported() {
    let mut service = ServiceBuilder::new("text.Shout").with_codec(TextCodec);
    service
        .unary_unary("Upper", |text: String, _ctx| {
            Ok::<_, Status>(text.to_uppercase())
        })
        .stream_stream_async("Echo", |texts: RequestStream<String>, _ctx| async move {
            Ok::<_, Status>(texts.map(|text| text.map(|t| format!("<{t}>"))))
        });
    let (_server, port) = serve(service.build());
    let channel = channel(port);
    let upper = channel
        .unary_unary::<String, String>("/text.Shout/Upper")
        .with_codec(TextCodec);
    assert_eq!(upper.call("héllo".to_owned()).unwrap(), "HÉLLO");
    let echo = channel
        .stream_stream::<String, String>("/text.Shout/Echo")
        .with_codec(TextCodec);
    let replies: Vec<String> = echo
        .call(vec!["a".to_owned(), "b".to_owned()])
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(replies, ["<a>", "<b>"]);
    // Bytes that are not UTF-8 fail on the server as grpcio reports it.
    let bytes = channel
        .unary_unary::<Bytes, Bytes>("/text.Shout/Upper")
        .with_codec(BytesCodec::named("text"));
    let error = bytes.call(Bytes::from_static(b"\xff\xfe")).unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert_eq!(error.details(), "Exception deserializing request!");
    // A reply that is not UTF-8 fails on the client the same way.
    let mut service = ServiceBuilder::new("text.Bad").with_codec(BytesCodec::named("text"));
    service.unary_unary("Bytes", |_: Bytes, _ctx| {
        Ok::<_, Status>(Bytes::from_static(b"\xff"))
    });
    let (_bad, port) = serve(service.build());
    let error = self::channel(port)
        .unary_unary::<String, String>("/text.Bad/Bytes")
        .with_codec(TextCodec)
        .call("x".to_owned())
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(
        error
            .details()
            .starts_with("Exception deserializing response!"),
        "{}",
        error.details()
    );
}

#[test]
fn a_protobuf_server_with_descriptors_answers_json_clients_by_transcoding() {
    // The generated (protobuf) servicer, untouched; the server knows the
    // descriptors, so application/grpc+json calls are transcoded.
    let server = TestServer::start();
    server
        .server()
        .add_file_descriptor_set(TESTING_DESCRIPTOR_SET)
        .expect("descriptors");
    let stub = TestServiceStub::new(server.channel()).with_codec(json());
    let echoed = |message: &str| message.to_owned();
    blocking_calls(&stub, &echoed);
    raw::runtime().block_on(async_calls(&stub, &echoed));
    // On the wire: JSON both ways; JSON that is not the method's input is
    // INVALID_ARGUMENT, named as such.
    let (headers, messages, status) = raw::runtime().block_on(raw_unary(
        server.port(),
        "application/grpc+json",
        br#"{"message":"wire"}"#,
    ));
    assert_eq!(header(&headers, "content-type"), "application/grpc+json");
    assert_eq!(header(&status, "grpc-status"), "0");
    let json: serde_json::Value = serde_json::from_slice(&messages[0]).expect("JSON response");
    assert_eq!(json["message"], "wire");
    let (_, messages, status) = raw::runtime().block_on(raw_unary(
        server.port(),
        "application/grpc+json",
        br#"{"noSuchField":1}"#,
    ));
    assert!(messages.is_empty());
    assert_eq!(header(&status, "grpc-status"), "3");
    assert!(
        header(&status, "grpc-message").contains("noSuchField"),
        "{status:?}"
    );
}

#[test]
fn connect_json_reaches_a_json_method_as_it_is_and_connect_proto_is_refused() {
    use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
    // The server has no descriptors: the JSON goes to the handler's codec.
    let (_server, port) = json_server(true);
    let stub = |protocol: ClientProtocol| {
        let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
            .protocol(protocol)
            .build()
            .expect("channel");
        TestServiceStub::new(channel)
    };
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let connect_json = ClientProtocol::connect_json()
            .http_version(http)
            .add_file_descriptor_set(TESTING_DESCRIPTOR_SET);
        let stub = stub(connect_json);
        let unary = stub.unary_call().call(echo("c")).expect("unary");
        assert_eq!(unary.message, "json:c", "{http:?}");
        let indexes: Vec<u32> = stub
            .streaming_output_call()
            .call(streaming("s", 2))
            .expect("server streaming")
            .map(|r| r.expect("reply").index)
            .collect();
        assert_eq!(indexes, [0, 1], "{http:?}");
    }
    let error = stub(ClientProtocol::connect())
        .unary_call()
        .call(echo("c"))
        .unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert!(error.details().contains("\"json\""), "{}", error.details());
}
