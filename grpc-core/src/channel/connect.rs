//! Opening one HTTP/2 connection to a target: a byte stream (a socket, or
//! whatever a user connector returns), then the channel's security layer
//! (TLS, or the local check), then the HTTP/2 handshake.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::{TcpStream, UnixStream};

use super::ChannelConfig;
use super::resolver::ResolvedAddress;
use crate::security::ChannelSecurity;
use crate::security::client_tls::{self, Alpn};
use crate::transport::client_watch::{ClientWatch, WireSeen};
use crate::transport::io::{AsyncIo, Io};

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Io>> + Send>>;

/// A user-supplied way to open the byte stream of a connection
/// ([`ChannelBuilder::connector`](crate::ChannelBuilder::connector)).
#[derive(Clone)]
pub(crate) struct Connector(Arc<dyn Fn() -> ConnectFuture + Send + Sync>);

impl Connector {
    pub(crate) fn new<F, Fut, I>(connect: F) -> Connector
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<I>> + Send + 'static,
        I: AsyncIo,
    {
        Connector(Arc::new(move || {
            let connecting = connect();
            Box::pin(async move { connecting.await.map(Io::other) })
        }))
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector(..)")
    }
}

/// A fresh connection: the handle to open streams on, and the future that
/// drives the socket (to be spawned).
pub(crate) type Connected = (
    h2::client::SendRequest<Bytes>,
    h2::client::Connection<ClientWatch<Io>, Bytes>,
    WireSeen,
);

/// Opens the byte stream (trying every resolved address), secures it, and
/// runs the HTTP/2 handshake over it, watching the (decrypted) frames.
pub(crate) async fn connect(
    addresses: &[ResolvedAddress],
    config: &ChannelConfig,
) -> io::Result<Connected> {
    let io = open_secured(addresses, config, Alpn::H2).await?;
    let (io, seen) = ClientWatch::new(io);
    let (sender, connection) = config
        .http2
        .client()
        .handshake::<ClientWatch<Io>, Bytes>(io)
        .await
        .map_err(|error| io::Error::other(format!("HTTP/2 handshake failed: {error}")))?;
    Ok((sender, connection, seen))
}

/// The byte stream (a socket to the first of `addresses` that answers, or
/// the user connector's), secured (TLS agreeing on `alpn`).
pub(crate) async fn open_secured(
    addresses: &[ResolvedAddress],
    config: &ChannelConfig,
    alpn: Alpn,
) -> io::Result<Io> {
    let io = match &config.connector {
        Some(connector) => (connector.0)().await?,
        None => open_socket(addresses).await?,
    };
    Ok(match (&config.security, &config.tls) {
        (ChannelSecurity::Tls(_), Some(tls)) => client_tls::connect(tls, io, alpn).await?,
        (ChannelSecurity::Local, _) => check_local(io)?,
        _ => io,
    })
}

/// Local credentials: only Unix sockets and loopback TCP (a user
/// connector's stream is the user's to vouch for).
fn check_local(io: Io) -> io::Result<Io> {
    if let Io::Tcp(stream) = &io {
        let peer = stream.peer_addr()?;
        if !peer.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "local_channel_credentials: {peer} is not a loopback address \
                     (local credentials work over Unix sockets and loopback only)"
                ),
            ));
        }
    }
    Ok(io)
}

/// Connects to the first of `addresses` that answers.
async fn open_socket(addresses: &[ResolvedAddress]) -> io::Result<Io> {
    let mut last_error = None;
    for address in addresses {
        let opened = match address {
            ResolvedAddress::Tcp(addr) => match TcpStream::connect(addr).await {
                Ok(stream) => Io::tcp(stream),
                Err(error) => Err(error),
            },
            ResolvedAddress::Unix(path) => UnixStream::connect(path).await.map(Io::Unix),
            ResolvedAddress::UnixAbstract(name) => connect_abstract(name),
        };
        match opened {
            Ok(io) => return Ok(io),
            Err(error) => {
                last_error = Some(io::Error::new(error.kind(), format!("{address}: {error}")))
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses to connect to")))
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &[u8]) -> io::Result<Io> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    let stream = std::os::unix::net::UnixStream::connect_addr(&addr)?;
    stream.set_nonblocking(true)?;
    Ok(Io::Unix(UnixStream::from_std(stream)?))
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_name: &[u8]) -> io::Result<Io> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract Unix sockets exist only on Linux",
    ))
}
