//! Server and client spans named and fielded per the OpenTelemetry RPC
//! conventions, joined across processes through the W3C `traceparent`
//! metadata: the client sends its span's, the server joins it.

use grpc_core::{Code, Metadata};
use tracing::Span;
use tracing::field::Empty;

/// The span of one server call: `rpc.system = "grpc"`, `rpc.service`,
/// `rpc.method`, `network.peer.address`, `otel.kind = "server"`, the
/// caller's `trace_id` and `parent_span_id` when the request carries a
/// valid `traceparent`, and `rpc.grpc.status_code` once
/// [`record_status`] is called.
///
/// `path` is the request path (`/helloworld.Greeter/SayHello`), `peer`
/// the peer as `ServicerContext::peer` gives it.
pub fn server_span(path: &str, peer: &str, metadata: &Metadata) -> Span {
    let (service, method) = split_path(path);
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        network.peer.address = %peer,
        rpc.grpc.status_code = Empty,
        trace_id = Empty,
        parent_span_id = Empty,
    );
    if let Some(parent) = metadata.get(TRACEPARENT).and_then(TraceParent::parse) {
        span.record("trace_id", parent.trace_id());
        span.record("parent_span_id", parent.parent_id());
    }
    span
}

/// The span of one client call: `rpc.system = "grpc"`, `rpc.service`,
/// `rpc.method`, `server.address` (the channel's target),
/// `otel.kind = "client"`, the `trace_id` and `span_id` it sends as
/// `traceparent` (`context`), and `rpc.grpc.status_code` once
/// [`record_status`] is called.
pub fn client_span(path: &str, target: &str, context: &TraceParent) -> Span {
    let (service, method) = split_path(path);
    tracing::info_span!(
        "grpc.client",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        server.address = %target,
        rpc.grpc.status_code = Empty,
        trace_id = %context.trace_id(),
        span_id = %context.parent_id(),
    )
}

/// Records the call's final code as `rpc.grpc.status_code` (its number).
pub fn record_status(span: &Span, code: Code) {
    span.record("rpc.grpc.status_code", code.value());
}

/// The W3C trace context metadata key.
pub const TRACEPARENT: &str = "traceparent";

/// A W3C `traceparent` value: `00-<trace id>-<parent id>-<flags>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: String,
    parent_id: String,
    flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value; `None` for anything malformed (wrong
    /// lengths, non-hex or upper-case digits, all-zero ids, version `ff`).
    ///
    /// ```
    /// use grpc_metrics::TraceParent;
    /// let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// assert_eq!(parent.map(|p| p.is_sampled()), Some(true));
    /// assert_eq!(TraceParent::parse("00-xyz"), None);
    /// ```
    pub fn parse(value: &str) -> Option<TraceParent> {
        let mut parts = value.trim().split('-');
        let version = parts.next().filter(|v| is_hex(v, 2) && *v != "ff")?;
        let trace_id = parts.next().filter(|id| is_hex(id, 32) && !is_zero(id))?;
        let parent_id = parts.next().filter(|id| is_hex(id, 16) && !is_zero(id))?;
        let flags = parts.next().filter(|f| is_hex(f, 2))?;
        // Version 00 has exactly four parts; later versions may add more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        Some(TraceParent {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }

    /// A new span of `parent`'s trace (same trace id and flags, a new
    /// span id), or the first span of a new, sampled trace.
    ///
    /// ```
    /// use grpc_metrics::TraceParent;
    /// let caller = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// let child = TraceParent::child_of(caller.as_ref());
    /// assert_eq!(child.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert_ne!(child.parent_id(), "00f067aa0ba902b7");
    /// assert_eq!(TraceParent::parse(&child.to_string()), Some(child));
    /// ```
    pub fn child_of(parent: Option<&TraceParent>) -> TraceParent {
        let span_id = format!("{:016x}", nonzero_random());
        match parent {
            Some(parent) => TraceParent {
                trace_id: parent.trace_id.clone(),
                parent_id: span_id,
                flags: parent.flags,
            },
            None => TraceParent {
                trace_id: format!("{:016x}{:016x}", nonzero_random(), nonzero_random()),
                parent_id: span_id,
                flags: 1,
            },
        }
    }

    /// The trace id, 32 lower-case hex digits.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The caller's span id, 16 lower-case hex digits.
    pub fn parent_id(&self) -> &str {
        &self.parent_id
    }

    /// True when the caller sampled the trace (flag `01`).
    pub fn is_sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// The `traceparent` value: `00-<trace id>-<parent id>-<flags>`.
impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

/// A random non-zero id part: std's randomly keyed hasher (each
/// `RandomState` has keys of its own) over the clock; ids need
/// uniqueness, not secrecy.
fn nonzero_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish().max(1)
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_zero(text: &str) -> bool {
    text.bytes().all(|b| b == b'0')
}

/// `(service, method)` of `/package.Service/Method`; a path without a
/// method gives an empty method.
fn split_path(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.rsplit_once('/').unwrap_or((path, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing_rejects_malformed_values() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let parent = TraceParent::parse(good);
        assert_eq!(
            parent.as_ref().map(TraceParent::trace_id),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(parent.map(|p| p.is_sampled()), Some(false));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/helloworld.Greeter/SayHello"),
            ("helloworld.Greeter", "SayHello")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
    }
}
