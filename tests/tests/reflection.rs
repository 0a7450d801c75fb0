//! Server reflection (`grpc-reflection`) over real sockets: our own v1 and
//! v1alpha clients, grpcio-reflection's `ProtoReflectionDescriptorDatabase`,
//! and `buf curl --reflect` calling a method whose proto it does not have.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use grpc_core::{Code, Server, ServicerContext, Status};
use grpc_reflection::v1::server_reflection_request::MessageRequest;
use grpc_reflection::v1::server_reflection_response::MessageResponse;
use grpc_reflection::v1::{
    ExtensionRequest, ServerReflectionRequest, ServerReflectionResponse, ServerReflectionStub,
};
use prost::Message;
use prost_types::FileDescriptorProto;
use rustgrpc_tests::peers::{self, LineChild, python_script};

/// The reflection tests' service (`proto/reflection_test/`).
#[allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
mod demo {
    include!(concat!(env!("OUT_DIR"), "/rustgrpc.reflection_test.rs"));
}

const DEMO: &str = "rustgrpc.reflection_test.Demo";
const BASE: &str = "rustgrpc.reflection_test.Base";

struct Greeter;

impl demo::DemoServicer for Greeter {
    fn greet(&self, request: demo::Base, _context: &ServicerContext) -> Result<demo::Base, Status> {
        Ok(demo::Base {
            name: Some(format!("Hello, {}!", request.name())),
            nothing: None,
        })
    }
}

fn target_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
}

/// A started server with the demo service, health and reflection.
fn reflected_server() -> (Server, String) {
    let server = Server::builder().max_workers(2).build();
    demo::add_demo_servicer_to_server(Greeter, &server);
    grpc_health::add_health_servicer_to_server(&server);
    grpc_reflection::Builder::new()
        .register(demo::FILE_DESCRIPTOR_SET)
        .register(grpc_health::v1::FILE_DESCRIPTOR_SET)
        .serve(&server)
        .expect("descriptors decode");
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    (server, format!("127.0.0.1:{port}"))
}

/// One reflection stream: a request in, its answer out.
struct Session {
    requests: mpsc::Sender<ServerReflectionRequest>,
    responses: grpc_core::ResponseIterator<ServerReflectionResponse>,
}

impl Session {
    fn v1(address: &str) -> Session {
        let channel = grpc_core::insecure_channel(address).expect("channel");
        let (requests, rx) = mpsc::channel();
        let responses = ServerReflectionStub::new(channel)
            .server_reflection_info()
            .call(rx)
            .expect("stream starts");
        Session {
            requests,
            responses,
        }
    }

    fn v1alpha(address: &str) -> Session {
        let channel = grpc_core::insecure_channel(address).expect("channel");
        let (requests, rx) = mpsc::channel();
        let responses = channel
            .stream_stream::<ServerReflectionRequest, ServerReflectionResponse>(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            )
            .call(rx)
            .expect("stream starts");
        Session {
            requests,
            responses,
        }
    }

    fn ask(&mut self, request: MessageRequest) -> MessageResponse {
        let request = ServerReflectionRequest {
            host: "reflection-test".to_owned(),
            message_request: Some(request),
        };
        self.requests.send(request.clone()).expect("stream open");
        let response = self
            .responses
            .next()
            .expect("an answer")
            .expect("answer, not a status");
        assert_eq!(response.valid_host, "reflection-test");
        assert_eq!(response.original_request, Some(request));
        response.message_response.expect("a message response")
    }

    /// The names of the files of a file descriptor response.
    fn files(&mut self, request: MessageRequest) -> Vec<String> {
        match self.ask(request) {
            MessageResponse::FileDescriptorResponse(files) => files
                .file_descriptor_proto
                .iter()
                .map(|bytes| {
                    FileDescriptorProto::decode(bytes.as_slice())
                        .expect("a FileDescriptorProto")
                        .name()
                        .to_owned()
                })
                .collect(),
            other => panic!("expected files, got {other:?}"),
        }
    }

    fn error(&mut self, request: MessageRequest) -> (i32, String) {
        match self.ask(request) {
            MessageResponse::ErrorResponse(error) => (error.error_code, error.error_message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

#[test]
fn lists_the_services_the_server_has() {
    let (server, address) = reflected_server();
    for mut session in [Session::v1(&address), Session::v1alpha(&address)] {
        let MessageResponse::ListServicesResponse(list) =
            session.ask(MessageRequest::ListServices(String::new()))
        else {
            panic!("expected a service list");
        };
        let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
                DEMO,
            ]
        );
    }
    server.stop(None).wait();
}

#[test]
fn files_come_with_their_imports_once_per_stream() {
    let (server, address) = reflected_server();
    let mut session = Session::v1(&address);
    let all = [
        "reflection_test/demo.proto",
        "reflection_test/base.proto",
        "google/protobuf/empty.proto",
    ];
    assert_eq!(
        session.files(MessageRequest::FileContainingSymbol(DEMO.to_owned())),
        all
    );
    // Asked again: the file itself, but no import twice.
    assert_eq!(
        session.files(MessageRequest::FileContainingSymbol(format!(
            ".{DEMO}.Greet"
        ))),
        ["reflection_test/demo.proto"]
    );
    assert_eq!(
        session.files(MessageRequest::FileByFilename(
            "reflection_test/base.proto".to_owned()
        )),
        ["reflection_test/base.proto"]
    );
    // A new stream starts afresh.
    let mut fresh = Session::v1alpha(&address);
    assert_eq!(
        fresh.files(MessageRequest::FileByFilename(
            "reflection_test/demo.proto".to_owned()
        )),
        all
    );
    for symbol in [
        BASE,
        "rustgrpc.reflection_test.Holder.Kind",
        "rustgrpc.reflection_test.weight",
        "rustgrpc.reflection_test.Holder.holder",
    ] {
        let files = fresh.files(MessageRequest::FileContainingSymbol(symbol.to_owned()));
        assert!(
            files[0].starts_with("reflection_test/"),
            "{symbol}: {files:?}"
        );
    }
    assert_eq!(
        fresh.files(MessageRequest::FileContainingSymbol(
            "grpc.health.v1.Health".to_owned()
        )),
        ["grpc/health/v1/health.proto"]
    );
    server.stop(None).wait();
}

#[test]
fn extensions_are_found_by_number() {
    let (server, address) = reflected_server();
    let mut session = Session::v1(&address);
    let extension = |number| {
        MessageRequest::FileContainingExtension(ExtensionRequest {
            containing_type: BASE.to_owned(),
            extension_number: number,
        })
    };
    assert_eq!(
        session.files(extension(100))[0],
        "reflection_test/demo.proto"
    );
    assert_eq!(
        session.files(extension(150)),
        ["reflection_test/demo.proto"]
    );
    let (code, message) = session.error(extension(101));
    assert_eq!(code, Code::NotFound as i32);
    assert!(message.contains("extension 101"), "{message}");

    let MessageResponse::AllExtensionNumbersResponse(numbers) =
        session.ask(MessageRequest::AllExtensionNumbersOfType(BASE.to_owned()))
    else {
        panic!("expected extension numbers");
    };
    assert_eq!(numbers.base_type_name, BASE);
    assert_eq!(numbers.extension_number, [100, 150]);
    server.stop(None).wait();
}

#[test]
fn unknown_names_get_error_responses_and_the_stream_goes_on() {
    let (server, address) = reflected_server();
    let mut session = Session::v1(&address);
    let cases = [
        MessageRequest::FileByFilename("nope.proto".to_owned()),
        MessageRequest::FileContainingSymbol("acme.Nope".to_owned()),
        MessageRequest::AllExtensionNumbersOfType("acme.Nope".to_owned()),
    ];
    for request in cases {
        let (code, message) = session.error(request);
        assert_eq!(code, Code::NotFound as i32);
        assert!(
            message.contains("nope") || message.contains("Nope"),
            "{message}"
        );
    }
    // An empty request is the client's mistake, answered in band.
    session
        .requests
        .send(ServerReflectionRequest::default())
        .expect("open");
    let response = session.responses.next().expect("answer").expect("ok");
    let Some(MessageResponse::ErrorResponse(error)) = response.message_response else {
        panic!("expected an error");
    };
    assert_eq!(error.error_code, Code::InvalidArgument as i32);
    // Still answering.
    assert_eq!(
        session.files(MessageRequest::FileByFilename(
            "google/protobuf/empty.proto".to_owned()
        )),
        ["google/protobuf/empty.proto"]
    );
    drop(session.requests);
    assert!(
        session.responses.next().is_none(),
        "the stream ends with OK"
    );
    server.stop(None).wait();
}

#[test]
fn bad_descriptor_sets_are_refused() {
    let server = Server::builder().build();
    let error = grpc_reflection::Builder::new()
        .register(b"\xff\xff\xff")
        .serve(&server)
        .unwrap_err();
    assert!(error.is_decode(), "{error}");
    assert!(server.service_names().is_empty(), "nothing was registered");
    server.stop(None).wait();
}

#[test]
fn python_descriptor_database_finds_everything_and_calls() {
    let (server, address) = reflected_server();
    let mut command = python_script(target_dir(), "reflection_client.py");
    command.arg(&address);
    let peer = LineChild::spawn(command);
    assert_eq!(
        peer.rest(),
        [
            format!(
                "SERVICES grpc.health.v1.Health grpc.reflection.v1.ServerReflection \
                 grpc.reflection.v1alpha.ServerReflection {DEMO}"
            ),
            format!("METHOD {DEMO}.Greet {BASE} {BASE}"),
            "FILE reflection_test/demo.proto reflection_test/base.proto".to_owned(),
            "FIELDS name nothing".to_owned(),
            "NESTED rustgrpc.reflection_test.Holder.Kind".to_owned(),
            "EXTENSION_NUMBERS 100 150".to_owned(),
            "EXTENSION rustgrpc.reflection_test.Holder.holder".to_owned(),
            "MISSING rustgrpc.reflection_test.Missing".to_owned(),
            "REPLY Hello, python!".to_owned(),
        ]
    );
    server.stop(None).wait();
}

/// Runs `buf curl` (plaintext HTTP/2, gRPC, schema by reflection).
fn buf_curl(args: &[&str]) -> String {
    let buf: PathBuf = peers::buf(target_dir()).to_path_buf();
    let output = Command::new(&buf)
        .args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"])
        .args(args)
        .env("BUF_CACHE_DIR", target_dir().join("tmp/buf-cache"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run buf");
    assert!(
        output.status.success(),
        "buf curl {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn buf_curl_lists_and_calls_without_the_protos() {
    let (server, address) = reflected_server();
    let base = format!("http://{address}");
    let services = buf_curl(&["--list-services", &base]);
    let services: Vec<&str> = services.lines().collect();
    assert!(services.contains(&DEMO), "{services:?}");
    assert!(services.contains(&"grpc.health.v1.Health"), "{services:?}");

    let methods = buf_curl(&["--list-methods", &base]);
    assert!(
        methods.lines().any(|m| m == format!("{DEMO}/Greet")),
        "{methods}"
    );

    for protocol in ["grpc-v1", "grpc-v1alpha"] {
        let reply = buf_curl(&[
            "--reflect-protocol",
            protocol,
            "-d",
            r#"{"name": "buf"}"#,
            &format!("{base}/{DEMO}/Greet"),
        ]);
        assert!(
            reply.contains(r#""name": "Hello, buf!""#),
            "{protocol}: {reply}"
        );
    }
    let health = buf_curl(&["-d", "{}", &format!("{base}/grpc.health.v1.Health/Check")]);
    assert!(health.contains(r#""status": "SERVING""#), "{health}");
    server.stop(None).wait();
}

/// Generated `add_*_servicer_to_server` of code with embedded descriptors
/// registers them: Connect's JSON reaches the demo service with no
/// `add_file_descriptor_set` on the server.
#[test]
fn generated_code_registers_its_descriptors_for_connect_json() {
    use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
    let server = Server::builder().max_workers(2).build();
    demo::add_demo_servicer_to_server(Greeter, &server);
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    for http in [HttpVersion::Http1, HttpVersion::Http2] {
        let protocol = ClientProtocol::connect_json()
            .http_version(http)
            .add_file_descriptor_set(demo::FILE_DESCRIPTOR_SET);
        let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
            .protocol(protocol)
            .build()
            .expect("channel");
        let reply = demo::DemoStub::new(channel)
            .greet()
            .call(demo::Base {
                name: Some("json".into()),
                nothing: None,
            })
            .unwrap_or_else(|error| panic!("{http:?}: {error:?}"));
        assert_eq!(reply.name(), "Hello, json!", "{http:?}");
    }
    server.stop(None).wait();
}
