//! [`ClientWatch`]: what passes on a client connection that h2 does not
//! tell, read from the bytes as they go by.
//!
//! - The last stream id of the server's GOAWAY frames. h2 fails a stream
//!   the server never processed (its id above that) and a stream cut off
//!   when the connection later ends (perhaps processed) with the same
//!   error; the id tells them apart, so that only the first kind is sent
//!   again (gRPC's transparent retry).
//! - How many DATA and HEADERS frames we sent, for the keepalive's
//!   `max_pings_without_data`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::frames::{FLAG_ACK, FRAME_DATA, FRAME_HEADERS, FRAME_SETTINGS, FrameScanner, Seen};
use super::tap::{Tap, Tapped};

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

/// Counts the DATA and HEADERS frames a client sent.
#[derive(Clone, Debug, Default)]
pub(crate) struct DataSent(Arc<AtomicU64>);

impl DataSent {
    /// Frames carrying data or headers sent so far.
    pub(crate) fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether the server's first SETTINGS frame has arrived: until then a
/// connection is not known to be an HTTP/2 server at all (a proxy may
/// accept and close at once).
#[derive(Clone, Debug, Default)]
pub(crate) struct SettingsSeen(Arc<SettingsFlag>);

#[derive(Debug, Default)]
struct SettingsFlag {
    seen: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl SettingsSeen {
    /// Completes once the server's SETTINGS arrived.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.0.seen.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    fn set(&self) {
        if !self.0.seen.swap(true, Ordering::AcqRel) {
            self.0.notify.notify_waiters();
        }
    }
}

/// What a [`ClientWatch`] reports.
#[derive(Clone, Debug, Default)]
pub(crate) struct WireSeen {
    pub(crate) last_stream_id: LastStreamId,
    pub(crate) data_sent: DataSent,
    pub(crate) settings: SettingsSeen,
}

/// Watches a client connection's frames both ways.
pub(crate) struct ClientTap {
    inbound: FrameScanner,
    outbound: FrameScanner,
    seen: WireSeen,
}

/// A client connection's I/O, watched both ways.
pub(crate) type ClientWatch<T> = Tapped<T, ClientTap>;

impl<T> Tapped<T, ClientTap> {
    pub(crate) fn new(inner: T) -> (ClientWatch<T>, WireSeen) {
        let seen = WireSeen::default();
        let tap = ClientTap {
            // The client preface is written by h2 before any frame.
            outbound: FrameScanner::after_preface(),
            inbound: FrameScanner::frames(),
            seen: seen.clone(),
        };
        (Tapped { inner, tap }, seen)
    }
}

impl Tap for ClientTap {
    fn received(&mut self, bytes: &[u8]) {
        let last = &self.seen.last_stream_id;
        let settings = &self.seen.settings;
        self.inbound.scan(bytes, |seen| match seen {
            Seen::GoAway { last_stream_id } => last.lower(last_stream_id),
            Seen::Head(head) if head.kind == FRAME_SETTINGS && head.flags & FLAG_ACK == 0 => {
                settings.set();
            }
            Seen::Head(_) => {}
        });
    }

    fn sent(&mut self, bytes: &[u8]) {
        let data_sent = &self.seen.data_sent;
        self.outbound.scan(bytes, |seen| {
            if let Seen::Head(head) = seen
                && matches!(head.kind, FRAME_DATA | FRAME_HEADERS)
            {
                data_sent.0.fetch_add(1, Ordering::AcqRel);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn goaways_lower_the_last_stream_id() {
        let (mut server, client) = tokio::io::duplex(256);
        let (mut watched, seen) = ClientWatch::new(client);
        let last = seen.last_stream_id;
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

    #[tokio::test]
    async fn data_and_headers_sent_are_counted() {
        let (client, mut server) = tokio::io::duplex(256);
        let (mut watched, seen) = ClientWatch::new(client);
        let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        wire.extend([0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // SETTINGS
        wire.extend([0, 0, 8, 0x6, 0, 0, 0, 0, 0]); // PING
        wire.extend([0; 8]);
        wire.extend([0, 0, 1, 0x1, 0x4, 0, 0, 0, 1, 0x82]); // HEADERS
        wire.extend([0, 0, 2, 0x0, 0x1, 0, 0, 0, 1, 7, 7]); // DATA
        for chunk in wire.chunks(3) {
            watched.write_all(chunk).await.unwrap();
        }
        let mut sink = vec![0u8; wire.len()];
        server.read_exact(&mut sink).await.unwrap();
        assert_eq!(seen.data_sent.count(), 2);
    }
}
