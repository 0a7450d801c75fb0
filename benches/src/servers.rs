//! The benchmark servers, each with the same handler work: `Unary` echoes
//! the request, `ServerStream` sends `count` fresh messages of `size`
//! zero bytes, `PingPong` echoes each request message.
//!
//! - `rustgrpc-blocking`: generated `BenchServicer`, blocking handlers on the
//!   worker pool, sockets on rustgrpc's shared I/O runtime (the defaults).
//! - `rustgrpc-async`: generated `AsyncBenchServicer` (async handlers) on a
//!   default multi-thread tokio runtime.
//! - `tonic`: generated `bench_server::Bench` on a default multi-thread
//!   tokio runtime, `TCP_NODELAY` on as tonic's builder defaults to.
//! - `tonic-web`, `connect-rust`: the Connect / gRPC-Web peers
//!   ([`crate::peers`]).
//! - `h2-bare`: plain `h2` answering each request by echoing its body with
//!   `grpc-status: 0` — no gRPC library; the ceiling for anything on h2.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use grpc_core::{RequestStream, Requests, ServicerContext, Status};

use crate::pb::{rg, tn};

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerImpl {
    /// rustgrpc with blocking handlers (the generated servicer trait).
    RustgrpcBlocking,
    /// rustgrpc with async handlers.
    RustgrpcAsync,
    /// tonic.
    Tonic,
    /// A bare h2 echo server.
    H2Bare,
    /// tonic with tonic-web's gRPC-Web layer (HTTP/1.1 accepted).
    TonicWeb,
    /// connect-rust (crate `connectrpc`).
    ConnectRust,
}

impl ServerImpl {
    /// Every Rust server.
    pub const ALL: [ServerImpl; 6] = [
        ServerImpl::RustgrpcBlocking,
        ServerImpl::RustgrpcAsync,
        ServerImpl::Tonic,
        ServerImpl::H2Bare,
        ServerImpl::TonicWeb,
        ServerImpl::ConnectRust,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ServerImpl::RustgrpcBlocking => "rustgrpc-blocking",
            ServerImpl::RustgrpcAsync => "rustgrpc-async",
            ServerImpl::Tonic => "tonic",
            ServerImpl::H2Bare => "h2-bare",
            ServerImpl::TonicWeb => "tonic-web",
            ServerImpl::ConnectRust => "connect-rust",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Result<ServerImpl, String> {
        ServerImpl::ALL
            .into_iter()
            .find(|imp| imp.name() == name)
            .ok_or_else(|| format!("unknown server {name:?}"))
    }
}

/// A server running in this process; dropping it stops it.
pub struct RunningServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    server: Option<grpc_core::Server>,
    // Dropped after `server` is stopped: it drives the sockets.
    _runtime: Option<tokio::runtime::Runtime>,
}

impl RunningServer {
    /// A server that lives as long as `runtime` (no orderly stop).
    pub(crate) fn detached(port: u16, runtime: tokio::runtime::Runtime) -> RunningServer {
        RunningServer {
            port,
            server: None,
            _runtime: Some(runtime),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(None).wait();
        }
    }
}

/// Lets the server answer Connect's JSON (`scripts/bench-protocols.sh`).
fn json_descriptors(server: &grpc_core::Server) -> io::Result<()> {
    server
        .add_file_descriptor_set(rg::FILE_DESCRIPTOR_SET)
        .map_err(io::Error::other)
}

/// Starts `imp` on `127.0.0.1:port` (0 for any free port).
pub fn start(imp: ServerImpl, port: u16) -> io::Result<RunningServer> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    match imp {
        ServerImpl::RustgrpcBlocking => {
            let server = grpc_core::Server::builder().build();
            rg::add_bench_servicer_to_server(BlockingBench, &server);
            json_descriptors(&server)?;
            let port = server
                .add_insecure_port(&addr.to_string())
                .map_err(io::Error::other)?;
            server.start().map_err(io::Error::other)?;
            Ok(RunningServer {
                port,
                server: Some(server),
                _runtime: None,
            })
        }
        ServerImpl::RustgrpcAsync => {
            let runtime = tokio::runtime::Runtime::new()?;
            let server = runtime.block_on(async {
                let server = grpc_core::Server::builder().build();
                rg::add_async_bench_servicer_to_server(AsyncBench, &server);
                server
            });
            json_descriptors(&server)?;
            let port = server
                .add_insecure_port(&addr.to_string())
                .map_err(io::Error::other)?;
            server.start().map_err(io::Error::other)?;
            Ok(RunningServer {
                port,
                server: Some(server),
                _runtime: Some(runtime),
            })
        }
        ServerImpl::Tonic => run_tonic(addr, |incoming| {
            tonic::transport::Server::builder()
                .add_service(tn::bench_server::BenchServer::new(TonicBench))
                .serve_with_incoming(incoming)
        }),
        ServerImpl::H2Bare => {
            let runtime = tokio::runtime::Runtime::new()?;
            let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
            let port = listener.local_addr()?.port();
            runtime.spawn(h2_bare(listener));
            Ok(RunningServer {
                port,
                server: None,
                _runtime: Some(runtime),
            })
        }
        ServerImpl::TonicWeb => crate::peers::start_tonic_web(addr),
        ServerImpl::ConnectRust => crate::peers::start_connect_rust(addr),
    }
}

/// Runs a tonic server (`serve` builds it over the listener) on a runtime
/// of its own, `TCP_NODELAY` on as tonic's builder defaults to.
pub(crate) fn run_tonic<F, Fut>(addr: SocketAddr, serve: F) -> io::Result<RunningServer>
where
    F: FnOnce(tonic::transport::server::TcpIncoming) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let runtime = tokio::runtime::Runtime::new()?;
    let incoming = runtime.block_on(async {
        tonic::transport::server::TcpIncoming::bind(addr)
            .map(|incoming| incoming.with_nodelay(Some(true)))
    })?;
    let port = incoming.local_addr()?.port();
    let serving = serve(incoming);
    runtime.spawn(async move {
        if let Err(error) = serving.await {
            eprintln!("tonic server: {error}");
        }
    });
    Ok(RunningServer::detached(port, runtime))
}

/// A TLS server's certificate chain and private key (PEM).
#[derive(Clone, Debug)]
pub struct TlsPem {
    /// The certificate chain.
    pub chain: String,
    /// The private key.
    pub key: String,
}

/// Starts `imp` on `127.0.0.1:0` over TLS with `pem` (rustgrpc's rustls
/// TLS, or tonic's `tls-ring`); the bare h2 server has no TLS.
pub fn start_tls(imp: ServerImpl, pem: &TlsPem) -> io::Result<RunningServer> {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    match imp {
        ServerImpl::RustgrpcBlocking | ServerImpl::RustgrpcAsync => {
            let credentials = grpc_core::ssl_server_credentials(
                [(pem.key.as_bytes(), pem.chain.as_bytes())],
                None,
                grpc_core::ClientAuth::Optional,
            )
            .map_err(io::Error::other)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let server = runtime.block_on(async {
                let server = grpc_core::Server::builder().build();
                if imp == ServerImpl::RustgrpcAsync {
                    rg::add_async_bench_servicer_to_server(AsyncBench, &server);
                } else {
                    rg::add_bench_servicer_to_server(BlockingBench, &server);
                }
                server
            });
            let port = server
                .add_secure_port(&addr.to_string(), &credentials)
                .map_err(io::Error::other)?;
            server.start().map_err(io::Error::other)?;
            Ok(RunningServer {
                port,
                server: Some(server),
                _runtime: Some(runtime),
            })
        }
        ServerImpl::Tonic => {
            let runtime = tokio::runtime::Runtime::new()?;
            let incoming = runtime.block_on(async {
                tonic::transport::server::TcpIncoming::bind(addr)
                    .map(|incoming| incoming.with_nodelay(Some(true)))
            })?;
            let port = incoming.local_addr()?.port();
            let tls = tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(&pem.chain, &pem.key));
            let builder = tonic::transport::Server::builder()
                .tls_config(tls)
                .map_err(io::Error::other)?;
            runtime.spawn(async move {
                let mut builder = builder;
                let result = builder
                    .add_service(tn::bench_server::BenchServer::new(TonicBench))
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(error) = result {
                    eprintln!("tonic server: {error}");
                }
            });
            Ok(RunningServer {
                port,
                server: None,
                _runtime: Some(runtime),
            })
        }
        ServerImpl::H2Bare | ServerImpl::TonicWeb | ServerImpl::ConnectRust => Err(
            io::Error::other(format!("no TLS benchmark for {}", imp.name())),
        ),
    }
}

fn zeros(size: u32) -> Vec<u8> {
    vec![0; size as usize]
}

/// The blocking servicer.
struct BlockingBench;

impl rg::BenchServicer for BlockingBench {
    fn unary(
        &self,
        request: rg::Payload,
        _context: &ServicerContext,
    ) -> Result<rg::Payload, Status> {
        Ok(request)
    }

    fn server_stream(
        &self,
        request: rg::StreamRequest,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<rg::Payload, Status>> + Send + 'static, Status> {
        let size = request.size;
        Ok((0..request.count).map(move |_| Ok(rg::Payload { body: zeros(size) })))
    }

    fn ping_pong(
        &self,
        requests: Requests<rg::Payload>,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<rg::Payload, Status>> + Send + 'static, Status> {
        Ok(requests)
    }
}

/// The same service with async handlers (the generated async servicer trait).
struct AsyncBench;

impl rg::AsyncBenchServicer for AsyncBench {
    async fn unary(
        &self,
        request: rg::Payload,
        _context: &ServicerContext,
    ) -> Result<rg::Payload, Status> {
        Ok(request)
    }

    async fn server_stream(
        &self,
        request: rg::StreamRequest,
        _context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<rg::Payload, Status>> + Send + 'static, Status> {
        let size = request.size;
        Ok(futures_util::stream::iter(
            (0..request.count).map(move |_| Ok(rg::Payload { body: zeros(size) })),
        ))
    }

    async fn ping_pong(
        &self,
        requests: RequestStream<rg::Payload>,
        _context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<rg::Payload, Status>> + Send + 'static, Status> {
        Ok(requests)
    }
}

/// tonic's servicer.
pub(crate) struct TonicBench;

type TonicStream = Pin<Box<dyn Stream<Item = Result<tn::Payload, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl tn::bench_server::Bench for TonicBench {
    async fn unary(
        &self,
        request: tonic::Request<tn::Payload>,
    ) -> Result<tonic::Response<tn::Payload>, tonic::Status> {
        Ok(tonic::Response::new(request.into_inner()))
    }

    type ServerStreamStream = TonicStream;

    async fn server_stream(
        &self,
        request: tonic::Request<tn::StreamRequest>,
    ) -> Result<tonic::Response<TonicStream>, tonic::Status> {
        let request = request.into_inner();
        let size = request.size;
        let stream = futures_util::stream::iter(
            (0..request.count).map(move |_| Ok(tn::Payload { body: zeros(size) })),
        );
        Ok(tonic::Response::new(Box::pin(stream)))
    }

    type PingPongStream = TonicStream;

    async fn ping_pong(
        &self,
        request: tonic::Request<tonic::Streaming<tn::Payload>>,
    ) -> Result<tonic::Response<TonicStream>, tonic::Status> {
        Ok(tonic::Response::new(Box::pin(request.into_inner())))
    }
}

/// The bare h2 server: accepts connections and echoes every request body
/// as a gRPC response (the body already is one framed `Payload`).
async fn h2_bare(listener: tokio::net::TcpListener) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let mut builder = h2::server::Builder::new();
            builder
                .initial_window_size(1 << 20)
                .initial_connection_window_size(2 << 20)
                .max_concurrent_streams(1024);
            let Ok(mut connection) = builder.handshake::<_, Bytes>(socket).await else {
                return;
            };
            while let Some(Ok((request, respond))) = connection.accept().await {
                tokio::spawn(h2_echo(request, respond));
            }
        });
    }
}

async fn h2_echo(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    let mut body = request.into_body();
    let mut chunks: Vec<Bytes> = Vec::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return };
        let _ = body.flow_control().release_capacity(chunk.len());
        chunks.push(chunk);
    }
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(())
        .expect("static response");
    let Ok(mut send) = respond.send_response(response, false) else {
        return;
    };
    let data = if chunks.len() == 1 {
        chunks.pop().unwrap_or_default()
    } else {
        Bytes::from(chunks.concat())
    };
    send.reserve_capacity(data.len());
    let _ = send.send_data(data, false);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let _ = send.send_trailers(trailers);
}
