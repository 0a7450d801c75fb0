//! Enforcing a minimum interval between client PINGs, as gRPC servers do:
//! a passive reader of the incoming HTTP/2 frame headers counts PINGs that
//! arrive too close together with no data in between ("ping strikes"); past
//! the allowed strikes the server sends GOAWAY `ENHANCE_YOUR_CALM`
//! (grpcio's "too_many_pings").
//!
//! h2 answers PINGs itself and does not surface them, hence the sniffing:
//! it only reads frame headers as they pass, never alters a byte.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

const PREFACE_LEN: usize = 24;
const FRAME_HEADER_LEN: usize = 9;
const FRAME_DATA: u8 = 0x0;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_PING: u8 = 0x6;
const FLAG_ACK: u8 = 0x1;

/// The limits a server applies to client PINGs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PingLimits {
    /// PINGs closer together than this, with no data between, are strikes.
    pub(crate) min_interval: Duration,
    /// Strikes tolerated before the connection is closed.
    pub(crate) max_strikes: u32,
}

impl Default for PingLimits {
    fn default() -> PingLimits {
        // gRPC core's defaults: 5 minutes, 2 strikes.
        PingLimits {
            min_interval: Duration::from_secs(300),
            max_strikes: 2,
        }
    }
}

/// Shared between the sniffer and the connection task.
#[derive(Default)]
pub(crate) struct PingWatch {
    violated: AtomicBool,
    notify: Notify,
}

impl PingWatch {
    /// Completes once the peer broke the ping limits.
    pub(crate) async fn violated(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.violated.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Counts strikes from the frame types seen.
struct Strikes {
    limits: PingLimits,
    last_ping: Option<Instant>,
    strikes: u32,
}

impl Strikes {
    /// Records a frame; true when the limits are now broken.
    fn on_frame(&mut self, kind: u8, flags: u8, now: Instant) -> bool {
        match kind {
            FRAME_DATA | FRAME_HEADERS => {
                self.strikes = 0;
                self.last_ping = None;
                false
            }
            FRAME_PING if flags & FLAG_ACK == 0 => {
                if let Some(last) = self.last_ping
                    && now.duration_since(last) < self.limits.min_interval
                {
                    self.strikes += 1;
                }
                self.last_ping = Some(now);
                self.strikes > self.limits.max_strikes
            }
            _ => false,
        }
    }
}

/// Where the parser is in the byte stream.
enum Position {
    /// Inside the client connection preface.
    Preface { left: usize },
    /// Collecting a frame header.
    Header {
        bytes: [u8; FRAME_HEADER_LEN],
        have: usize,
    },
    /// Skipping a frame payload.
    Payload { left: usize },
}

/// An I/O stream whose incoming bytes are watched for PING abuse.
pub(crate) struct PingSniffer<T> {
    inner: T,
    position: Position,
    strikes: Arc<Mutex<Strikes>>,
    watch: Arc<PingWatch>,
}

impl<T> PingSniffer<T> {
    /// Watches the server side of a connection (which starts with the
    /// client preface).
    pub(crate) fn new(inner: T, limits: PingLimits) -> (PingSniffer<T>, Arc<PingWatch>) {
        let watch = Arc::new(PingWatch::default());
        let sniffer = PingSniffer {
            inner,
            position: Position::Preface { left: PREFACE_LEN },
            strikes: Arc::new(Mutex::new(Strikes {
                limits,
                last_ping: None,
                strikes: 0,
            })),
            watch: Arc::clone(&watch),
        };
        (sniffer, watch)
    }

    fn observe(&mut self, mut bytes: &[u8]) {
        let now = Instant::now();
        while !bytes.is_empty() {
            match &mut self.position {
                Position::Preface { left } => {
                    let take = (*left).min(bytes.len());
                    bytes = &bytes[take..];
                    *left -= take;
                    if *left == 0 {
                        self.position = Position::Header {
                            bytes: [0; FRAME_HEADER_LEN],
                            have: 0,
                        };
                    }
                }
                Position::Header {
                    bytes: header,
                    have,
                } => {
                    let take = (FRAME_HEADER_LEN - *have).min(bytes.len());
                    header[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    if *have == FRAME_HEADER_LEN {
                        let length =
                            u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
                        let (kind, flags) = (header[3], header[4]);
                        let broken = self
                            .strikes
                            .lock()
                            .map(|mut strikes| strikes.on_frame(kind, flags, now))
                            .unwrap_or(false);
                        if broken && !self.watch.violated.swap(true, Ordering::AcqRel) {
                            self.watch.notify.notify_waiters();
                        }
                        self.position = if length == 0 {
                            Position::Header {
                                bytes: [0; FRAME_HEADER_LEN],
                                have: 0,
                            }
                        } else {
                            Position::Payload { left: length }
                        };
                    }
                }
                Position::Payload { left } => {
                    let take = (*left).min(bytes.len());
                    bytes = &bytes[take..];
                    *left -= take;
                    if *left == 0 {
                        self.position = Position::Header {
                            bytes: [0; FRAME_HEADER_LEN],
                            have: 0,
                        };
                    }
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for PingSniffer<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.observe(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for PingSniffer<T> {
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

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.extend([kind, flags, 0, 0, 0, 0]);
        out.extend_from_slice(payload);
        out
    }

    fn sniffer(limits: PingLimits) -> PingSniffer<()> {
        PingSniffer::new((), limits).0
    }

    #[test]
    fn counts_rapid_pings_across_arbitrary_chunking() {
        let limits = PingLimits {
            min_interval: Duration::from_secs(60),
            max_strikes: 2,
        };
        let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        wire.extend(frame(0x4, 0, &[0; 6])); // SETTINGS
        for _ in 0..3 {
            wire.extend(frame(FRAME_PING, 0, &[7; 8]));
            wire.extend(frame(FRAME_PING, FLAG_ACK, &[7; 8])); // acks never count
        }
        let mut s = sniffer(limits);
        for chunk in wire.chunks(5) {
            s.observe(chunk);
        }
        assert!(
            !s.watch.violated.load(Ordering::Acquire),
            "2 strikes are allowed"
        );
        s.observe(&frame(FRAME_PING, 0, &[1; 8]));
        assert!(s.watch.violated.load(Ordering::Acquire));
    }

    #[test]
    fn data_between_pings_clears_strikes() {
        let limits = PingLimits {
            min_interval: Duration::from_secs(60),
            max_strikes: 1,
        };
        let mut s = sniffer(limits);
        s.observe(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..10 {
            s.observe(&frame(FRAME_PING, 0, &[0; 8]));
            s.observe(&frame(FRAME_DATA, 0, b"hello"));
        }
        assert!(!s.watch.violated.load(Ordering::Acquire));
    }
}
