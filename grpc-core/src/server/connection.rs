//! Listening sockets and HTTP/2 connections: accept, hand each stream to
//! its own task, and shut down gracefully (GOAWAY) or at once.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::lifecycle::{Phase, ServerShared, TaskGuard};
use super::lifetime::StreamCount;
use super::protocol::{self, Detected};
use super::rpc;
use crate::error::{Error, Kind};
use crate::security::auth::Peer;
use crate::security::{self, ServerSecurity};
use crate::transport::io::{AsyncIo, Io};
use crate::transport::keepalive::{Keepalive, ping_loop};
use crate::transport::ping_policy::PingSniffer;

/// How long stragglers get to see their resets before a cancelled
/// connection is dropped.
const CANCEL_FLUSH: Duration = Duration::from_millis(200);

/// A bound, not yet accepting, socket.
pub(crate) enum Listener {
    Tcp(std::net::TcpListener),
    /// A Unix socket and its peer label (`unix:/path`, `unix-abstract:name`).
    Unix(std::os::unix::net::UnixListener, String),
}

/// An accepting socket on the runtime.
pub(crate) enum TokioListener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, String),
}

impl Listener {
    /// Binds `address`: `host:port`, `[v6]:port`, `unix:/path` or
    /// `unix-abstract:name`.
    pub(crate) fn bind(address: &str) -> Result<Listener, Error> {
        if let Some(name) = address.strip_prefix("unix-abstract:") {
            return bind_abstract(address, name);
        }
        if let Some(path) = address.strip_prefix("unix:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(Error::new(
                    Kind::InvalidArgument,
                    format!("invalid address {address:?}: empty path"),
                ));
            }
            let listener = std::os::unix::net::UnixListener::bind(path)
                .map_err(|error| Error::io(format!("failed to bind {address}"), error))?;
            return Ok(Listener::Unix(listener, format!("unix:{path}")));
        }
        let addrs: Vec<SocketAddr> = address
            .to_socket_addrs()
            .map_err(|error| {
                Error::new(
                    Kind::InvalidArgument,
                    format!("invalid address {address:?}"),
                )
                .with_source(error)
            })?
            .collect();
        let mut last_error = None;
        for addr in &addrs {
            match std::net::TcpListener::bind(addr) {
                Ok(listener) => return Ok(Listener::Tcp(listener)),
                Err(error) => last_error = Some(error),
            }
        }
        Err(match last_error {
            Some(error) => Error::io(format!("failed to bind {address}"), error),
            None => Error::new(
                Kind::InvalidArgument,
                format!("address {address:?} resolved to nothing"),
            ),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.local_addr().map_or(0, |addr| addr.port())
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Moves the socket onto the runtime (call inside its context).
    pub(crate) fn into_tokio(self) -> Result<TokioListener, Error> {
        let convert = |error| Error::io("failed to register listener", error);
        match self {
            Listener::Tcp(listener) => {
                listener.set_nonblocking(true).map_err(convert)?;
                Ok(TokioListener::Tcp(
                    tokio::net::TcpListener::from_std(listener).map_err(convert)?,
                ))
            }
            Listener::Unix(listener, path) => {
                listener.set_nonblocking(true).map_err(convert)?;
                Ok(TokioListener::Unix(
                    tokio::net::UnixListener::from_std(listener).map_err(convert)?,
                    path,
                ))
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn bind_abstract(address: &str, name: &str) -> Result<Listener, Error> {
    use std::os::linux::net::SocketAddrExt;
    if name.is_empty() {
        return Err(Error::new(
            Kind::InvalidArgument,
            format!("invalid address {address:?}: empty name"),
        ));
    }
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|error| Error::io(format!("invalid address {address}"), error))?;
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr)
        .map_err(|error| Error::io(format!("failed to bind {address}"), error))?;
    Ok(Listener::Unix(listener, format!("unix-abstract:{name}")))
}

#[cfg(not(target_os = "linux"))]
fn bind_abstract(address: &str, _name: &str) -> Result<Listener, Error> {
    Err(Error::new(
        Kind::InvalidArgument,
        format!("{address}: abstract Unix sockets exist only on Linux"),
    ))
}

impl TokioListener {
    async fn accept(&self) -> std::io::Result<(Io, String)> {
        match self {
            TokioListener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                let peer = match addr {
                    SocketAddr::V4(v4) => format!("ipv4:{v4}"),
                    // An IPv4 client of a dual-stack socket ("[::]:port")
                    // arrives as ::ffff:a.b.c.d; report it as IPv4.
                    SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                        Some(v4) => format!("ipv4:{v4}:{}", v6.port()),
                        None => format!("ipv6:{v6}"),
                    },
                };
                Ok((Io::tcp(stream)?, peer))
            }
            TokioListener::Unix(listener, path) => {
                let (stream, _) = listener.accept().await?;
                Ok((Io::Unix(stream), path.clone()))
            }
        }
    }
}

/// Accepts connections until the server stops.
pub(crate) async fn accept_loop(
    listener: TokioListener,
    security: ServerSecurity,
    server: Arc<ServerShared>,
    _guard: TaskGuard,
) {
    let mut phase = server.phase();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((io, peer)) => {
                    let guard = server.task_guard();
                    let server = Arc::clone(&server);
                    let sockets = io.addresses();
                    tokio::spawn(secure_and_serve(io, peer, sockets, security.clone(), server, guard));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = async { phase.wait_for(|phase| *phase >= Phase::Draining).await.is_ok() } => return,
        }
    }
}

/// Applies the port's security to a fresh connection (the TLS handshake,
/// bounded by the handshake timeout, or the local check), then serves it.
/// Runs in the connection's own task, so a slow handshake delays no one else.
pub(crate) async fn secure_and_serve<I: AsyncIo>(
    io: I,
    address: String,
    sockets: SocketAddrs,
    security: ServerSecurity,
    server: Arc<ServerShared>,
    guard: TaskGuard,
) {
    match security {
        ServerSecurity::Insecure => {
            serve_connection(
                io,
                sockets,
                Arc::new(Peer::insecure(address)),
                server,
                guard,
                Framing::Detect,
            )
            .await
        }
        ServerSecurity::Local => {
            if !is_local(&address) {
                tracing::warn!(peer = %address, "local credentials: refusing a non-local connection");
                return;
            }
            let peer = Arc::new(Peer::local(address));
            serve_connection(io, sockets, peer, server, guard, Framing::Detect).await
        }
        ServerSecurity::Tls(tls) => {
            let limit = server.config().handshake_timeout;
            match tokio::time::timeout(limit, security::accept(&tls, io, &address)).await {
                Ok(Ok((stream, peer))) => {
                    let framing = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => Framing::Http2,
                        _ => Framing::Detect,
                    };
                    let peer = Arc::new(peer);
                    Box::pin(serve_connection(
                        stream, sockets, peer, server, guard, framing,
                    ))
                    .await
                }
                Ok(Err(error)) => {
                    tracing::debug!(peer = %address, %error, "TLS handshake failed");
                }
                Err(_) => {
                    tracing::debug!(peer = %address, ?limit, "TLS handshake timed out");
                }
            }
        }
    }
}

/// Whether a peer label names a Unix socket or a loopback address.
fn is_local(address: &str) -> bool {
    if address.starts_with("unix:") || address.starts_with("unix-abstract:") {
        return true;
    }
    let socket = address
        .strip_prefix("ipv4:")
        .or_else(|| address.strip_prefix("ipv6:"))
        .and_then(|rest| rest.parse::<SocketAddr>().ok());
    socket.is_some_and(|socket| socket.ip().is_loopback())
}

/// The local and remote socket addresses of a connection, when it has them.
pub(crate) type SocketAddrs = (Option<SocketAddr>, Option<SocketAddr>);

async fn serve_connection<I: AsyncIo>(
    io: I,
    sockets: SocketAddrs,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    _guard: TaskGuard,
    framing: Framing,
) {
    let socket = server
        .channelz()
        .add_socket(sockets.0, sockets.1, &peer.address); // channelz
    let handshake_deadline = tokio::time::Instant::now() + server.config().handshake_timeout;
    if framing == Framing::Http2 {
        return serve_http2(io, peer, server, socket, handshake_deadline).await;
    }
    // Protocol detection: the HTTP/2 preface goes on below (gRPC, and
    // Connect / gRPC-Web over HTTP/2); anything else is HTTP/1.1.
    let io = match tokio::time::timeout_at(handshake_deadline, protocol::detect(io)).await {
        Ok(Ok((Detected::Http2, io))) => io,
        Ok(Ok((Detected::Http1, io))) => {
            // Boxed, as the TLS branch of `secure_and_serve`: hyper's
            // connection is large, and every connection's task would carry
            // its size (an idle HTTP/2 connection cost 29 KiB, not 16).
            return Box::pin(protocol::serve_http1(io, peer, server, socket)).await;
        }
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "connection closed before its first bytes");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out: no complete preface");
            return;
        }
    };
    serve_http2(io, peer, server, socket, handshake_deadline).await;
}

/// How a connection's protocol is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// From its first bytes: the HTTP/2 preface, or HTTP/1.1.
    Detect,
    /// HTTP/2, agreed by TLS ALPN: the server speaks first (its SETTINGS),
    /// as clients that wait for the server's first bytes expect.
    Http2,
}

/// An HTTP/2 server connection, as h2 drives it.
type H2Connection<I> = h2::server::Connection<I, bytes::Bytes>;

/// Serves an HTTP/2 connection until it ends or the server stops.
async fn serve_http2<I: AsyncIo>(
    io: I,
    peer: Arc<Peer>,
    server: Arc<ServerShared>,
    socket: crate::channelz::SocketStats,
    handshake_deadline: tokio::time::Instant,
) {
    let (io, ping_watch) = PingSniffer::new(io, server.config().ping_limits);
    let handshake = server.config().http2.server().handshake(io);
    let mut connection = match tokio::time::timeout_at(handshake_deadline, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "HTTP/2 handshake timed out: no complete preface");
            return;
        }
    };
    tracing::debug!(%peer, "connection accepted");
    let keepalive = server.config().keepalive_time.map(|interval| Keepalive {
        interval,
        timeout: server.config().keepalive_timeout,
        limit: None,
        calls: None,
    });
    let keepalive = ping_loop(keepalive.zip(connection.ping_pong()));
    let streams = StreamCount::new();
    let ending = {
        let mut serving = Serving {
            connection: &mut connection,
            peer: &peer,
            server: &server,
            socket: &socket,
            streams: &streams,
            draining: false,
        };
        serving.run(keepalive, &ping_watch).await
    };
    match ending {
        Ending::Closed => {}
        Ending::Cancelling => close_after_resets(connection, Linger::No).await,
        Ending::TooManyPings => close_after_resets(connection, Linger::Yes).await,
    }
}

/// How the serving loop of a connection ended.
enum Ending {
    /// The connection is over (closed, failed, dead peer): drop it.
    Closed,
    /// Its RPCs are being reset (server stop, age grace over).
    Cancelling,
    /// Closed on the peer with GOAWAY `ENHANCE_YOUR_CALM`.
    TooManyPings,
}

/// Whether a closing connection holds its socket open a little longer.
#[derive(PartialEq, Eq)]
enum Linger {
    Yes,
    No,
}

/// A connection's serving loop: accepts streams, and watches keepalive,
/// the ping policy, the connection's age limits and the server's phase.
struct Serving<'a, I> {
    connection: &'a mut H2Connection<PingSniffer<I>>,
    peer: &'a Arc<Peer>,
    server: &'a Arc<ServerShared>,
    socket: &'a crate::channelz::SocketStats,
    streams: &'a StreamCount,
    /// GOAWAY sent: no new streams.
    draining: bool,
}

impl<I: AsyncIo> Serving<'_, I> {
    async fn run(
        &mut self,
        keepalive: impl std::future::Future<Output = String>,
        ping_watch: &crate::transport::ping_policy::PingWatch,
    ) -> Ending {
        tokio::pin!(keepalive);
        let mut phase: watch::Receiver<Phase> = self.server.phase();
        // A connection whose handshake ended after the server began to stop
        // has missed that change (`changed` reports later ones only): it
        // drains or ends now, or the stop would wait for it forever.
        let now = *phase.borrow_and_update();
        if now >= Phase::Draining {
            self.drain();
        }
        if now >= Phase::Cancelling {
            return Ending::Cancelling;
        }
        let limits = self.server.config().connection_limits;
        let retire = limits.retire(self.streams, tokio::time::Instant::now());
        tokio::pin!(retire);
        let grace_over = limits.grace_over();
        tokio::pin!(grace_over);
        let mut retiring = false;
        loop {
            tokio::select! {
                reason = &mut retire, if !retiring => {
                    tracing::debug!(peer = %self.peer, ?reason, "connection retired: GOAWAY, then drain");
                    retiring = true;
                    self.drain();
                }
                () = &mut grace_over, if retiring => {
                    tracing::debug!(peer = %self.peer, "connection age grace over: resetting its RPCs");
                    return Ending::Cancelling;
                }
                reason = &mut keepalive => {
                    // A dead peer: drop the connection; its RPCs see the reset.
                    tracing::warn!(peer = %self.peer, %reason, "closing connection");
                    return Ending::Closed;
                }
                _ = ping_watch.violated() => {
                    tracing::warn!(peer = %self.peer, "too_many_pings: closing connection with GOAWAY ENHANCE_YOUR_CALM");
                    self.connection.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                    return Ending::TooManyPings;
                }
                accepted = self.connection.accept() => match accepted {
                    Some(Ok((request, respond))) => self.spawn_rpc(request, respond),
                    Some(Err(error)) => {
                        tracing::debug!(peer = %self.peer, %error, "connection error");
                        return Ending::Closed;
                    }
                    None => return Ending::Closed,
                },
                changed = phase.changed() => {
                    if changed.is_err() {
                        return Ending::Closed;
                    }
                    let now = *phase.borrow_and_update();
                    if now >= Phase::Draining {
                        self.drain();
                    }
                    if now >= Phase::Cancelling {
                        return Ending::Cancelling;
                    }
                }
            }
        }
    }

    /// Sends GOAWAY once: streams in flight finish, no new ones start.
    fn drain(&mut self) {
        if !std::mem::replace(&mut self.draining, true) {
            self.connection.graceful_shutdown();
        }
    }

    /// Serves a new stream on a task of its own.
    fn spawn_rpc(
        &self,
        request: http::Request<h2::RecvStream>,
        respond: h2::server::SendResponse<bytes::Bytes>,
    ) {
        let guard = (self.server.task_guard(), self.streams.guard());
        let server = Arc::clone(self.server);
        let peer = Arc::clone(self.peer);
        let phase = server.phase();
        let socket = self.socket.clone(); // channelz
        // `serve` keeps its future small (the other protocols' large state
        // machine is boxed inside it): a task's future is moved whole
        // several times on its way into the runtime.
        tokio::spawn(async move {
            rpc::serve(request, respond, peer, server, phase, socket).await;
            drop(guard);
        });
    }
}

/// Lets the resets of a cancelled connection's streams go out (their
/// tasks are sending them), then drops it; with [`Linger::Yes`] the socket
/// stays open a little longer so the peer reads our GOAWAY.
async fn close_after_resets<T>(mut connection: H2Connection<T>, linger: Linger)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CANCEL_FLUSH, async {
        while let Some(Ok(_)) = connection.accept().await {}
    })
    .await;
    if linger == Linger::Yes {
        // Closing a socket with unread bytes (the peer's next PINGs) makes
        // the kernel send RST, which can reach the peer before it has read
        // our GOAWAY; hold the socket briefly so the peer learns why.
        tokio::time::sleep(GOAWAY_LINGER).await;
        drop(connection);
    }
}

/// How long a connection closed with an error GOAWAY stays open for the
/// peer to read it.
const GOAWAY_LINGER: Duration = Duration::from_millis(250);
