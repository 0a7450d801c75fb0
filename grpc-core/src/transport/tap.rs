//! [`Tapped`]: an I/O stream whose bytes, both ways, are shown to a
//! [`Tap`] as they pass (never altered). The server's ping policy and the
//! client's frame watch are taps.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Sees a connection's bytes.
pub(crate) trait Tap {
    /// Bytes the peer sent, as read.
    fn received(&mut self, bytes: &[u8]);
    /// Bytes we sent, as written.
    fn sent(&mut self, bytes: &[u8]);
}

/// `inner` with its traffic shown to `tap`.
pub(crate) struct Tapped<T, W> {
    pub(crate) inner: T,
    pub(crate) tap: W,
}

impl<T: AsyncRead + Unpin, W: Tap + Unpin> AsyncRead for Tapped<T, W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.tap.received(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin, W: Tap + Unpin> AsyncWrite for Tapped<T, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            this.tap.sent(&buf[..written]);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut written)) = polled {
            for buf in bufs {
                let take = written.min(buf.len());
                this.tap.sent(&buf[..take]);
                written -= take;
                if written == 0 {
                    break;
                }
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
