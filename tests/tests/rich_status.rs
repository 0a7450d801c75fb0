//! Rich errors (`grpc-status`): a `google.rpc.Status` with every standard
//! detail, over real sockets — Rust to Rust on the blocking and async
//! faces, and both ways against Python's `grpcio-status`
//! (`rpc_status.to_status` on a grpcio server, `rpc_status.from_call` on a
//! grpcio client; `tests/python/rich_status_peer.py`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use grpc_core::{Code, RpcError, Server, ServicerContext, Status};
use grpc_status::{
    Any, BadRequest, DebugInfo, Detail, ErrorInfo, Help, LocalizedMessage, PreconditionFailure,
    QuotaFailure, RequestInfo, ResourceInfo, RetryInfo, RichStatus, RichStatusError, RichStatusExt,
    bad_request, help, pb, precondition_failure, quota_failure,
};
use prost::Message;
use rustgrpc_examples::interop::pb::{
    AsyncTestServiceServicer, EchoStatus, Payload, SimpleRequest, SimpleResponse,
    TestServiceServicer, TestServiceStub, add_async_test_service_servicer_to_server,
    add_test_service_servicer_to_server,
};

/// How long a Python peer may take to start or to answer.
const PYTHON_LIMIT: Duration = Duration::from_secs(120);

/// A status with one detail of each standard type, and one of another type.
fn full_status() -> RichStatus {
    RichStatus::new(
        Code::FailedPrecondition,
        "the order cannot be placed: épuisé à 100% — 在庫切れ",
    )
    .with_error_info(ErrorInfo {
        reason: "STOCKOUT".into(),
        domain: "shop.example.com".into(),
        metadata: HashMap::from([
            ("zone".to_owned(), "eu-west1-b".to_owned()),
            ("sku".to_owned(), "A-42".to_owned()),
        ]),
    })
    .with_retry_info(RetryInfo {
        retry_delay: Some(grpc_status::Duration {
            seconds: 2,
            nanos: 500_000_000,
        }),
    })
    .with_debug_info(DebugInfo {
        stack_entries: vec!["place_order".into(), "reserve_stock".into()],
        detail: "stock level 0".into(),
    })
    .with_quota_failure(QuotaFailure {
        violations: vec![quota_failure::Violation {
            subject: "project:7".into(),
            description: "daily orders".into(),
            api_service: "shop.example.com".into(),
            quota_metric: "orders".into(),
            quota_id: "OrdersPerDay".into(),
            quota_dimensions: HashMap::from([("region".to_owned(), "eu".to_owned())]),
            quota_value: 100,
            future_quota_value: Some(200),
        }],
    })
    .with_precondition_failure(PreconditionFailure {
        violations: vec![precondition_failure::Violation {
            r#type: "TOS".into(),
            subject: "shop.example.com".into(),
            description: "terms not accepted".into(),
        }],
    })
    .with_bad_request(BadRequest {
        field_violations: vec![bad_request::FieldViolation {
            field: "items[0].count".into(),
            description: "must be positive".into(),
            reason: "NOT_POSITIVE".into(),
            localized_message: Some(LocalizedMessage {
                locale: "fr-CH".into(),
                message: "doit être positif".into(),
            }),
        }],
    })
    .with_request_info(RequestInfo {
        request_id: "req-1234".into(),
        serving_data: "shard 3".into(),
    })
    .with_resource_info(ResourceInfo {
        resource_type: "sku".into(),
        resource_name: "A-42".into(),
        owner: "warehouse".into(),
        description: "out of stock".into(),
    })
    .with_help(Help {
        links: vec![help::Link {
            description: "stock policy".into(),
            url: "https://shop.example.com/stock".into(),
        }],
    })
    .with_localized_message(LocalizedMessage {
        locale: "en-US".into(),
        message: "This item is out of stock.".into(),
    })
    .with_any(Any {
        type_url: "type.googleapis.com/grpc.testing.Payload".into(),
        value: Payload {
            r#type: 0,
            body: b"opaque".to_vec(),
        }
        .encode_to_vec(),
    })
}

/// A message longer than rustgrpc sends in `grpc-message`.
fn long_message() -> String {
    "x".repeat(5000)
}

/// The status the servicer fails with, chosen by
/// `request.response_status.message`.
fn status_for(case: &str) -> Status {
    match case {
        "rich" => full_status().into(),
        "long" => RichStatus::new(Code::Internal, long_message())
            .with_debug_info(DebugInfo::default())
            .into(),
        "mismatch" => Status::not_found("call message").with_binary_details(
            pb::Status {
                code: Code::NotFound.value(),
                message: "proto message".into(),
                details: Vec::new(),
            }
            .encode_to_vec(),
        ),
        "code-mismatch" => Status::internal("same").with_binary_details(
            pb::Status {
                code: Code::NotFound.value(),
                message: "same".into(),
                details: Vec::new(),
            }
            .encode_to_vec(),
        ),
        "garbage" => Status::internal("bad").with_binary_details(vec![0xff; 8]),
        _ => Status::not_found("plain"),
    }
}

/// Fails every `UnaryCall` with [`status_for`] its case; both faces.
struct RichServicer;

impl TestServiceServicer for RichServicer {
    fn unary_call(
        &self,
        request: SimpleRequest,
        context: &ServicerContext,
    ) -> Result<SimpleResponse, Status> {
        let case = case_of(&request);
        if case == "abort" {
            // grpcio's context.abort_with_status(rpc_status.to_status(..)),
            // with trailing metadata set before.
            let trailing = grpc_core::Metadata::from_pairs([("request-id", "7")])
                .map_err(|error| Status::internal(error.to_string()))?;
            context.set_trailing_metadata(trailing);
            return Err(context.abort_with_status(full_status().to_status()));
        }
        Err(status_for(&case))
    }
}

impl AsyncTestServiceServicer for RichServicer {
    async fn unary_call(
        &self,
        request: SimpleRequest,
        _context: &ServicerContext,
    ) -> Result<SimpleResponse, Status> {
        tokio::task::yield_now().await;
        Err(status_for(&case_of(&request)))
    }
}

fn case_of(request: &SimpleRequest) -> String {
    request
        .response_status
        .as_ref()
        .map(|status| status.message.clone())
        .unwrap_or_default()
}

fn request(case: &str) -> SimpleRequest {
    SimpleRequest {
        response_status: Some(EchoStatus {
            code: 0,
            message: case.into(),
        }),
        ..Default::default()
    }
}

/// A started blocking-face server on 127.0.0.1.
fn blocking_server() -> (Server, u16) {
    let server = Server::builder().max_workers(2).build();
    add_test_service_servicer_to_server(RichServicer, &server);
    let port = server
        .add_insecure_port("127.0.0.1:0")
        .expect("bind 127.0.0.1");
    server.start().expect("start the server");
    (server, port)
}

fn stub(port: u16) -> TestServiceStub {
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).expect("a channel");
    TestServiceStub::new(channel)
}

fn call_error(stub: &TestServiceStub, request: SimpleRequest) -> RpcError {
    match stub.unary_call().call(request) {
        Ok(response) => panic!("the call succeeded: {response:?}"),
        Err(error) => error,
    }
}

#[test]
fn blocking_faces_carry_every_detail() {
    let (server, port) = blocking_server();
    let error = call_error(&stub(port), request("rich"));
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(
        error.details(),
        "the order cannot be placed: épuisé à 100% — 在庫切れ"
    );
    let rich = grpc_status::from_call(&error)
        .expect("consistent")
        .expect("details");
    assert_eq!(rich, full_status());
    assert_eq!(rich.details().len(), 11);
    assert_eq!(rich.other_details().count(), 1);
    assert_eq!(
        rich.error_info().map(|info| info.reason.as_str()),
        Some("STOCKOUT")
    );
    assert_eq!(error.rich_status().ok().flatten(), Some(full_status()));
    server.stop(None).wait();
}

#[test]
fn async_faces_carry_every_detail() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let server = Server::builder().build();
        add_async_test_service_servicer_to_server(RichServicer, &server);
        let port = server
            .add_insecure_port("127.0.0.1:0")
            .expect("bind 127.0.0.1");
        server.start().expect("start the server");
        let error = match stub(port).unary_call().call_async(request("rich")).await {
            Ok(response) => panic!("the call succeeded: {response:?}"),
            Err(error) => error,
        };
        assert_eq!(
            grpc_status::from_call(&error).ok().flatten(),
            Some(full_status())
        );
        server.stop(None).await;
    });
}

#[test]
fn inconsistent_or_missing_details_are_reported() {
    let (server, port) = blocking_server();
    let stub = stub(port);

    let error = call_error(&stub, request("mismatch"));
    match grpc_status::from_call(&error) {
        Err(RichStatusError::MessageMismatch { proto, call }) => {
            assert_eq!(
                (proto.as_str(), call.as_str()),
                ("proto message", "call message")
            );
        }
        other => panic!("expected a message mismatch, got {other:?}"),
    }

    let error = call_error(&stub, request("code-mismatch"));
    assert!(matches!(
        grpc_status::from_call(&error),
        Err(RichStatusError::CodeMismatch {
            proto: 5,
            call: Code::Internal
        })
    ));

    let error = call_error(&stub, request("garbage"));
    let outcome = grpc_status::from_call(&error);
    assert!(
        matches!(outcome, Err(RichStatusError::Malformed(_))),
        "{outcome:?}"
    );

    let error = call_error(&stub, request("plain"));
    assert!(matches!(grpc_status::from_call(&error), Ok(None)));
    server.stop(None).wait();
}

#[test]
fn abort_with_status_keeps_details_and_trailing_metadata() {
    let (server, port) = blocking_server();
    let error = call_error(&stub(port), request("abort"));
    assert_eq!(error.trailing_metadata().get("request-id"), Some("7"));
    assert_eq!(
        error.rich_status().ok().flatten(),
        Some(full_status()),
        "{error:?}"
    );
    server.stop(None).wait();
}

#[test]
fn long_messages_stay_consistent() {
    let (server, port) = blocking_server();
    let error = call_error(&stub(port), request("long"));
    let rich = grpc_status::from_call(&error)
        .expect("consistent")
        .expect("details");
    assert!(rich.message().ends_with("... (truncated)"));
    assert!(rich.message().len() < long_message().len());
    assert!(rich.debug_info().is_some());
    server.stop(None).wait();
}

// ---- Python grpcio-status ----------------------------------------------

/// The grpcio server rebuilds the status the request carries with
/// `error_details_pb2` and sends it with `rpc_status.to_status`.
#[test]
fn grpcio_server_details_reach_our_client() {
    let python = PythonPeer::server();
    let stub = stub(python.port);
    let sent = full_status();
    let mut rich_request = request("rich");
    rich_request.payload = Some(Payload {
        r#type: 0,
        body: sent.to_proto().encode_to_vec(),
    });
    let error = call_error(&stub, rich_request);
    assert_eq!(error.code(), Code::FailedPrecondition);
    let received = grpc_status::from_call(&error).expect("consistent");
    assert_eq!(received, Some(sent));

    let error = call_error(&stub, request("mismatch"));
    assert!(matches!(
        grpc_status::from_call(&error),
        Err(RichStatusError::MessageMismatch { .. })
    ));
}

/// Our server's details, read by a grpcio client's `rpc_status.from_call`:
/// each detail is unpacked into its `error_details_pb2` class there and
/// serialized back by Python.
#[test]
fn our_server_details_reach_grpcio_client() {
    let (server, port) = blocking_server();

    let lines = python_client(port, "rich");
    let received = rebuild(&lines);
    assert_eq!(received, Ok(full_status()), "python said: {lines:#?}");
    let unpacked: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("DETAIL "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert_eq!(
        unpacked,
        [
            "google.rpc.ErrorInfo",
            "google.rpc.RetryInfo",
            "google.rpc.DebugInfo",
            "google.rpc.QuotaFailure",
            "google.rpc.PreconditionFailure",
            "google.rpc.BadRequest",
            "google.rpc.RequestInfo",
            "google.rpc.ResourceInfo",
            "google.rpc.Help",
            "google.rpc.LocalizedMessage",
        ]
    );

    let lines = python_client(port, "long");
    let long = rebuild(&lines);
    assert!(
        long.as_ref()
            .is_ok_and(|rich| rich.message().ends_with("... (truncated)")),
        "python said: {lines:#?}"
    );

    let lines = python_client(port, "mismatch");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("ERROR ValueError")),
        "python said: {lines:#?}"
    );

    let lines = python_client(port, "plain");
    assert_eq!(lines, ["NONE NOT_FOUND \"plain\""]);
    server.stop(None).wait();
}

/// The [`RichStatus`] the Python client printed (`STATUS`, `DETAIL`,
/// `OTHER` lines).
fn rebuild(lines: &[String]) -> Result<RichStatus, String> {
    let base64 = &base64::engine::general_purpose::STANDARD;
    let mut rich = None;
    for line in lines {
        let mut words = line.splitn(3, ' ');
        let (kind, first, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
        match (kind, first) {
            (Some("STATUS"), Some(code)) => {
                let code = code.parse::<i32>().map_err(|e| e.to_string())?;
                let message = rest
                    .strip_prefix('"')
                    .and_then(|m| m.strip_suffix('"'))
                    .ok_or_else(|| format!("not a plain JSON string: {rest}"))?;
                rich = Some(RichStatus::new(Code::from_i32(code), message));
            }
            (Some(kind @ ("DETAIL" | "OTHER")), Some(name)) => {
                let value = base64.decode(rest).map_err(|e| e.to_string())?;
                let type_url = if kind == "DETAIL" {
                    format!("type.googleapis.com/{name}")
                } else {
                    name.to_owned()
                };
                let detail =
                    Detail::from_any(Any { type_url, value }).map_err(|e| e.to_string())?;
                rich = rich.map(|rich| rich.with_detail(detail));
            }
            _ => return Err(format!("unexpected line: {line}")),
        }
    }
    rich.ok_or_else(|| "no STATUS line".to_owned())
}

// ---- the Python peer -----------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The virtualenv's python and the generated `grpc.testing` stubs, made
/// once per test process by `scripts/python-env.sh`.
fn python_env() -> &'static (PathBuf, PathBuf) {
    static ENV: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    ENV.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let target = tmp
            .parent()
            .map_or_else(|| repo_root().join("target"), Path::to_path_buf);
        let output = Command::new("bash")
            .arg(repo_root().join("scripts/python-env.sh"))
            .arg(&target)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/python-env.sh (bash is needed)");
        assert!(
            output.status.success(),
            "scripts/python-env.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let python = stdout.lines().last().unwrap_or_default().trim().to_owned();
        (PathBuf::from(python), target.join("py-interop-gen"))
    })
}

fn peer_command() -> Command {
    let (python, generated) = python_env();
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("tests/python/rich_status_peer.py"))
        .env("INTEROP_PROTO_GEN", generated)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// The lines `rich_status_peer.py client` prints for `case` against our
/// server on `port`.
fn python_client(port: u16, case: &str) -> Vec<String> {
    let mut child = peer_command()
        .args(["client", &port.to_string(), case])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python client");
    let lines = read_lines(&mut child).recv_timeout(PYTHON_LIMIT);
    if lines.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    lines.unwrap_or_else(|_| panic!("the Python client gave no answer in {PYTHON_LIMIT:?}"))
}

/// All of the child's stdout lines, sent once it closes.
fn read_lines(child: &mut Child) -> mpsc::Receiver<Vec<String>> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    rx
}

/// `rich_status_peer.py server`, stopped (stdin closed, then killed if need
/// be) when dropped.
struct PythonPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl PythonPeer {
    fn server() -> PythonPeer {
        let mut child = peer_command()
            .arg("server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("listening on port ") {
                    let _ = tx.send(port.trim().parse::<u16>());
                }
            }
        });
        match rx.recv_timeout(PYTHON_LIMIT) {
            Ok(Ok(port)) => PythonPeer {
                stdin: child.stdin.take(),
                child,
                port,
            },
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Python server did not start: {outcome:?}");
            }
        }
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
