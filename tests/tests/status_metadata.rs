//! Statuses (every code, non-ASCII and binary details, abort, set_code,
//! panics) and metadata (ASCII and binary, initial and trailing, user agent,
//! reserved headers) over real connections.

use std::time::Duration;

use grpc_core::{CallOptions, ChannelBuilder, Code, Metadata, MetadataValue};
use rustgrpc_tests::{
    EchoRequest, EchoResponse, FailMode, TestServer, TestServiceStub, echo, entry, tag_metadata,
};

const UNICODE: &str = "¡Hola! 日本語 100% \u{1F600} tab\t\"quote\" %41";

fn failing(code: Code, message: &str, mode: FailMode) -> EchoRequest {
    EchoRequest {
        fail_code: code as i32,
        fail_message: message.to_owned(),
        fail_mode: mode as i32,
        ..EchoRequest::default()
    }
}

fn seen_metadata(response: &EchoResponse) -> Vec<(String, Vec<u8>)> {
    response
        .invocation_metadata
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect()
}

#[test]
fn every_code_arrives_unchanged_in_every_pattern() {
    let server = TestServer::start();
    let stub = server.stub();
    for code in Code::ALL.into_iter().filter(|c| *c != Code::Ok) {
        let details = format!("failed with {}", code.name());
        let request = failing(code, &details, FailMode::ReturnError);

        let err = stub.unary_call().call(request.clone()).unwrap_err();
        assert_eq!((err.code(), err.details()), (code, details.as_str()));

        let mut stream = stub.streaming_output_call().call(request.clone()).unwrap();
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!((err.code(), err.details()), (code, details.as_str()));
        assert_eq!(stream.code(), code);
        assert_eq!(stream.details(), details);

        let err = stub
            .streaming_input_call()
            .call(vec![request.clone()])
            .unwrap_err();
        assert_eq!((err.code(), err.details()), (code, details.as_str()));

        let mut stream = stub.full_duplex_call().call(vec![request]).unwrap();
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!((err.code(), err.details()), (code, details.as_str()));
    }
}

#[test]
fn non_ascii_details_arrive_intact() {
    let server = TestServer::start();
    let stub = server.stub();
    // Trailers-Only (no message sent before the failure).
    let err = stub
        .unary_call()
        .call(failing(
            Code::InvalidArgument,
            UNICODE,
            FailMode::ReturnError,
        ))
        .unwrap_err();
    assert_eq!(err.details(), UNICODE);
    // Trailers after messages.
    let mut request = failing(Code::Aborted, UNICODE, FailMode::ReturnError);
    request.response_count = 2;
    let mut stream = stub.streaming_output_call().call(request).unwrap();
    assert!(stream.next().unwrap().is_ok());
    assert!(stream.next().unwrap().is_ok());
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.details(), UNICODE);
    assert_eq!(stream.details(), UNICODE);
}

#[test]
fn binary_details_arrive() {
    let server = TestServer::start();
    let stub = server.stub();
    let details: Vec<u8> = (0..=255u8).collect();
    for mode in [FailMode::ReturnError, FailMode::AbortWithStatus] {
        let mut request = failing(Code::FailedPrecondition, "with details", mode);
        request.fail_binary_details = details.clone();
        let err = stub.unary_call().call(request.clone()).unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert_eq!(err.details(), "with details");
        assert_eq!(err.status().binary_details().as_ref(), details.as_slice());
        // No reserved header leaks into the trailing metadata.
        assert!(
            !err.trailing_metadata()
                .contains_key("grpc-status-details-bin")
        );

        request.response_count = 1;
        let mut stream = stub.streaming_output_call().call(request).unwrap();
        assert!(stream.next().unwrap().is_ok());
        let err = stream.next().unwrap().unwrap_err();
        assert_eq!(err.status().binary_details().as_ref(), details.as_slice());
    }
}

#[test]
fn abort_abort_with_status_and_set_code() {
    let server = TestServer::start();
    let stub = server.stub();

    let err = stub
        .unary_call()
        .call(failing(Code::PermissionDenied, "go away", FailMode::Abort))
        .unwrap_err();
    assert_eq!(
        (err.code(), err.details()),
        (Code::PermissionDenied, "go away")
    );

    // abort_with_status keeps the trailing metadata set on the context.
    let mut request = failing(
        Code::Unauthenticated,
        "who are you",
        FailMode::AbortWithStatus,
    );
    request.trailing_metadata = vec![entry("why", "no token")];
    let err = stub.unary_call().call(request).unwrap_err();
    assert_eq!(
        (err.code(), err.details()),
        (Code::Unauthenticated, "who are you")
    );
    assert_eq!(err.trailing_metadata().get("why"), Some("no token"));

    // set_code + set_details with an Ok return: the response is discarded
    // by the client and the status wins.
    let err = stub
        .unary_call()
        .call(failing(Code::OutOfRange, "too far", FailMode::SetCode))
        .unwrap_err();
    assert_eq!((err.code(), err.details()), (Code::OutOfRange, "too far"));

    // set_code on a stream: the messages arrive, then the status.
    let mut request = failing(Code::DataLoss, "lost some", FailMode::SetCode);
    request.response_count = 3;
    let mut stream = stub.streaming_output_call().call(request).unwrap();
    for _ in 0..3 {
        assert!(stream.next().unwrap().is_ok());
    }
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!((err.code(), err.details()), (Code::DataLoss, "lost some"));

    // Aborting with OK is an error of its own.
    let server_ok = {
        let mut service = grpc_core::ServiceBuilder::new("demo.Abort");
        service.unary_unary("Ok", |_: EchoRequest, ctx| {
            Err::<EchoResponse, _>(ctx.abort(Code::Ok, "fine?"))
        });
        service.unary_unary("SetOk", |_: EchoRequest, ctx| {
            ctx.set_code(Code::Ok);
            ctx.set_details("explicitly fine");
            Ok(EchoResponse::default())
        });
        service.build()
    };
    let other = grpc_core::Server::builder().build();
    other.add_service(server_ok);
    let port = other.add_insecure_port("127.0.0.1:0").unwrap();
    other.start().unwrap();
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let err = channel
        .unary_unary::<EchoRequest, EchoResponse>("/demo.Abort/Ok")
        .call(echo(""))
        .unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    let (_, call) = channel
        .unary_unary::<EchoRequest, EchoResponse>("/demo.Abort/SetOk")
        .with_call(echo(""))
        .unwrap();
    assert_eq!(call.code(), Code::Ok);
    assert_eq!(call.details(), "explicitly fine");
    other.stop(None).wait();
}

#[test]
fn handler_panic_is_unknown() {
    let server = TestServer::start();
    let stub = server.stub();
    let request = EchoRequest {
        panic_message: "boom in handler".into(),
        ..EchoRequest::default()
    };
    let err = stub.unary_call().call(request.clone()).unwrap_err();
    assert_eq!(err.code(), Code::Unknown);
    assert!(
        err.details().starts_with("Exception calling application"),
        "{err:?}"
    );
    assert!(err.details().contains("boom in handler"), "{err:?}");

    let mut stream = stub.streaming_output_call().call(request.clone()).unwrap();
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unknown);
    assert!(err.details().starts_with("Exception calling application"));

    let err = stub
        .streaming_input_call()
        .call(vec![echo("fine"), request.clone()])
        .unwrap_err();
    assert_eq!(err.code(), Code::Unknown);

    // A panic in the response iterator of a bidi call, after a response.
    let mut stream = stub
        .full_duplex_call()
        .call(vec![echo("first"), request])
        .unwrap();
    assert_eq!(stream.next().unwrap().unwrap().message, "first");
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unknown);
    assert!(err.details().starts_with("Exception calling application"));

    // The worker survives: the server keeps serving.
    assert_eq!(
        stub.unary_call().call(echo("after")).unwrap().message,
        "after"
    );
}

#[test]
fn request_metadata_reaches_the_server() {
    let server = TestServer::start();
    let binary = [0u8, 1, 2, 0xfe, 0xff, b',', b' '];
    let mut metadata =
        Metadata::from_pairs([("x-ascii", "some value"), ("x-multi", "one")]).unwrap();
    metadata.append("x-multi", "two").unwrap();
    metadata.append("x-trace-bin", binary).unwrap();
    metadata.append("x-empty-bin", []).unwrap();
    metadata.append("X-Upper", "lowered").unwrap();
    let options = CallOptions::new()
        .metadata(metadata)
        .timeout(Duration::from_secs(10));
    let response = server
        .stub()
        .unary_call()
        .with_options(options.clone())
        .call(echo(""))
        .unwrap();
    let seen = seen_metadata(&response);
    let get = |key: &str| {
        seen.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("x-ascii"), [b"some value".to_vec()]);
    assert_eq!(get("x-multi"), [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(get("x-trace-bin"), [binary.to_vec()]);
    assert_eq!(get("x-upper"), [b"lowered".to_vec()]);
    // Reserved headers are not user metadata.
    for (key, _) in &seen {
        assert!(
            !key.starts_with("grpc-") && !key.starts_with(':'),
            "reserved header {key:?} exposed"
        );
        assert!(
            !matches!(
                key.as_str(),
                "content-type" | "te" | "host" | "content-length"
            ),
            "reserved header {key:?} exposed"
        );
    }

    // The same for a client-streaming call (metadata is per call).
    let summary = server
        .stub()
        .streaming_input_call()
        .with_options(options)
        .call(vec![echo("a")])
        .unwrap();
    assert!(
        seen_metadata(&summary)
            .iter()
            .any(|(k, v)| k == "x-trace-bin" && v == &binary)
    );
}

#[test]
fn user_agent_is_prefixed_to_the_library_agent() {
    let server = TestServer::start();
    let options = CallOptions::new()
        .metadata(Metadata::from_pairs([("user-agent", "my-client/1.0")]).unwrap());
    let response = server
        .stub()
        .unary_call()
        .with_options(options.clone())
        .call(echo(""))
        .unwrap();
    let agents: Vec<_> = seen_metadata(&response)
        .into_iter()
        .filter(|(k, _)| k == "user-agent")
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .collect();
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert!(
        agents[0].starts_with("my-client/1.0 grpc-rust-rustgrpc/"),
        "{agents:?}"
    );

    // Without one, the library agent alone.
    let response = server.stub().unary_call().call(echo("")).unwrap();
    let agent = seen_metadata(&response)
        .into_iter()
        .find(|(k, _)| k == "user-agent")
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .unwrap();
    assert!(agent.starts_with("grpc-rust-rustgrpc/"), "{agent}");

    // With a channel's primary user agent too.
    let channel = ChannelBuilder::new(server.target())
        .primary_user_agent("my-app/1.2")
        .build()
        .unwrap();
    let response = TestServiceStub::new(channel)
        .unary_call()
        .with_options(options)
        .call(echo(""))
        .unwrap();
    let agent = seen_metadata(&response)
        .into_iter()
        .find(|(k, _)| k == "user-agent")
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .unwrap();
    assert!(
        agent.starts_with("my-client/1.0 my-app/1.2 grpc-rust-rustgrpc/"),
        "{agent}"
    );
}

#[test]
fn initial_and_trailing_metadata_reach_the_client() {
    let server = TestServer::start();
    let stub = server.stub();
    let binary = vec![0u8, 0x80, 0xff, b'\n'];
    let request = EchoRequest {
        initial_metadata: vec![entry("x-initial", "hello"), entry("x-initial-bin", &binary)],
        trailing_metadata: vec![entry("x-trailing", "bye"), entry("x-trailing-bin", &binary)],
        echo_metadata: true,
        ..EchoRequest::default()
    };
    let mut client_md = tag_metadata("md");
    client_md.append("x-echo-bin", [9u8, 8, 7]).unwrap();
    let options = CallOptions::new().metadata(client_md);

    let check_initial = |md: &Metadata| {
        assert_eq!(md.get("x-initial"), Some("hello"), "{md:?}");
        assert_eq!(md.get_bin("x-initial-bin"), Some(binary.as_slice()));
        for (key, _) in md {
            assert!(
                !key.starts_with("grpc-") && key != "content-type" && !key.starts_with(':'),
                "reserved header {key:?} in initial metadata"
            );
        }
    };
    let check_trailing = |md: &Metadata| {
        assert_eq!(md.get("x-trailing"), Some("bye"), "{md:?}");
        assert_eq!(md.get_bin("x-trailing-bin"), Some(binary.as_slice()));
        assert_eq!(md.get("test-tag"), Some("md"), "echoed");
        assert_eq!(md.get_bin("x-echo-bin"), Some(&[9u8, 8, 7][..]), "echoed");
        for (key, _) in md {
            assert!(
                !key.starts_with("grpc-") && !key.starts_with(':'),
                "reserved header {key:?} in trailing metadata"
            );
        }
    };

    let (_, call) = stub
        .unary_call()
        .with_options(options.clone())
        .with_call(request.clone())
        .unwrap();
    check_initial(&call.initial_metadata());
    check_trailing(&call.trailing_metadata());

    let future = stub
        .unary_call()
        .with_options(options.clone())
        .future(request.clone());
    future.result(Some(Duration::from_secs(5))).unwrap();
    check_initial(&future.initial_metadata());
    check_trailing(&future.trailing_metadata());

    let mut stream_request = request.clone();
    stream_request.response_count = 2;
    let mut stream = stub
        .streaming_output_call()
        .with_options(options.clone())
        .call(stream_request)
        .unwrap();
    check_initial(&stream.initial_metadata());
    assert_eq!(stream.by_ref().filter(Result::is_ok).count(), 2);
    check_trailing(&stream.trailing_metadata());

    // On failure, the error carries both.
    let mut failing = request;
    failing.fail_code = Code::NotFound as i32;
    let err = stub
        .unary_call()
        .with_options(options)
        .call(failing)
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    check_initial(err.initial_metadata());
    check_trailing(err.trailing_metadata());
}

#[test]
fn metadata_values_keep_their_kind() {
    let server = TestServer::start();
    let request = EchoRequest {
        trailing_metadata: vec![entry("x-text", "abc"), entry("x-raw-bin", "abc")],
        ..EchoRequest::default()
    };
    let (_, call) = server.stub().unary_call().with_call(request).unwrap();
    let trailing = call.trailing_metadata();
    assert_eq!(
        trailing.get_all("x-text").collect::<Vec<_>>(),
        [&MetadataValue::Ascii("abc".into())]
    );
    assert_eq!(
        trailing.get_all("x-raw-bin").collect::<Vec<_>>(),
        [&MetadataValue::Binary(bytes::Bytes::from_static(b"abc"))]
    );
}

#[test]
fn status_metadata_from_a_handler_and_the_context_merge() {
    let mut service = grpc_core::ServiceBuilder::new("demo.Md");
    service.unary_unary("Fail", |_: EchoRequest, ctx| {
        ctx.set_trailing_metadata(Metadata::from_pairs([("from-ctx", "1")]).unwrap());
        Err::<EchoResponse, _>(
            grpc_core::Status::not_found("gone")
                .with_metadata(Metadata::from_pairs([("from-status", "2")]).unwrap()),
        )
    });
    let server = grpc_core::Server::builder().build();
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
    let err = channel
        .unary_unary::<EchoRequest, EchoResponse>("/demo.Md/Fail")
        .call(echo(""))
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.trailing_metadata().get("from-ctx"), Some("1"));
    assert_eq!(err.trailing_metadata().get("from-status"), Some("2"));
    server.stop(None).wait();
}

#[test]
fn oversized_request_metadata_fails_the_call_not_the_channel() {
    let server = TestServer::start();
    let stub = server.stub();
    let first = stub.unary_call().call(echo("before")).unwrap();
    let call_with = |bytes: usize| {
        let huge = Metadata::from_pairs([("x-huge", "v".repeat(bytes))]).unwrap();
        let start = std::time::Instant::now();
        let err = stub
            .unary_call()
            .with_options(
                CallOptions::new()
                    .metadata(huge)
                    .timeout(Duration::from_secs(5)),
            )
            .call(echo("huge"))
            .unwrap_err();
        // Failed by the server's answer, not by the call's 5 s deadline.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        err
    };
    // Over the server's 16 KiB header list limit: HTTP 431, which the
    // HTTP-to-gRPC table maps to UNKNOWN; the connection stays.
    let err = call_with(20 << 10);
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    assert!(err.details().contains("431"), "{err:?}");
    let after = stub.unary_call().call(echo("after")).unwrap();
    assert_eq!(after.peer, first.peer, "the connection was replaced");
    // Far over it, h2 closes the whole connection (GOAWAY); the call is
    // UNAVAILABLE and the channel reconnects for the next one.
    let err = call_with(64 << 10);
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let after = stub.unary_call().call(echo("after")).unwrap();
    assert_eq!(after.message, "after");
}

#[test]
fn metadata_of_a_trailers_only_failure_does_not_block() {
    let server = TestServer::start();
    let mut stream = server
        .stub()
        .streaming_output_call()
        .call(failing(Code::NotFound, "nothing", FailMode::ReturnError))
        .unwrap();
    assert!(stream.initial_metadata().is_empty());
    assert_eq!(stream.next().unwrap().unwrap_err().code(), Code::NotFound);
    assert!(stream.trailing_metadata().is_empty());
    let future = server.stub().unary_call().future(failing(
        Code::NotFound,
        "nothing",
        FailMode::ReturnError,
    ));
    assert!(future.initial_metadata().is_empty());
    assert_eq!(future.code(), Code::NotFound);
}

#[test]
fn a_huge_status_message_is_truncated_and_the_connection_survives() {
    let server = TestServer::start();
    let stub = server.stub();
    let huge = "x".repeat(200_000);
    let error = stub
        .unary_call()
        .call(failing(Code::Internal, &huge, FailMode::ReturnError))
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(
        error.details().ends_with("... (truncated)"),
        "{}",
        error.details().len()
    );
    assert!(error.details().len() < 8 << 10);
    // The same connection goes on serving.
    assert!(stub.unary_call().call(echo("after")).is_ok());
}
