//! Which HTTP version a new connection speaks: the bytes it starts with
//! either are the HTTP/2 client preface or they are not (HTTP/1.1). The
//! bytes read to decide are replayed to whichever server takes over.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detected {
    /// It began with the HTTP/2 preface.
    Http2,
    /// Anything else: handed to the HTTP/1.1 server.
    Http1,
}

/// Reads just enough of `io` to tell HTTP/2 from HTTP/1.1. `Err` when the
/// peer closed or failed before sending a byte.
pub(crate) async fn detect<T: AsyncRead + Unpin>(mut io: T) -> io::Result<(Detected, Prefixed<T>)> {
    let mut seen = Vec::with_capacity(PREFACE.len());
    let mut buf = [0u8; PREFACE.len()];
    while seen.len() < PREFACE.len() {
        let want = PREFACE.len() - seen.len();
        let read = io.read(&mut buf[..want]).await?;
        if read == 0 {
            if seen.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            break;
        }
        seen.extend_from_slice(&buf[..read]);
        if !PREFACE.starts_with(&seen) {
            break;
        }
    }
    let detected = if seen == PREFACE {
        Detected::Http2
    } else {
        Detected::Http1
    };
    Ok((
        detected,
        Prefixed {
            prefix: Bytes::from(seen),
            inner: io,
        },
    ))
}

/// A stream whose first bytes were already read: they are read again first.
#[derive(Debug)]
pub(crate) struct Prefixed<T> {
    prefix: Bytes,
    inner: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn preface_is_http2_and_replayed() {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(b"rest");
        let (detected, mut io) = detect(&input[..]).await.unwrap();
        assert_eq!(detected, Detected::Http2);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, input);
    }

    #[tokio::test]
    async fn request_line_is_http1_after_first_mismatch() {
        let input = b"POST /a.B/C HTTP/1.1\r\n\r\n";
        let (detected, mut io) = detect(&input[..]).await.unwrap();
        assert_eq!(detected, Detected::Http1);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, input);
    }

    #[tokio::test]
    async fn empty_connection_is_an_error() {
        assert!(detect(&b""[..]).await.is_err());
    }
}
