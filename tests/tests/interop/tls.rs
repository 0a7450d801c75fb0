//! The interop matrix over mutual TLS: rustgrpc against itself, against
//! Python grpcio and against tonic (rustls), both ways, with certificates
//! generated for the run and the interop programs' TLS flags (grpc-go's
//! names).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use grpc_core::{ChannelBuilder, ClientAuth, Server};
use rustgrpc_examples::interop::{self, InteropClient};

#[path = "../tls/pki.rs"]
#[allow(dead_code)]
mod pki;

use super::python::PythonEnv;
use super::tonic_peer::{TonicServer, TonicTls};
use super::{Direction, print_matrix, run_all, run_python, run_tonic_with, runtime, timed};

/// The name every server certificate carries (the interop suite's).
const SERVER_NAME: &str = "foo.test.google.fr";

/// PEM files for one run, removed afterwards.
struct Pem {
    dir: PathBuf,
}

impl Pem {
    fn new() -> Pem {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("interop-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the PEM directory");
        Pem { dir }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write PEM");
        path.display().to_string()
    }
}

impl Drop for Pem {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn flags(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(name, value)| [format!("--{name}"), (*value).to_owned()])
        .collect()
}

#[test]
fn interop_matrix_over_mutual_tls() {
    let started = Instant::now();
    let ca = pki::Ca::new("interop ca");
    let server_pair = ca.leaf("server", &[SERVER_NAME]);
    let client_pair = ca.leaf("client", &["client.interop.test"]);
    let pem = Pem::new();
    let ca_file = pem.write("ca.pem", &ca.pem);
    let server_cert = pem.write("server.pem", &server_pair.chain);
    let server_key = pem.write("server.key", &server_pair.key);
    let client_cert = pem.write("client.pem", &client_pair.chain);
    let client_key = pem.write("client.key", &client_pair.key);

    // Our interop server, requiring client certificates.
    let credentials = grpc_core::ssl_server_credentials(
        [(server_pair.key.as_bytes(), server_pair.chain.as_bytes())],
        Some(ca.pem.as_bytes()),
        ClientAuth::Required,
    )
    .expect("server credentials");
    let ours = interop::server(Server::builder());
    let our_port = ours
        .add_secure_port("127.0.0.1:0", &credentials)
        .expect("bind");
    ours.start().expect("start");

    // grpcio's interop server, requiring client certificates too.
    let python = PythonEnv::get();
    let grpcio = python.start_server_with(
        true,
        &flags(&[
            ("use_tls", "true"),
            ("tls_cert_file", &server_cert),
            ("tls_key_file", &server_key),
            ("client_ca_file", &ca_file),
        ]),
    );

    let channel_credentials = grpc_core::ssl_channel_credentials(
        Some(ca.pem.as_bytes()),
        Some(client_pair.key.as_bytes()),
        Some(client_pair.chain.as_bytes()),
    )
    .expect("channel credentials");
    let our_client = |port: u16| {
        let builder = ChannelBuilder::new(format!("127.0.0.1:{port}"))
            .secure(&channel_credentials)
            .ssl_target_name_override(SERVER_NAME);
        InteropClient::with_builder(builder).expect("a TLS channel")
    };
    let python_flags = flags(&[
        ("use_tls", "true"),
        ("ca_file", &ca_file),
        ("server_host_override", SERVER_NAME),
        ("client_cert_file", &client_cert),
        ("client_key_file", &client_key),
    ]);

    // tonic's rustls server, requiring client certificates as well.
    let runtime = runtime();
    let tonic_tls = |pair: &pki::Pair| TonicTls {
        ca: ca.pem.clone(),
        cert: pair.chain.clone(),
        key: pair.key.clone(),
        server_name: SERVER_NAME.to_owned(),
    };
    let tonic = TonicServer::start_with(&runtime, Some(&tonic_tls(&server_pair)));
    let tonic_client = tonic_tls(&client_pair);

    let directions: [Direction; 5] = [
        timed("rustgrpc -> rustgrpc", || run_all(&our_client(our_port))),
        timed("rustgrpc -> grpcio", || run_all(&our_client(grpcio.port()))),
        timed("grpcio -> rustgrpc", || {
            run_python(python, our_port, &python_flags)
        }),
        timed("rustgrpc -> tonic", || run_all(&our_client(tonic.port()))),
        timed("tonic -> rustgrpc", || {
            run_tonic_with(&runtime, our_port, Some(&tonic_client))
        }),
    ];
    print_matrix(&directions);
    println!("interop matrix over mTLS took {:.1?}", started.elapsed());
    ours.stop(Some(Duration::from_secs(1))).wait();

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
        "{} interop cases failed over TLS:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
