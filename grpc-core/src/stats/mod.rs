//! Call tracers: per-call (server) and per-attempt (client) observers of
//! what crosses the wire, in the spirit of grpc-java's `StreamTracer` and
//! grpc-go's `stats.Handler`.
//!
//! A [`ServerTracer`] is registered on the
//! [`ServerBuilder`](crate::ServerBuilder) with
//! [`tracer`](crate::ServerBuilder::tracer); for every admitted call it may
//! return a [`ServerCallTracer`], which is told of each request message
//! received and each response message sent with its size on the wire, of
//! the response headers, and of the call's end with its status code. One
//! implementation serves gRPC, gRPC-Web and Connect calls alike.
//!
//! A [`ClientTracer`] is registered on the
//! [`ChannelBuilder`](crate::ChannelBuilder) with
//! [`tracer`](crate::ChannelBuilder::tracer); the channel asks it for an
//! [`AttemptTracer`] for every attempt it puts on the wire: the first, each
//! retry and hedge of the service config's policies, and the transparent
//! retries of streams a server refused unprocessed. Client interceptors sit
//! outside retries (as in grpcio) and see one call; a tracer sees every
//! attempt.
//!
//! Nothing is allocated or called for a call when no tracer is registered.
//! Tracer methods run on the call's I/O task: keep them short (count,
//! record), never block.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use grpc_core::{Code, HandlerCallDetails, ServerCallTracer, ServerTracer, WireMessage};
//!
//! /// Counts the bytes every call receives.
//! #[derive(Default)]
//! struct BytesIn(Arc<AtomicUsize>);
//!
//! struct CallBytes(Arc<AtomicUsize>);
//!
//! impl ServerTracer for BytesIn {
//!     fn start_call(&self, _call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>> {
//!         Some(Box::new(CallBytes(Arc::clone(&self.0))))
//!     }
//! }
//!
//! impl ServerCallTracer for CallBytes {
//!     fn message_received(&self, message: WireMessage) {
//!         self.0.fetch_add(message.wire_len(), Ordering::Relaxed);
//!     }
//!     fn call_ended(&self, _code: Code) {}
//! }
//!
//! let server = grpc_core::Server::builder().tracer(BytesIn::default()).build();
//! # drop(server);
//! ```

pub(crate) mod client;
pub(crate) mod server;

use std::fmt;
use std::sync::Arc;

use crate::codec::framing::RawMessage;
use crate::metadata::Metadata;
use crate::server::HandlerCallDetails;
use crate::status::{Code, Status};

/// One message as it crossed the wire: its length without the 5-byte
/// gRPC prefix, compressed if it was (gRFC A66's "compressed message
/// size", before any TLS).
///
/// On Connect calls in JSON, a received message is the JSON as it came;
/// a sent one is measured as the server encoded it, in protobuf, before
/// it is transcoded to JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireMessage {
    wire_len: usize,
    compressed: bool,
}

impl WireMessage {
    /// A message of `wire_len` bytes on the wire.
    pub fn new(wire_len: usize, compressed: bool) -> WireMessage {
        WireMessage {
            wire_len,
            compressed,
        }
    }

    /// Its length on the wire, without the 5-byte prefix.
    pub fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// True when the message was compressed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    pub(crate) fn of(raw: &RawMessage) -> WireMessage {
        WireMessage::new(raw.payload.len(), raw.compressed)
    }
}

/// Calls `each` for every length-prefixed message in `frames` (whole
/// messages, as the server's send buffer or a client request holds them).
pub(crate) fn for_each_frame(frames: &[u8], mut each: impl FnMut(WireMessage)) {
    use crate::codec::framing::HEADER_LEN;
    let mut rest = frames;
    while rest.len() >= HEADER_LEN {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        each(WireMessage::new(len, rest[0] & 1 == 1));
        rest = &rest[(HEADER_LEN + len).min(rest.len())..];
    }
}

/// Creates the tracer of each server call; registered with
/// [`ServerBuilder::tracer`](crate::ServerBuilder::tracer).
pub trait ServerTracer: Send + Sync + 'static {
    /// A call was admitted (its method is registered and its request
    /// headers are read); `None` leaves this call untraced. `call` gives
    /// the method, the invocation metadata, the peer and, through
    /// [`context`](HandlerCallDetails::context), the protocol.
    fn start_call(&self, call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>>;
}

/// Observes one server call, from its admission to its end.
pub trait ServerCallTracer: Send + Sync {
    /// A request message arrived.
    fn message_received(&self, message: WireMessage) {
        let _ = message;
    }

    /// The response headers are going out with this metadata (empty when
    /// the handler set none). Not called for a call that ends with its
    /// status alone (Trailers-Only, a Connect error).
    fn headers_sent(&self, metadata: &Metadata) {
        let _ = metadata;
    }

    /// A response message is going out (handed to the transport).
    fn message_sent(&self, message: WireMessage) {
        let _ = message;
    }

    /// The call ended with `code`, the status the client was sent
    /// (`CANCELLED` when the client went away or the call was cancelled).
    /// Called exactly once, last.
    fn call_ended(&self, code: Code);
}

/// Creates the tracer of each client attempt; registered with
/// [`ChannelBuilder::tracer`](crate::ChannelBuilder::tracer).
pub trait ClientTracer: Send + Sync + 'static {
    /// An attempt is about to open its stream; `None` leaves it untraced.
    fn start_attempt(&self, attempt: &AttemptInfo<'_>) -> Option<Box<dyn AttemptTracer>>;
}

/// Observes one attempt of a client call: its stream, from the request
/// headers to the status.
pub trait AttemptTracer: Send + Sync {
    /// A request message went out (handed to the transport).
    fn message_sent(&self, message: WireMessage) {
        let _ = message;
    }

    /// The response headers arrived (not called for a Trailers-Only
    /// response).
    fn headers_received(&self, metadata: &Metadata) {
        let _ = metadata;
    }

    /// A response message arrived.
    fn message_received(&self, message: WireMessage) {
        let _ = message;
    }

    /// The attempt ended with `status`. An attempt the call abandons (a
    /// losing hedge, the call's cancellation) ends `CANCELLED`, one cut
    /// short by the call's deadline `DEADLINE_EXCEEDED`. Called exactly
    /// once, last.
    fn attempt_ended(&self, status: &Status);
}

/// What an [`AttemptTracer`] is told when its attempt starts.
#[derive(Debug)]
pub struct AttemptInfo<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) previous_attempts: u32,
    pub(crate) transparent_retry: bool,
    pub(crate) metadata: &'a Metadata,
}

impl AttemptInfo<'_> {
    /// The full method name, `/package.Service/Method`.
    pub fn method(&self) -> &str {
        self.method
    }

    /// The channel's target (`grpc.target`), as it was created with.
    pub fn target(&self) -> &str {
        self.target
    }

    /// Attempts of this call before this one: what the request's
    /// `grpc-previous-rpc-attempts` header says (absent when 0). A
    /// transparent retry repeats the count of the attempt it replaces.
    pub fn previous_attempts(&self) -> u32 {
        self.previous_attempts
    }

    /// True for a transparent retry: the same attempt sent again because
    /// the server refused its stream unprocessed (REFUSED_STREAM, GOAWAY).
    pub fn is_transparent_retry(&self) -> bool {
        self.transparent_retry
    }

    /// The call's metadata, sent with the attempt's request headers.
    pub fn metadata(&self) -> &Metadata {
        self.metadata
    }
}

/// The tracers of one call or attempt, at least one: the first inline,
/// so that a single tracer costs no vector.
pub(crate) struct Started<T: ?Sized> {
    first: Box<T>,
    rest: Vec<Box<T>>,
}

impl<T: ?Sized> Started<T> {
    /// The tracers `start` gives, `None` when none does.
    pub(crate) fn collect(mut tracers: impl Iterator<Item = Box<T>>) -> Option<Started<T>> {
        let first = tracers.next()?;
        Some(Started {
            first,
            rest: tracers.collect(),
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        std::iter::once(&*self.first).chain(self.rest.iter().map(|tracer| &**tracer))
    }
}

/// The tracers registered on a server or channel.
pub(crate) struct Tracers<T: ?Sized>(Vec<Arc<T>>);

impl<T: ?Sized> Tracers<T> {
    pub(crate) fn with(mut self, tracer: Arc<T>) -> Tracers<T> {
        self.0.push(tracer);
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<T>> {
        self.0.iter()
    }
}

impl<T: ?Sized> Default for Tracers<T> {
    fn default() -> Self {
        Tracers(Vec::new())
    }
}

impl<T: ?Sized> Clone for Tracers<T> {
    fn clone(&self) -> Self {
        Tracers(self.0.clone())
    }
}

impl<T: ?Sized> fmt::Debug for Tracers<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tracers({})", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_walked_message_by_message() {
        let frames = b"\0\0\0\0\x03abc\x01\0\0\0\x01z\0\0\0\0\0";
        let mut seen = Vec::new();
        for_each_frame(frames, |message| seen.push(message));
        assert_eq!(
            seen,
            [
                WireMessage::new(3, false),
                WireMessage::new(1, true),
                WireMessage::new(0, false)
            ]
        );
    }
}
