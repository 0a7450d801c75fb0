//! Channelz counters: what a server and each of its connections (sockets)
//! have done, for the `grpc.channelz.v1` service (the `grpc-channelz`
//! crate) and for anyone who wants to look.
//!
//! Always on and cheap: a few relaxed atomic additions per call and per
//! message, no locks on the call path (a socket's registration takes the
//! server's socket-list lock once per connection).
//!
//! ```
//! let server = grpc_core::Server::builder().build();
//! let stats = server.channelz();
//! assert_eq!(stats.calls().started, 0);
//! assert!(stats.sockets().is_empty());
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::status::Code;

/// Channelz ids are unique in the process, as the protocol asks.
fn next_id() -> i64 {
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Now, as nanoseconds since the Unix epoch (0 before 1970).
fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// A stored timestamp; 0 means never.
fn time_of(nanos: u64) -> Option<SystemTime> {
    (nanos != 0).then(|| UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// Call (or stream) counts at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls started.
    pub started: u64,
    /// Calls that ended with `OK`.
    pub succeeded: u64,
    /// Calls that ended with any other status (rejected, failed,
    /// cancelled).
    pub failed: u64,
    /// When the last call started.
    pub last_started: Option<SystemTime>,
}

#[derive(Debug, Default)]
struct CallCounters {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    last_started: AtomicU64,
}

impl CallCounters {
    fn start(&self, now: u64) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.last_started.store(now, Ordering::Relaxed);
    }

    fn finish(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> CallCounts {
        CallCounts {
            started: self.started.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            last_started: time_of(self.last_started.load(Ordering::Relaxed)),
        }
    }
}

/// A server's channelz record: its calls and its open sockets. Cheap to
/// clone (clones share the record); see
/// [`Server::channelz`](crate::Server::channelz).
#[derive(Clone, Debug)]
pub struct ServerStats {
    inner: Arc<ServerInner>,
}

#[derive(Debug)]
struct ServerInner {
    id: i64,
    calls: CallCounters,
    sockets: Mutex<BTreeMap<i64, Weak<SocketInner>>>,
}

impl ServerStats {
    pub(crate) fn new() -> ServerStats {
        ServerStats {
            inner: Arc::new(ServerInner {
                id: next_id(),
                calls: CallCounters::default(),
                sockets: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The server's channelz id (unique in the process).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    /// The calls the server has received: every gRPC request, including
    /// those refused (unknown method, server stopping, over the limit).
    pub fn calls(&self) -> CallCounts {
        self.inner.calls.snapshot()
    }

    /// The open connections, by id.
    pub fn sockets(&self) -> Vec<SocketStats> {
        self.socket_list()
            .values()
            .filter_map(Weak::upgrade)
            .map(|inner| SocketStats { inner })
            .collect()
    }

    /// The open connection with this id.
    pub fn socket(&self, id: i64) -> Option<SocketStats> {
        let inner = self.socket_list().get(&id)?.upgrade()?;
        Some(SocketStats { inner })
    }

    fn socket_list(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Weak<SocketInner>>> {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Registers a new connection (its addresses, when it has them); it
    /// leaves the list when the last handle to it is dropped.
    pub(crate) fn add_socket(
        &self,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
        peer: &str,
    ) -> SocketStats {
        let inner = Arc::new(SocketInner {
            id: next_id(),
            server: Arc::downgrade(&self.inner),
            local,
            remote,
            remote_name: peer.to_owned(),
            streams: CallCounters::default(),
            messages_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            last_message_sent: AtomicU64::new(0),
            last_message_received: AtomicU64::new(0),
        });
        self.socket_list().insert(inner.id, Arc::downgrade(&inner));
        SocketStats { inner }
    }
}

/// One connection's channelz record. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SocketStats {
    inner: Arc<SocketInner>,
}

#[derive(Debug)]
struct SocketInner {
    id: i64,
    server: Weak<ServerInner>,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    remote_name: String,
    streams: CallCounters,
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    last_message_sent: AtomicU64,
    last_message_received: AtomicU64,
}

impl Drop for SocketInner {
    fn drop(&mut self) {
        if let Some(server) = self.server.upgrade() {
            server
                .sockets
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .remove(&self.id);
        }
    }
}

impl SocketStats {
    /// The socket's channelz id (unique in the process).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    /// The local address (`None` for Unix sockets).
    pub fn local(&self) -> Option<SocketAddr> {
        self.inner.local
    }

    /// The peer's address (`None` for Unix sockets).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.inner.remote
    }

    /// The peer as [`ServicerContext::peer`](crate::ServicerContext::peer)
    /// names it (`ipv4:127.0.0.1:5000`, `unix:/path`).
    pub fn remote_name(&self) -> &str {
        &self.inner.remote_name
    }

    /// The HTTP/2 streams (calls) the peer opened on this connection.
    pub fn streams(&self) -> CallCounts {
        self.inner.streams.snapshot()
    }

    /// Response messages sent on this connection.
    pub fn messages_sent(&self) -> u64 {
        self.inner.messages_sent.load(Ordering::Relaxed)
    }

    /// Request messages received on this connection.
    pub fn messages_received(&self) -> u64 {
        self.inner.messages_received.load(Ordering::Relaxed)
    }

    /// When the last response message was sent.
    pub fn last_message_sent(&self) -> Option<SystemTime> {
        time_of(self.inner.last_message_sent.load(Ordering::Relaxed))
    }

    /// When the last request message was received.
    pub fn last_message_received(&self) -> Option<SystemTime> {
        time_of(self.inner.last_message_received.load(Ordering::Relaxed))
    }

    /// A response message is going out.
    #[cfg(test)]
    pub(crate) fn message_sent(&self) {
        self.sent_messages(1);
    }

    /// `count` messages went out together: one clock read for the batch
    /// (a clock read per message cost a fifth of a small-message stream).
    pub(crate) fn sent_messages(&self, count: u64) {
        if count == 0 {
            return;
        }
        self.inner.messages_sent.fetch_add(count, Ordering::Relaxed);
        self.inner
            .last_message_sent
            .store(now_nanos(), Ordering::Relaxed);
    }

    /// A request message came in.
    pub(crate) fn message_received(&self) {
        self.inner.messages_received.fetch_add(1, Ordering::Relaxed);
        self.inner
            .last_message_received
            .store(now_nanos(), Ordering::Relaxed);
    }

    /// Starts counting one call on this socket and its server; the call
    /// counts as failed unless [`CallRecord::finish`] says otherwise.
    pub(crate) fn call_started(&self) -> CallRecord {
        let now = now_nanos();
        self.inner.streams.start(now);
        if let Some(server) = self.inner.server.upgrade() {
            server.calls.start(now);
        }
        CallRecord {
            socket: self.clone(),
            finished: false,
        }
    }
}

/// One call being counted; dropped unfinished, it counts as failed.
#[derive(Debug)]
pub(crate) struct CallRecord {
    socket: SocketStats,
    finished: bool,
}

impl CallRecord {
    /// The call ended with `code`.
    pub(crate) fn finish(mut self, code: Code) {
        self.record(code == Code::Ok);
    }

    fn record(&mut self, succeeded: bool) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.socket.inner.streams.finish(succeeded);
        if let Some(server) = self.socket.inner.server.upgrade() {
            server.calls.finish(succeeded);
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.record(false);
    }
}

/// A client channel's channelz record: its calls. Cheap to clone; see
/// [`Channel::channelz`](crate::Channel::channelz).
#[derive(Clone)]
pub struct ChannelStats {
    inner: Arc<ChannelStatsInner>,
}

struct ChannelStatsInner {
    id: i64,
    calls: CallCounters,
    /// The channel, for its target and connectivity (weak: the channel
    /// owns this record).
    channel: Weak<crate::channel::ChannelInner>,
}

impl ChannelStats {
    pub(crate) fn new(channel: Weak<crate::channel::ChannelInner>) -> ChannelStats {
        ChannelStats {
            inner: Arc::new(ChannelStatsInner {
                id: next_id(),
                calls: CallCounters::default(),
                channel,
            }),
        }
    }

    /// The channel's channelz id (unique in the process).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    /// The calls made on the channel: started, ended with `OK`, ended
    /// otherwise (including calls that never left, such as an expired
    /// deadline), and when the last one started.
    pub fn calls(&self) -> CallCounts {
        self.inner.calls.snapshot()
    }

    /// The channel, unless every handle to it was dropped.
    pub fn channel(&self) -> Option<crate::Channel> {
        self.inner.channel.upgrade().map(crate::Channel::from_inner)
    }

    /// Starts counting one call; it counts as failed unless finished.
    pub(crate) fn call_started(&self) -> ChannelCallRecord {
        self.inner.calls.start(now_nanos());
        ChannelCallRecord {
            stats: self.clone(),
            finished: false,
        }
    }
}

impl std::fmt::Debug for ChannelStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelStats")
            .field("id", &self.id())
            .field("calls", &self.calls())
            .finish()
    }
}

/// One client call being counted; dropped unfinished, it counts as failed.
pub(crate) struct ChannelCallRecord {
    stats: ChannelStats,
    finished: bool,
}

impl ChannelCallRecord {
    /// The call ended with `code`.
    pub(crate) fn finish(mut self, code: Code) {
        self.finished = true;
        self.stats.inner.calls.finish(code == Code::Ok);
    }
}

impl Drop for ChannelCallRecord {
    fn drop(&mut self) {
        if !self.finished {
            self.stats.inner.calls.finish(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_count_on_socket_and_server_and_sockets_leave_when_dropped() {
        let server = ServerStats::new();
        let socket = server.add_socket(None, None, "ipv4:127.0.0.1:1");
        assert_eq!(server.sockets().len(), 1);
        assert!(server.socket(socket.id()).is_some());

        let ok = socket.call_started();
        socket.message_received();
        socket.message_sent();
        socket.message_sent();
        ok.finish(Code::Ok);
        socket.call_started().finish(Code::NotFound);
        drop(socket.call_started()); // never finished: failed

        let calls = server.calls();
        assert_eq!((calls.started, calls.succeeded, calls.failed), (3, 1, 2));
        assert!(calls.last_started.is_some());
        assert_eq!(socket.streams(), calls);
        assert_eq!((socket.messages_sent(), socket.messages_received()), (2, 1));
        assert!(socket.last_message_sent().is_some());

        let id = socket.id();
        drop(socket);
        assert!(server.sockets().is_empty());
        assert!(server.socket(id).is_none());
        assert_ne!(ServerStats::new().id(), server.id());
    }
}
