//! Connect's JSON codec (`application/json`, `application/connect+json`)
//! and unary GET, by reflection over the descriptors generated code
//! registers or that are given to `Server::add_file_descriptor_set`.

use bytes::Bytes;
use grpc_core::ServerBuilder;
use http::{Request, StatusCode};
use prost::Message as _;
use rustgrpc_tests::raw::runtime;
use rustgrpc_tests::web::{self, Client, VERSIONS, Version, envelope, envelopes, full};
use rustgrpc_tests::{EchoRequest, TESTING_DESCRIPTOR_SET, TestServer, echo};
use serde_json::{Value, json};

const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const SERVER_STREAM: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";

/// A server that knows the testing descriptors; with `get_allowed`, its
/// `UnaryCall` is marked `idempotency_level = NO_SIDE_EFFECTS`.
fn json_server(get_allowed: bool) -> TestServer {
    let server = TestServer::start_with(ServerBuilder::new());
    let mut set = prost_types::FileDescriptorSet::decode(TESTING_DESCRIPTOR_SET).unwrap();
    if get_allowed {
        for file in &mut set.file {
            for service in &mut file.service {
                for method in &mut service.method {
                    if method.name() == "UnaryCall" {
                        let options = method.options.get_or_insert_with(Default::default);
                        options.idempotency_level = Some(1); // NO_SIDE_EFFECTS
                    }
                }
            }
        }
    }
    server
        .server()
        .add_file_descriptor_set(&set.encode_to_vec())
        .unwrap();
    server
}

fn post_json(path: &str, body: &Value) -> Request<web::Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(full(body.to_string()))
        .unwrap()
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("{error}: {:?}", String::from_utf8_lossy(body)))
}

#[test]
fn unary_json_over_http1_and_http2() {
    let server = json_server(false);
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let request = json!({"message": "hi", "responseSize": 3, "initialMetadata": []});
            let (head, body) = client.call(post_json(UNARY, &request)).await;
            assert_eq!(head.status, StatusCode::OK, "{version:?}");
            assert_eq!(head.headers["content-type"], "application/json");
            let reply = parse(&body);
            assert_eq!(reply["message"], "hi");
            assert_eq!(reply["payload"], "cnJy", "bytes are base64 in JSON");
            assert!(reply["peer"].as_str().unwrap().starts_with("ipv4:"));
            assert!(reply.get("hasDeadline").is_none(), "defaults are left out");
        }
    });
}

/// A server whose only service is built by hand (`ServiceBuilder`, no
/// generated code): no descriptors are registered for it.
fn bare_server() -> (grpc_core::Server, u16) {
    let mut service = grpc_core::ServiceBuilder::new("bare.Test");
    service.unary_unary("Echo", |text: String, _: &grpc_core::ServicerContext| {
        Ok::<_, grpc_core::Status>(text)
    });
    let server = ServerBuilder::new().build();
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    (server, port)
}

#[test]
fn bad_json_is_invalid_argument_and_unknown_descriptors_are_415() {
    let server = json_server(false);
    let (bare, bare_port) = bare_server();
    runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http1).await;
        for body in [
            "{",
            "[1,2]",
            "{\"message\": 5}",
            "{\"responseCount\": \"many\"}",
        ] {
            let request = Request::post(UNARY)
                .header("content-type", "application/json")
                .body(full(body))
                .unwrap();
            let (head, reply) = client.call(request).await;
            assert_eq!(head.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(parse(&reply)["code"], "invalid_argument");
        }
        let mut client = Client::connect(bare_port, Version::Http1).await;
        let (head, _) = client.call(post_json("/bare.Test/Echo", &json!({}))).await;
        assert_eq!(head.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    });
    bare.stop(None).wait();
}

#[test]
fn streaming_json_envelopes() {
    let server = json_server(false);
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(server.port(), version).await;
            let message = json!({"message": "s", "responseCount": 2}).to_string();
            let request = Request::post(SERVER_STREAM)
                .header("content-type", "application/connect+json")
                .body(full(envelope(0, message.as_bytes())))
                .unwrap();
            let (head, body) = client.call(request).await;
            assert_eq!(head.headers["content-type"], "application/connect+json");
            let parts = envelopes(&body);
            assert_eq!(parts.len(), 3, "{version:?}");
            assert_eq!(parse(&parts[0].1)["message"], "s");
            assert_eq!(parse(&parts[1].1)["index"], 1);
            assert_eq!(parts[2].0, 2);
            assert_eq!(parse(&parts[2].1), json!({}));
        }
    });
}

#[test]
fn get_for_methods_without_side_effects() {
    let allowed = json_server(true);
    let refused = json_server(false);
    runtime().block_on(async {
        for version in VERSIONS {
            let mut client = Client::connect(allowed.port(), version).await;
            let uri =
                format!("{UNARY}?encoding=json&message=%7B%22message%22%3A%22got%22%7D&connect=v1");
            let (head, body) = client
                .call(Request::get(uri).body(full(Bytes::new())).unwrap())
                .await;
            assert_eq!(head.status, StatusCode::OK, "{version:?}");
            assert_eq!(parse(&body)["message"], "got");

            // Protobuf, base64url without padding: EchoRequest{message: "world"}.
            let uri = format!("{UNARY}?encoding=proto&base64=1&message=CgV3b3JsZA&connect=v1");
            let (head, body) = client
                .call(Request::get(uri).body(full(Bytes::new())).unwrap())
                .await;
            assert_eq!(head.status, StatusCode::OK);
            let reply = rustgrpc_tests::EchoResponse::decode(body).unwrap();
            assert_eq!(reply.message, "world");

            let (head, _) = client
                .call(
                    Request::get(format!("{UNARY}?encoding=json"))
                        .body(full(Bytes::new()))
                        .unwrap(),
                )
                .await;
            assert_eq!(head.status, StatusCode::BAD_REQUEST);
        }
        let mut client = Client::connect(refused.port(), Version::Http1).await;
        let uri = format!("{UNARY}?encoding=json&message=%7B%7D");
        let (head, _) = client
            .call(Request::get(uri).body(full(Bytes::new())).unwrap())
            .await;
        assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);
    });
    let _ = echo("");
    let _ = EchoRequest::default();
}
