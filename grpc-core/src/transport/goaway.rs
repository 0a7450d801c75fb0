//! [`GoAwayWatch`]: what a client connection's GOAWAY frames said, read
//! from the bytes before h2 sees them.
//!
//! h2 fails a stream the server never processed (its id above a GOAWAY's
//! last stream id) and a stream cut off when the connection later ends
//! (perhaps processed) with the same error. Knowing the last stream id the
//! server will process tells them apart, so that only the first kind is
//! sent again (gRPC's transparent retry).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frames::{FrameScanner, Seen};

/// The lowest last stream id of the GOAWAY frames received so far.
#[derive(Clone, Debug)]
pub(crate) struct LastStreamId(Arc<AtomicU32>);

impl Default for LastStreamId {
    fn default() -> LastStreamId {
        LastStreamId(Arc::new(AtomicU32::new(u32::MAX)))
    }
}

impl LastStreamId {
    /// Whether a GOAWAY said the server will not process `stream_id`.
    pub(crate) fn refused(&self, stream_id: u32) -> bool {
        stream_id > self.0.load(Ordering::Acquire)
    }

    fn lower(&self, last_stream_id: u32) {
        self.0.fetch_min(last_stream_id, Ordering::AcqRel);
    }
}

/// A client connection's I/O, with its incoming GOAWAY frames noted.
pub(crate) struct GoAwayWatch<T> {
    inner: T,
    scanner: FrameScanner,
    last: LastStreamId,
}

impl<T> GoAwayWatch<T> {
    pub(crate) fn new(inner: T) -> (GoAwayWatch<T>, LastStreamId) {
        let last = LastStreamId::default();
        let watch = GoAwayWatch {
            inner,
            scanner: FrameScanner::frames(),
            last: last.clone(),
        };
        (watch, last)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GoAwayWatch<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let last = &this.last;
            this.scanner.scan(&buf.filled()[before..], |seen| {
                if let Seen::GoAway { last_stream_id } = seen {
                    last.lower(last_stream_id);
                }
            });
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GoAwayWatch<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn goaways_lower_the_last_stream_id() {
        let (mut server, client) = tokio::io::duplex(256);
        let (mut watched, last) = GoAwayWatch::new(client);
        assert!(
            !last.refused(u32::MAX - 1),
            "nothing refused before a GOAWAY"
        );
        // A graceful shutdown: GOAWAY(2^31-1), then GOAWAY(5).
        for id in [0x7fff_ffff_u32, 5] {
            let mut frame = vec![0, 0, 8, 0x7, 0, 0, 0, 0, 0];
            frame.extend(id.to_be_bytes());
            frame.extend([0, 0, 0, 0]);
            server.write_all(&frame).await.unwrap();
            let mut buf = vec![0u8; frame.len()];
            watched.read_exact(&mut buf).await.unwrap();
        }
        assert!(!last.refused(5));
        assert!(last.refused(7));
    }
}
