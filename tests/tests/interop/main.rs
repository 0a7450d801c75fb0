//! The interop matrix: the standard gRPC interop cases in five directions,
//! rustgrpc against itself, Python grpcio (the C core) and tonic.
//!
//! | direction            | client                           | server                           |
//! | -------------------- | -------------------------------- | -------------------------------- |
//! | rustgrpc -> rustgrpc | `rustgrpc_examples::interop`     | `rustgrpc_examples::interop`     |
//! | rustgrpc -> grpcio   | `rustgrpc_examples::interop`     | `tests/python/interop_server.py` |
//! | grpcio -> rustgrpc   | `tests/python/interop_client.py` | `rustgrpc_examples::interop`     |
//! | rustgrpc -> tonic    | `rustgrpc_examples::interop`     | [`tonic_peer`]                   |
//! | tonic -> rustgrpc    | [`tonic_peer`]                   | `rustgrpc_examples::interop`     |
//!
//! The Python side runs in a virtualenv that `scripts/python-env.sh`
//! creates under `target/py-venv` (grpcio and grpcio-tools from PyPI) the
//! first time. The matrix is printed (`--nocapture` shows it) and every
//! cell must pass. `docs/interop.md` explains where the peers differ.

mod python;
mod reliability;
mod tap;
mod tls;
mod tonic_peer;

use std::time::{Duration, Instant};

use grpc_core::{CallOptions, Code, Compression, Server};
use rustgrpc_examples::interop::pb::{BoolValue, Payload, SimpleRequest, TestServiceStub};
use rustgrpc_examples::interop::{self, InteropClient, TestCase};

use python::PythonEnv;
use tonic_peer::TonicServer;

/// One case's outcome in one direction.
type Outcome = Result<(), String>;

/// Our interop server on a free port, stopped when dropped.
struct OurServer {
    server: Server,
    port: u16,
}

impl OurServer {
    fn start() -> OurServer {
        let server = interop::server(Server::builder());
        let port = server
            .add_insecure_port("127.0.0.1:0")
            .expect("bind a port for the rustgrpc server");
        server.start().expect("start the rustgrpc server");
        OurServer { server, port }
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.server.stop(Some(Duration::from_secs(1))).wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for tonic")
}

/// Runs every case with our client against `port`.
fn run_ours(port: u16) -> Vec<(TestCase, Outcome)> {
    let client = InteropClient::new(&format!("127.0.0.1:{port}")).expect("a channel");
    run_all(&client)
}

/// Runs every case with `client`.
fn run_all(client: &InteropClient) -> Vec<(TestCase, Outcome)> {
    TestCase::ALL
        .into_iter()
        .map(|case| (case, client.run(case)))
        .collect()
}

/// Runs every case with the Python client against `port`.
fn run_python(python: &PythonEnv, port: u16, extra: &[String]) -> Vec<(TestCase, Outcome)> {
    let reported = python.run_client_with(port, extra);
    let mut outcomes: Vec<_> = TestCase::ALL
        .into_iter()
        .map(|case| {
            let outcome = reported
                .iter()
                .find(|(name, _)| name == case.name())
                .map_or_else(|| Err("not reported".to_owned()), |(_, o)| o.clone());
            (case, outcome)
        })
        .collect();
    if let Some((_, Err(reason))) = reported.iter().find(|(name, _)| name == "(client)") {
        for (_, outcome) in &mut outcomes {
            if outcome.is_err() {
                *outcome = Err(reason.clone());
            }
        }
    }
    outcomes
}

/// Runs every case with the tonic client against `port`.
fn run_tonic(runtime: &tokio::runtime::Runtime, port: u16) -> Vec<(TestCase, Outcome)> {
    run_tonic_with(runtime, port, None)
}

/// [`run_tonic`] over mutual TLS with `tls`.
fn run_tonic_with(
    runtime: &tokio::runtime::Runtime,
    port: u16,
    tls: Option<&tonic_peer::TonicTls>,
) -> Vec<(TestCase, Outcome)> {
    runtime.block_on(async {
        let channel = match tonic_peer::connect_with(port, tls).await {
            Ok(channel) => channel,
            Err(error) => {
                return TestCase::ALL
                    .into_iter()
                    .map(|case| (case, Err(error.clone())))
                    .collect();
            }
        };
        let mut outcomes = Vec::new();
        for case in TestCase::ALL {
            let outcome = tokio::time::timeout(
                Duration::from_secs(60),
                tonic_peer::run_case(&channel, case),
            )
            .await
            .unwrap_or_else(|_| Err("no outcome within 60 s".to_owned()));
            outcomes.push((case, outcome));
        }
        outcomes
    })
}

struct Direction {
    name: &'static str,
    outcomes: Vec<(TestCase, Outcome)>,
    took: Duration,
}

fn timed(name: &'static str, run: impl FnOnce() -> Vec<(TestCase, Outcome)>) -> Direction {
    let started = Instant::now();
    let outcomes = run();
    Direction {
        name,
        outcomes,
        took: started.elapsed(),
    }
}

fn print_matrix(directions: &[Direction]) {
    let width = TestCase::ALL
        .iter()
        .map(|case| case.name().len())
        .max()
        .unwrap_or(0);
    let mut table = format!("\n{:width$}", "case");
    for direction in directions {
        table.push_str(&format!(" | {:^20}", direction.name));
    }
    table.push('\n');
    table.push_str(&"-".repeat(width + directions.len() * 23));
    table.push('\n');
    for (row, case) in TestCase::ALL.iter().enumerate() {
        table.push_str(&format!("{:width$}", case.name()));
        for direction in directions {
            let cell = match &direction.outcomes[row].1 {
                Ok(()) => "pass",
                Err(_) => "FAIL",
            };
            table.push_str(&format!(" | {cell:^20}"));
        }
        table.push('\n');
    }
    table.push_str(&format!("{:width$}", "passed"));
    for direction in directions {
        let passed = direction.outcomes.iter().filter(|(_, o)| o.is_ok()).count();
        let cell = format!("{passed}/{}", direction.outcomes.len());
        table.push_str(&format!(" | {cell:^20}"));
    }
    table.push('\n');
    table.push_str(&format!("{:width$}", "time"));
    for direction in directions {
        let cell = format!("{:.2?}", direction.took);
        table.push_str(&format!(" | {cell:^20}"));
    }
    println!("{table}");
}

#[test]
fn interop_matrix() {
    let started = Instant::now();
    let python = PythonEnv::get();
    let runtime = runtime();
    let ours = OurServer::start();
    let grpcio = python.start_server(true);
    let tonic = TonicServer::start(&runtime);

    let directions = [
        timed("rustgrpc -> rustgrpc", || run_ours(ours.port)),
        timed("rustgrpc -> grpcio", || run_ours(grpcio.port())),
        timed("grpcio -> rustgrpc", || run_python(python, ours.port, &[])),
        timed("rustgrpc -> tonic", || run_ours(tonic.port())),
        timed("tonic -> rustgrpc", || run_tonic(&runtime, ours.port)),
    ];
    print_matrix(&directions);
    println!("interop matrix took {:.1?}", started.elapsed());

    let failures: Vec<String> = directions
        .iter()
        .flat_map(|direction| {
            direction
                .outcomes
                .iter()
                .filter_map(move |(case, outcome)| {
                    outcome
                        .as_ref()
                        .err()
                        .map(|reason| format!("{} / {case}: {reason}", direction.name))
                })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} interop cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// 5 MiB: over every implementation's default 4 MiB receive limit.
const OVERSIZED: usize = 5 << 20;

/// An error's code name and details, for the reports.
fn code_and_details(error: grpc_core::RpcError) -> (String, String) {
    (error.code().name().to_owned(), error.details().to_owned())
}

fn describe<T>(outcome: Result<T, (String, String)>) -> String {
    match outcome {
        Ok(_) => "OK".to_owned(),
        Err((code, details)) => format!("{code} {details:?}"),
    }
}

/// What each implementation answers for a message over its receive limit,
/// sent plain and as a small gzip bomb (the limit applies after
/// decompression). Ours and grpcio's must say `RESOURCE_EXHAUSTED`;
/// tonic's answers are printed for `docs/interop.md`.
#[test]
fn oversized_messages_across_implementations() {
    let python = PythonEnv::get();
    let runtime = runtime();
    let ours = OurServer::start();
    // grpcio decompressing by itself, as a plain grpcio server does.
    let grpcio = python.start_server(false);
    let tonic = TonicServer::start(&runtime);

    let oversized = SimpleRequest {
        payload: Some(Payload {
            r#type: 0,
            body: vec![0; OVERSIZED],
        }),
        ..SimpleRequest::default()
    };
    let mut report = String::from("\nserver answers to a 5 MiB request (our client):\n");
    for (name, port) in [
        ("rustgrpc", ours.port),
        ("grpcio", grpcio.port()),
        ("tonic", tonic.port()),
    ] {
        let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).unwrap();
        let stub = TestServiceStub::new(channel);
        for compression in [Compression::Identity, Compression::Gzip] {
            let outcome = stub
                .unary_call()
                .with_options(
                    CallOptions::new()
                        .timeout(Duration::from_secs(20))
                        .compression(compression),
                )
                .call(oversized.clone());
            if name != "tonic" {
                let err = outcome
                    .as_ref()
                    .expect_err("an oversized request must fail");
                assert_eq!(
                    err.code(),
                    Code::ResourceExhausted,
                    "{name} server, {compression:?}: {err:?}"
                );
            }
            report.push_str(&format!(
                "  {name:8} {:8} {}\n",
                compression.name(),
                describe(outcome.map_err(code_and_details))
            ));
        }
    }

    report.push_str("client answers to a 5 MiB response (from the rustgrpc server):\n");
    for compressed in [false, true] {
        let request = SimpleRequest {
            response_size: OVERSIZED as i32,
            response_compressed: Some(BoolValue { value: compressed }),
            ..SimpleRequest::default()
        };
        let label = if compressed { "gzip" } else { "identity" };
        let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{}", ours.port)).unwrap();
        let ours_outcome = TestServiceStub::new(channel)
            .unary_call()
            .with_options(CallOptions::new().timeout(Duration::from_secs(20)))
            .call(request.clone());
        let err = ours_outcome
            .as_ref()
            .expect_err("an oversized response must fail");
        assert_eq!(err.code(), Code::ResourceExhausted, "{label}: {err:?}");
        report.push_str(&format!(
            "  {:8} {label:8} {}\n",
            "rustgrpc",
            describe(ours_outcome.map_err(code_and_details))
        ));

        let grpcio_outcome = python.oversized_response(ours.port, compressed);
        assert!(
            grpcio_outcome.starts_with("RESOURCE_EXHAUSTED"),
            "grpcio client, {label}: {grpcio_outcome}"
        );
        report.push_str(&format!("  {:8} {label:8} {grpcio_outcome}\n", "grpcio"));

        let tonic_outcome = runtime.block_on(tonic_peer::oversized_response(ours.port, compressed));
        report.push_str(&format!(
            "  {:8} {label:8} {}\n",
            "tonic",
            describe(tonic_outcome)
        ));
    }
    println!("{report}");
}

/// A raw HTTP/2 exchange with a server: what comes back for `headers` and
/// `body`, held open (no END_STREAM) when `half_close` is false.
struct RawAnswer {
    status: String,
    message: String,
    accept_encoding: String,
}

fn raw_call(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    half_close: bool,
    wait: Duration,
) -> RawAnswer {
    let runtime = runtime();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(connection);
        let mut request = http::Request::post(format!("http://127.0.0.1:{port}{path}"))
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
        let _ = send.send_data(bytes::Bytes::from(body), half_close);
        let response = response.await.unwrap();
        let (parts, mut body) = response.into_parts();
        while let Some(chunk) = body.data().await {
            let Ok(chunk) = chunk else { break };
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body.trailers().await.ok().flatten().unwrap_or_default();
        let find = |name: &str| {
            trailers
                .get(name)
                .or_else(|| parts.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        drop(send);
        RawAnswer {
            status: find("grpc-status"),
            message: find("grpc-message"),
            accept_encoding: find("grpc-accept-encoding"),
        }
    };
    runtime.block_on(async {
        tokio::time::timeout(wait, exchange)
            .await
            .unwrap_or_else(|_| RawAnswer {
                status: "none".to_owned(),
                message: format!("no status within {wait:?}"),
                accept_encoding: String::new(),
            })
    })
}

/// A framed, uncompressed message.
fn framed(message: &impl prost::Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut out = vec![0];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

/// What each server answers on the wire to an encoding it does not
/// support and to a deadline that passes. Ours must follow the spec
/// (UNIMPLEMENTED with `grpc-accept-encoding`; DEADLINE_EXCEEDED), and
/// grpcio's deadline answers must too; the rest is printed for
/// `docs/interop.md`.
#[test]
fn wire_answers_across_implementations() {
    use rustgrpc_examples::interop::pb::{StreamingInputCallRequest, StreamingOutputCallRequest};
    let python = PythonEnv::get();
    let runtime = runtime();
    let ours = OurServer::start();
    let grpcio = python.start_server(false);
    let tonic = TonicServer::start(&runtime);
    let deadline = [("grpc-timeout", "200m")];
    let wait = Duration::from_millis(1500);

    let mut report = String::from("\nserver answers on the wire:\n");
    let mut answers = Vec::new();
    for (name, port) in [
        ("rustgrpc", ours.port),
        ("grpcio", grpcio.port()),
        ("tonic", tonic.port()),
    ] {
        let mut compressed = framed(&SimpleRequest::default());
        compressed[0] = 1;
        let snappy = raw_call(
            port,
            "/grpc.testing.TestService/UnaryCall",
            &[("grpc-encoding", "snappy")],
            compressed,
            true,
            wait,
        );
        // A client stream left open past its deadline: the handler waits.
        let open_input = raw_call(
            port,
            "/grpc.testing.TestService/StreamingInputCall",
            &deadline,
            framed(&StreamingInputCallRequest::default()),
            false,
            wait,
        );
        // A bidi stream asking for nothing, left open past its deadline.
        let open_duplex = raw_call(
            port,
            "/grpc.testing.TestService/FullDuplexCall",
            &deadline,
            framed(&StreamingOutputCallRequest::default()),
            false,
            wait,
        );
        report.push_str(&format!(
            "  {name:8} unknown grpc-encoding:   {} {:?}, grpc-accept-encoding {:?}\n",
            snappy.status, snappy.message, snappy.accept_encoding
        ));
        for (what, answer) in [
            ("client stream", &open_input),
            ("bidi stream", &open_duplex),
        ] {
            report.push_str(&format!(
                "  {name:8} deadline, {what:13}: {} {:?}\n",
                answer.status, answer.message
            ));
        }
        answers.push((name, snappy, open_input, open_duplex));
    }
    println!("{report}");
    for (name, snappy, open_input, open_duplex) in answers {
        if name == "rustgrpc" {
            assert_eq!(snappy.status, "12", "unsupported encoding");
            assert_eq!(snappy.accept_encoding, "identity,deflate,gzip");
        }
        if name != "tonic" {
            assert_eq!(open_input.status, "4", "{name}: passed deadline");
            assert_eq!(open_duplex.status, "4", "{name}: passed deadline");
        }
    }
}
