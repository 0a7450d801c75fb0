//! The cases our client runs in every protocol and HTTP version, against
//! our own server and against other implementations' servers
//! (`tests/client_protocols.rs`, `tests/client_peers.rs`): the four
//! patterns through the generated stub and both faces, metadata both
//! ways, errors with rich details, deadlines and gzip.

use std::time::Duration;

use futures_util::StreamExt;
use grpc_core::{CallOptions, Code, Compression, HttpVersion, Metadata};
use prost::Message as _;

use crate::pb::TestServiceStub;
use crate::{EchoRequest, FailMode, MetadataEntry, echo, entry};

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

/// A plain request.
fn request(message: &str) -> EchoRequest {
    echo(message)
}

/// Runs every case; `protocol` is what the server reports the calls came
/// in as. Returns how many cases passed (all, or it panics).
pub fn run_cases(stub: &TestServiceStub, protocol: &str, http: HttpVersion) -> usize {
    let mut cases = 0;
    // Unary, blocking: call, with_call (metadata both ways), future.
    let reply = stub.unary_call().call(request("plain")).unwrap();
    assert_eq!(
        (reply.message.as_str(), reply.protocol.as_str()),
        ("plain", protocol)
    );
    cases += 1;

    let mut metadata = Metadata::new();
    metadata.insert("x-sent", "by-client").unwrap();
    metadata.insert("x-sent-bin", [0u8, 1, 2]).unwrap();
    let ask = EchoRequest {
        initial_metadata: vec![entry("x-initial", "early")],
        trailing_metadata: vec![
            entry("x-trailing", "late"),
            entry("x-trailing-bin", [9u8, 8]),
        ],
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
    assert!(
        reply.has_deadline && reply.time_remaining_ms > 1_000,
        "{reply:?}"
    );
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
        let reply = stub
            .unary_call()
            .call_async(request("async"))
            .await
            .unwrap();
        assert_eq!(reply.protocol, protocol);
        let mut stream = stub
            .streaming_output_call()
            .call_async(EchoRequest {
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
            let replies: Vec<String> = bidi.unwrap().map(|reply| reply.unwrap().message).collect();
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
