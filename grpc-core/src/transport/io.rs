//! [`Io`]: any connected byte stream behind one `AsyncRead + AsyncWrite`
//! type: TCP and Unix sockets (the defaults, without indirection) and
//! anything else a user or a layer (TLS) supplies.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A byte stream HTTP/2 can run over: any `AsyncRead + AsyncWrite` that
/// can move between threads. Implemented for every such type; a custom
/// connector ([`ChannelBuilder::connector`](crate::ChannelBuilder::connector))
/// or [`Server::serve_connection`](crate::Server::serve_connection) takes one.
pub trait AsyncIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncIo for T {}

/// A connected byte stream.
pub(crate) enum Io {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Any other stream: user-supplied, in-memory, or a TLS session over
    /// one of the above.
    Other(Box<dyn AsyncIo>),
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Io::Tcp(stream) => stream.fmt(f),
            Io::Unix(stream) => stream.fmt(f),
            Io::Other(_) => f.write_str("Io::Other(..)"),
        }
    }
}

impl Io {
    /// Wraps a TCP stream, turning Nagle off.
    pub(crate) fn tcp(stream: TcpStream) -> io::Result<Io> {
        stream.set_nodelay(true)?;
        Ok(Io::Tcp(stream))
    }

    /// Wraps any other stream.
    pub(crate) fn other(stream: impl AsyncIo) -> Io {
        Io::Other(Box::new(stream))
    }

    /// The local and peer addresses of a TCP stream (`None` for Unix).
    pub(crate) fn addresses(&self) -> (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>) {
        match self {
            Io::Tcp(stream) => (stream.local_addr().ok(), stream.peer_addr().ok()),
            Io::Unix(_) | Io::Other(_) => (None, None),
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Other(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Other(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Unix(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Other(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Tcp(stream) => stream.is_write_vectored(),
            Io::Unix(stream) => stream.is_write_vectored(),
            Io::Other(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Io::Unix(stream) => Pin::new(stream).poll_flush(cx),
            Io::Other(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Other(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
