//! Opening one HTTP/2 connection to a target.

use std::io;

use bytes::Bytes;
use tokio::net::{TcpStream, UnixStream};

use super::target::Address;
use crate::transport::client_watch::{ClientWatch, WireSeen};
use crate::transport::io::Io;
use crate::transport::settings::Http2Settings;

/// A fresh connection: the handle to open streams on, and the future that
/// drives the socket (to be spawned).
pub(crate) type Connected = (
    h2::client::SendRequest<Bytes>,
    h2::client::Connection<ClientWatch<Io>, Bytes>,
    WireSeen,
);

/// Connects the socket (trying every resolved address) and runs the HTTP/2
/// handshake.
pub(crate) async fn connect(address: &Address, settings: &Http2Settings) -> io::Result<Connected> {
    let (io, seen) = ClientWatch::new(open_socket(address).await?);
    let (sender, connection) = settings
        .client()
        .handshake::<ClientWatch<Io>, Bytes>(io)
        .await
        .map_err(|error| io::Error::other(format!("HTTP/2 handshake failed: {error}")))?;
    Ok((sender, connection, seen))
}

async fn open_socket(address: &Address) -> io::Result<Io> {
    match address {
        Address::Dns { host, port } => {
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), *port))
                .await?
                .collect();
            connect_any(&addrs, host).await
        }
        Address::Ip(addrs) => connect_any(addrs, "address list").await,
        Address::Unix(path) => Ok(Io::Unix(UnixStream::connect(path).await?)),
        Address::UnixAbstract(name) => connect_abstract(name),
    }
}

async fn connect_any(addrs: &[std::net::SocketAddr], what: &str) -> io::Result<Io> {
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Io::tcp(stream),
            Err(error) => {
                last_error = Some(io::Error::new(error.kind(), format!("{addr}: {error}")))
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{what} resolved to no addresses"),
        )
    }))
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
