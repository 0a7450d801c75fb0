//! Enforcing a minimum interval between client PINGs, as gRPC servers do:
//! a passive reader of the HTTP/2 frame headers in both directions counts
//! PINGs that arrive too close together with no data or headers moving in
//! between, either way ("ping strikes"); past the allowed strikes the
//! server sends GOAWAY `ENHANCE_YOUR_CALM` (grpcio's "too_many_pings").
//! Data the *server* sends forgives pings as well, as in gRPC core and
//! grpc-go: clients send BDP pings while they receive a stream.
//!
//! h2 answers PINGs itself and does not surface them, hence the sniffing:
//! it only reads frame headers as they pass, never alters a byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::frames::{FLAG_ACK, FRAME_DATA, FRAME_HEADERS, FRAME_PING, FrameScanner, Seen};
use super::tap::{Tap, Tapped};

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

/// Counts strikes from the frames seen in both directions. Owned by the
/// sniffer, which sees every byte, so it needs no lock.
struct Strikes {
    limits: PingLimits,
    last_ping: Option<Instant>,
    strikes: u32,
}

impl Strikes {
    /// Data or headers moved (either way): pings are welcome again, as
    /// gRPC core and grpc-go reset strikes whenever the server sends them
    /// (a client receiving a stream sends BDP pings as data arrives).
    fn on_activity(&mut self) {
        self.strikes = 0;
        self.last_ping = None;
    }

    /// Records a PING from the peer; true when the limits are now broken.
    fn on_ping(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last_ping
            && now.duration_since(last) < self.limits.min_interval
        {
            self.strikes = self.strikes.saturating_add(1);
        }
        self.last_ping = Some(now);
        self.strikes > self.limits.max_strikes
    }
}

/// Watches a server connection's frames for PING abuse: the client's
/// PINGs are counted, and data or headers in either direction forgive them.
pub(crate) struct PingTap {
    inbound: FrameScanner,
    outbound: FrameScanner,
    strikes: Strikes,
    watch: Arc<PingWatch>,
}

/// A server connection's I/O under the ping policy.
pub(crate) type PingSniffer<T> = Tapped<T, PingTap>;

impl<T> Tapped<T, PingTap> {
    /// Watches the server side of a connection (which starts with the
    /// client preface).
    pub(crate) fn new(inner: T, limits: PingLimits) -> (PingSniffer<T>, Arc<PingWatch>) {
        let watch = Arc::new(PingWatch::default());
        let tap = PingTap {
            inbound: FrameScanner::after_preface(),
            outbound: FrameScanner::frames(),
            strikes: Strikes {
                limits,
                last_ping: None,
                strikes: 0,
            },
            watch: Arc::clone(&watch),
        };
        (Tapped { inner, tap }, watch)
    }
}

impl Tap for PingTap {
    fn received(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        let strikes = &mut self.strikes;
        let mut broken = false;
        self.inbound.scan(bytes, |seen| match seen {
            Seen::Head(head) if matches!(head.kind, FRAME_DATA | FRAME_HEADERS) => {
                strikes.on_activity();
            }
            Seen::Head(head) if head.kind == FRAME_PING && head.flags & FLAG_ACK == 0 => {
                broken |= strikes.on_ping(now);
            }
            _ => {}
        });
        if broken && !self.watch.violated.swap(true, Ordering::AcqRel) {
            self.watch.notify.notify_waiters();
        }
    }

    fn sent(&mut self, bytes: &[u8]) {
        let strikes = &mut self.strikes;
        self.outbound.scan(bytes, |seen| {
            if let Seen::Head(head) = seen
                && matches!(head.kind, FRAME_DATA | FRAME_HEADERS)
            {
                strikes.on_activity();
            }
        });
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
            s.tap.received(chunk);
        }
        assert!(
            !s.tap.watch.violated.load(Ordering::Acquire),
            "2 strikes are allowed"
        );
        s.tap.received(&frame(FRAME_PING, 0, &[1; 8]));
        assert!(s.tap.watch.violated.load(Ordering::Acquire));
    }

    #[test]
    fn data_between_pings_clears_strikes() {
        let limits = PingLimits {
            min_interval: Duration::from_secs(60),
            max_strikes: 1,
        };
        let mut s = sniffer(limits);
        s.tap.received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..10 {
            s.tap.received(&frame(FRAME_PING, 0, &[0; 8]));
            s.tap.received(&frame(FRAME_DATA, 0, b"hello"));
        }
        assert!(!s.tap.watch.violated.load(Ordering::Acquire));
    }

    #[test]
    fn data_the_server_sends_forgives_pings() {
        // A client that only receives (server streaming) sends a BDP ping
        // per burst of data; the server's DATA frames clear the strikes.
        let limits = PingLimits {
            min_interval: Duration::from_secs(60),
            max_strikes: 1,
        };
        let mut s = sniffer(limits);
        s.tap.received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        let data = frame(FRAME_DATA, 0, &[9; 40]);
        for _ in 0..50 {
            s.tap.received(&frame(FRAME_PING, 0, &[0; 8]));
            // The server's data, chunked unevenly as writes may be.
            let (a, b) = data.split_at(7);
            s.tap.sent(a);
            s.tap.sent(b);
        }
        assert!(!s.tap.watch.violated.load(Ordering::Acquire));
        // Without data between them, pings are strikes again.
        for _ in 0..3 {
            s.tap.received(&frame(FRAME_PING, 0, &[0; 8]));
        }
        assert!(s.tap.watch.violated.load(Ordering::Acquire));
    }

    #[test]
    fn control_frames_the_server_sends_do_not_forgive_pings() {
        let limits = PingLimits {
            min_interval: Duration::from_secs(60),
            max_strikes: 1,
        };
        let mut s = sniffer(limits);
        s.tap.received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..3 {
            s.tap.received(&frame(FRAME_PING, 0, &[0; 8]));
            s.tap.sent(&frame(FRAME_PING, FLAG_ACK, &[0; 8]));
            s.tap.sent(&frame(0x8, 0, &[0, 0, 1, 0])); // WINDOW_UPDATE
        }
        assert!(s.tap.watch.violated.load(Ordering::Acquire));
    }
}
