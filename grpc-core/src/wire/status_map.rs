//! Statuses for responses that carry none: HTTP status codes of non-gRPC
//! responses, and RST_STREAM / GOAWAY reasons.

use crate::status::{Code, Status};

/// The status for a non-gRPC HTTP response, per the spec's table.
pub(crate) fn from_http_status(status: http::StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!("Received http2 header with status: {}", status.as_u16()),
    )
}

/// The status for a stream reset with `reason`.
pub(crate) fn from_reason(reason: h2::Reason) -> Code {
    match reason {
        h2::Reason::REFUSED_STREAM => Code::Unavailable,
        h2::Reason::CANCEL => Code::Cancelled,
        h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
        h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
        _ => Code::Internal,
    }
}

/// The status for an h2 error seen while an RPC was in flight.
pub(crate) fn from_h2_error(error: h2::Error) -> Status {
    let (code, what) = if error.is_io() {
        (Code::Unavailable, "connection lost")
    } else if error.is_go_away() {
        (Code::Unavailable, go_away_cause(&error))
    } else if let Some(reason) = error.reason() {
        (from_reason(reason), "stream reset by peer")
    } else {
        (Code::Internal, "HTTP/2 error")
    };
    let details = match error.reason() {
        Some(reason) => format!("{what} ({reason:?})"),
        None => what.to_owned(),
    };
    Status::new(code, details).with_source(error)
}

/// Why a GOAWAY ended the connection, and which side sent it.
fn go_away_cause(error: &h2::Error) -> &'static str {
    if !error.is_remote() {
        // Our own h2 closed the connection: the peer broke the protocol or
        // one of h2's abuse limits (its debug data, logged by h2 at WARN,
        // says which).
        return "connection closed by this side: the peer broke the HTTP/2 protocol or an abuse limit";
    }
    match error.reason() {
        // A GOAWAY that covers this stream means the peer will not process it.
        Some(h2::Reason::NO_ERROR) => "server is shutting down",
        // Too many pings, or too many streams reset (h2's rapid-reset
        // guard): the peer's debug data says which.
        Some(h2::Reason::ENHANCE_YOUR_CALM) => {
            "connection closed by the peer for excessive load (too many pings or stream resets)"
        }
        _ => "connection closed by peer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_table() {
        let code = |n| from_http_status(http::StatusCode::from_u16(n).unwrap()).code();
        assert_eq!(code(400), Code::Internal);
        assert_eq!(code(401), Code::Unauthenticated);
        assert_eq!(code(403), Code::PermissionDenied);
        assert_eq!(code(404), Code::Unimplemented);
        for n in [429, 502, 503, 504] {
            assert_eq!(code(n), Code::Unavailable);
        }
        assert_eq!(code(500), Code::Unknown);
        assert_eq!(code(200), Code::Unknown);
    }

    #[test]
    fn reset_table() {
        assert_eq!(from_reason(h2::Reason::CANCEL), Code::Cancelled);
        assert_eq!(from_reason(h2::Reason::REFUSED_STREAM), Code::Unavailable);
        assert_eq!(from_reason(h2::Reason::NO_ERROR), Code::Internal);
        assert_eq!(from_reason(h2::Reason::PROTOCOL_ERROR), Code::Internal);
        assert_eq!(from_reason(h2::Reason::INTERNAL_ERROR), Code::Internal);
        assert_eq!(from_reason(h2::Reason::FLOW_CONTROL_ERROR), Code::Internal);
        assert_eq!(
            from_reason(h2::Reason::ENHANCE_YOUR_CALM),
            Code::ResourceExhausted
        );
        assert_eq!(
            from_reason(h2::Reason::INADEQUATE_SECURITY),
            Code::PermissionDenied
        );
    }
}
