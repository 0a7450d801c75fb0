//! TLS rows: rustgrpc (rustls, ring) against tonic (`tls-ring`), each
//! framework's async client against its own async server in this process,
//! over plaintext and TLS, with certificates generated for the run.
//!
//! ```text
//! cargo run --release -p rustgrpc-bench --bin bench-tls -- [--duration SECS]
//! ```
//!
//! Rows: unary calls/s (10 B, 64 in flight, one connection), server
//! streaming messages/s (16 B messages, one stream), and new connections/s
//! (connect, handshake, one unary call, close; one at a time).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rustgrpc_bench::pb::{rg, tn};
use rustgrpc_bench::servers::{self, RunningServer, ServerImpl, TlsPem};

/// The name the server certificate carries.
const SERVER_NAME: &str = "bench.test";
/// Unary calls in flight.
const IN_FLIGHT: usize = 64;
/// Messages per streaming call.
const STREAM_COUNT: u32 = 100_000;

/// A test PKI: the CA's PEM and the server's certificate and key.
fn pki() -> Result<(String, TlsPem), rcgen::Error> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate()?;
    let cert =
        rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])?.signed_by(&key, &issuer)?;
    Ok((
        ca_cert.pem(),
        TlsPem {
            chain: cert.pem(),
            key: key.serialize_pem(),
        },
    ))
}

/// How one framework connects: plaintext, or TLS trusting `ca`.
#[derive(Clone)]
enum Security {
    Plain,
    Tls(String),
}

async fn rustgrpc_stub(port: u16, security: &Security) -> Result<rg::BenchStub, String> {
    let builder = grpc_core::ChannelBuilder::new(format!("127.0.0.1:{port}"));
    let builder = match security {
        Security::Plain => builder,
        Security::Tls(ca) => {
            let credentials = grpc_core::ssl_channel_credentials(Some(ca.as_bytes()), None, None)
                .map_err(|error| error.to_string())?;
            builder
                .secure(&credentials)
                .ssl_target_name_override(SERVER_NAME)
        }
    };
    let channel = builder.build().map_err(|error| error.to_string())?;
    Ok(rg::BenchStub::new(channel))
}

async fn tonic_client(
    port: u16,
    security: &Security,
) -> Result<tn::bench_client::BenchClient<tonic::transport::Channel>, String> {
    let channel = match security {
        Security::Plain => {
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .map_err(|error| error.to_string())?
        }
        Security::Tls(ca) => {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                .domain_name(SERVER_NAME);
            tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
                .map_err(|error| error.to_string())?
                .tls_config(tls)
                .map_err(|error| error.to_string())?
        }
    }
    .connect()
    .await
    .map_err(|error| error.to_string())?;
    Ok(tn::bench_client::BenchClient::new(channel))
}

/// One framework's client side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framework {
    Rustgrpc,
    Tonic,
}

/// Unary calls/s with `IN_FLIGHT` callers on one connection.
async fn unary_rate(
    framework: Framework,
    port: u16,
    security: &Security,
    duration: Duration,
) -> Result<f64, String> {
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let rustgrpc = rustgrpc_stub(port, security).await?;
    let tonic = if framework == Framework::Tonic {
        Some(tonic_client(port, security).await?)
    } else {
        None
    };
    // Warm the connection first.
    let payload = || rg::Payload { body: vec![0; 10] };
    if framework == Framework::Rustgrpc {
        rustgrpc
            .unary()
            .call_async(payload())
            .await
            .map_err(|error| error.to_string())?;
    }
    let started = Instant::now();
    for _ in 0..IN_FLIGHT {
        let (calls, stop) = (Arc::clone(&calls), Arc::clone(&stop));
        let unary = rustgrpc.unary();
        let mut tonic = tonic.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match tonic.as_mut() {
                    Some(client) => client
                        .unary(tn::Payload { body: vec![0; 10] })
                        .await
                        .is_ok(),
                    None => unary
                        .call_async(rg::Payload { body: vec![0; 10] })
                        .await
                        .is_ok(),
                };
                if ok {
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in tasks {
        let _ = task.await;
    }
    Ok(calls.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// Server-streaming messages/s on one stream of `STREAM_COUNT` messages.
async fn stream_rate(framework: Framework, port: u16, security: &Security) -> Result<f64, String> {
    let started;
    let mut received = 0u64;
    match framework {
        Framework::Rustgrpc => {
            let stub = rustgrpc_stub(port, security).await?;
            stub.unary()
                .call_async(rg::Payload::default())
                .await
                .map_err(|error| error.to_string())?;
            started = Instant::now();
            let request = rg::StreamRequest {
                count: STREAM_COUNT,
                size: 16,
            };
            let mut stream = stub
                .server_stream()
                .call_async(request)
                .await
                .map_err(|error| error.to_string())?;
            while let Some(message) = stream.next().await {
                message.map_err(|error| error.to_string())?;
                received += 1;
            }
        }
        Framework::Tonic => {
            let mut client = tonic_client(port, security).await?;
            started = Instant::now();
            let request = tn::StreamRequest {
                count: STREAM_COUNT,
                size: 16,
            };
            let mut stream = client
                .server_stream(request)
                .await
                .map_err(|error| error.to_string())?
                .into_inner();
            while let Some(message) = stream.next().await {
                message.map_err(|error| error.to_string())?;
                received += 1;
            }
        }
    }
    Ok(received as f64 / started.elapsed().as_secs_f64())
}

/// New connections/s: connect (and handshake), one unary call, close.
async fn connection_rate(
    framework: Framework,
    port: u16,
    security: &Security,
    duration: Duration,
) -> Result<f64, String> {
    let started = Instant::now();
    let mut connections = 0u64;
    while started.elapsed() < duration {
        match framework {
            Framework::Rustgrpc => {
                let stub = rustgrpc_stub(port, security).await?;
                stub.unary()
                    .call_async(rg::Payload::default())
                    .await
                    .map_err(|error| error.to_string())?;
            }
            Framework::Tonic => {
                let mut client = tonic_client(port, security).await?;
                client
                    .unary(tn::Payload::default())
                    .await
                    .map_err(|error| error.to_string())?;
            }
        }
        connections += 1;
    }
    Ok(connections as f64 / started.elapsed().as_secs_f64())
}

fn start(
    framework: Framework,
    security: &Security,
    pem: &TlsPem,
) -> std::io::Result<RunningServer> {
    let imp = match framework {
        Framework::Rustgrpc => ServerImpl::RustgrpcAsync,
        Framework::Tonic => ServerImpl::Tonic,
    };
    match security {
        Security::Plain => servers::start(imp, 0),
        Security::Tls(_) => servers::start_tls(imp, pem),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = match args.as_slice() {
        [flag, value] if flag == "--duration" => value.parse::<f64>()?,
        [] => 5.0,
        _ => return Err("usage: bench-tls [--duration SECS]".into()),
    };
    let duration = Duration::from_secs_f64(seconds);
    let (ca, pem) = pki()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "| row | rustgrpc plain | rustgrpc TLS | tonic plain | tonic TLS | TLS: rustgrpc / tonic |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    type Row = (&'static str, usize);
    let rows: [Row; 3] = [
        ("unary 10 B, 64 in flight (calls/s)", 0),
        ("server streaming 16 B (msgs/s)", 1),
        ("new connections (conns/s)", 2),
    ];
    for (name, row) in rows {
        let mut cells = Vec::new();
        for framework in [Framework::Rustgrpc, Framework::Tonic] {
            for security in [Security::Plain, Security::Tls(ca.clone())] {
                let server = start(framework, &security, &pem)?;
                let value = runtime.block_on(async {
                    match row {
                        0 => unary_rate(framework, server.port, &security, duration).await,
                        1 => stream_rate(framework, server.port, &security).await,
                        _ => connection_rate(framework, server.port, &security, duration).await,
                    }
                })?;
                drop(server);
                cells.push(value);
            }
        }
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}x |",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[1] / cells[3]
        );
    }
    Ok(())
}
