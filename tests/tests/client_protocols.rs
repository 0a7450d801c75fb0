//! Our client speaking gRPC-Web and Connect (protobuf and JSON, POST and
//! GET) over HTTP/1.1 and HTTP/2 to our own server, through the generated
//! stub and both faces: the four patterns (bidi only on HTTP/2), metadata
//! both ways, errors with rich details, deadlines and gzip. The servicer
//! reports the protocol the call arrived in, so each case proves which
//! wire it used.

use std::time::Duration;

use futures_util::StreamExt;
use grpc_core::{
    CallOptions, ChannelBuilder, ClientProtocol, Code, Compression, HttpVersion, Metadata,
};
use prost::Message as _;
use rustgrpc_tests::pb::TestServiceStub;
use rustgrpc_tests::{
    EchoRequest, FailMode, MetadataEntry, TESTING_DESCRIPTOR_SET, TestServer, echo, entry,
};

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

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

/// The cases every protocol passes; returns how many ran.
fn run_cases(stub: &TestServiceStub, protocol: &str, http: HttpVersion) -> usize {
    let mut cases = 0;
    // Unary, blocking: call, with_call (metadata both ways), future.
    let reply = stub.unary_call().call(request("plain")).unwrap();
    assert_eq!((reply.message.as_str(), reply.protocol.as_str()), ("plain", protocol));
    cases += 1;

    let mut metadata = Metadata::new();
    metadata.insert("x-sent", "by-client").unwrap();
    metadata.insert("x-sent-bin", [0u8, 1, 2]).unwrap();
    let ask = EchoRequest {
        initial_metadata: vec![entry("x-initial", "early")],
        trailing_metadata: vec![entry("x-trailing", "late"), entry("x-trailing-bin", [9u8, 8])],
        ..request("metadata")
    };
    let (reply, call) = stub
        .unary_call()
        .with_options(CallOptions::new().metadata(metadata))
        .with_call(ask)
        .unwrap();
    let seen = |key: &str| -> Option<Vec<u8>> {
        reply
            .invocation_metadata
            .iter()
            .find(|entry: &&MetadataEntry| entry.key == key)
            .map(|entry| entry.value.clone())
    };
    assert_eq!(seen("x-sent").as_deref(), Some(&b"by-client"[..]));
    assert_eq!(seen("x-sent-bin").as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(call.initial_metadata().get("x-initial"), Some("early"));
    assert_eq!(call.trailing_metadata().get("x-trailing"), Some("late"));
    assert_eq!(
        call.trailing_metadata().get_bin("x-trailing-bin"),
        Some(&[9u8, 8][..])
    );
    cases += 1;

    let future = stub.unary_call().future(request("future"));
    assert_eq!(future.result(None).unwrap().message, "future");
    cases += 1;

    // An error with rich details and trailing metadata.
    let details = RpcStatus {
        code: Code::NotFound as i32,
        message: "gone".into(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.protobuf.StringValue".into(),
            value: b"\x0a\x04more".to_vec(),
        }],
    }
    .encode_to_vec();
    let error = stub
        .unary_call()
        .call(EchoRequest {
            fail_code: Code::NotFound as i32,
            fail_message: "gone".into(),
            fail_binary_details: details.clone(),
            fail_mode: FailMode::AbortWithStatus as i32,
            ..request("fail")
        })
        .unwrap_err();
    assert_eq!((error.code(), error.details()), (Code::NotFound, "gone"));
    assert_eq!(error.status().binary_details().as_ref(), &details[..]);
    cases += 1;

    // Deadlines: the server sees one; one that passes fails the call.
    let reply = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_secs(30)))
        .call(request("deadline"))
        .unwrap();
    assert!(reply.has_deadline && reply.time_remaining_ms > 1_000, "{reply:?}");
    let error = stub
        .unary_call()
        .with_options(CallOptions::new().timeout(Duration::from_millis(200)))
        .call(EchoRequest {
            sleep_ms: 5_000,
            ..request("slow")
        })
        .unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    cases += 1;

    // gzip both ways, with a payload large enough to be compressed.
    let reply = stub
        .unary_call()
        .with_options(CallOptions::new().compression(Compression::Gzip))
        .call(EchoRequest {
            payload: vec![b'a'; 64 << 10],
            response_size: 64 << 10,
            response_compression: "gzip".into(),
            ..request("gzip")
        })
        .unwrap();
    assert_eq!(reply.payload.len(), 64 << 10);
    cases += 1;

    // Server streaming, blocking iterator.
    let replies: Vec<_> = stub
        .streaming_output_call()
        .call(EchoRequest {
            response_count: 3,
            ..request("stream")
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let indexes: Vec<u32> = replies.iter().map(|reply| reply.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    cases += 1;

    // Client streaming (blocking), with gzip on each message.
    let requests = ["a", "b", "c"].map(request);
    let reply = stub
        .streaming_input_call()
        .with_options(CallOptions::new().compression(Compression::Gzip))
        .call(requests.into_iter())
        .unwrap();
    assert_eq!((reply.message.as_str(), reply.request_count), ("a,b,c", 3));
    cases += 1;

    // The async face: unary and server streaming.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let reply = stub.unary_call().call_async(request("async")).await.unwrap();
        assert_eq!(reply.protocol, protocol);
        let mut stream = stub.streaming_output_call().call_async(EchoRequest {
            response_count: 2,
            ..request("async stream")
        })
        .await
        .unwrap();
        let mut count = 0;
        while let Some(reply) = stream.next().await {
            assert_eq!(reply.unwrap().index, count);
            count += 1;
        }
        assert_eq!(count, 2);
    });
    cases += 1;

    // Bidi: on HTTP/2 each response answers its request; HTTP/1.1 cannot.
    let bidi = stub
        .full_duplex_call()
        .call(["x", "y"].map(request).into_iter());
    match http {
        HttpVersion::Http2 => {
            let replies: Vec<String> = bidi
                .unwrap()
                .map(|reply| reply.unwrap().message)
                .collect();
            assert_eq!(replies, ["x", "y"]);
        }
        _ => {
            let error = match bidi {
                Ok(mut replies) => replies.next().unwrap().unwrap_err(),
                Err(error) => error,
            };
            assert_eq!(error.code(), Code::Unimplemented, "{error:?}");
        }
    }
    cases += 1;
    cases
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
            assert_eq!((reply.message.as_str(), reply.protocol.as_str()), ("get", "connect"));
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
    assert!(error.details().contains("add_file_descriptor_set"), "{error:?}");
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
