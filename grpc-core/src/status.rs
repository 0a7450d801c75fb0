//! Status codes, the [`Status`] a call ends with, and the client-side [`RpcError`].

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::metadata::Metadata;

/// The 17 gRPC status codes, named as grpcio names them (`StatusCode.OK` ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// Not an error; returned on success.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error, e.g. an exception raised by a handler.
    Unknown = 2,
    /// The client specified an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity that a client attempted to create already exists.
    AlreadyExists = 6,
    /// The caller does not have permission to execute the operation.
    PermissionDenied = 7,
    /// Some resource has been exhausted (quota, message size, concurrency).
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted, typically due to a concurrency issue.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// Internal error: an invariant expected by the system was broken.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request does not have valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// All codes, in numeric order.
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The numeric value sent as `grpc-status`.
    pub fn value(self) -> i32 {
        self as i32
    }

    /// The code for a numeric `grpc-status`; values outside 0..=16 are `Unknown`.
    pub fn from_i32(value: i32) -> Code {
        usize::try_from(value)
            .ok()
            .and_then(|index| Code::ALL.get(index).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The grpcio name of the code: `"OK"`, `"CANCELLED"`, `"DEADLINE_EXCEEDED"`, ...
    ///
    /// ```
    /// assert_eq!(grpc_core::Code::DeadlineExceeded.name(), "DEADLINE_EXCEEDED");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Parses a grpcio name (`"NOT_FOUND"`); case-sensitive.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|code| code.name() == name)
    }

    /// Parses a `grpc-status` header value; anything but a plain integer is `None`.
    pub(crate) fn from_header(value: &[u8]) -> Option<Code> {
        let text = std::str::from_utf8(value).ok()?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<i32>().ok().map(Code::from_i32)
    }

    /// The header value for this code (`"0"` ... `"16"`).
    pub(crate) fn header_value(self) -> http::HeaderValue {
        const VALUES: [&str; 17] = [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
            "16",
        ];
        http::HeaderValue::from_static(VALUES[self as usize])
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode.{}", self.name())
    }
}

/// The outcome of an RPC: a code, a human-readable message, optional binary
/// details (`grpc-status-details-bin`) and trailing metadata.
///
/// Handlers return `Err(Status)`; clients see it inside an [`RpcError`].
///
/// ```
/// use grpc_core::{Code, Status};
/// let status = Status::not_found("no such feature");
/// assert_eq!(status.code(), Code::NotFound);
/// assert_eq!(status.details(), "no such feature");
/// ```
#[derive(Clone)]
pub struct Status {
    code: Code,
    details: String,
    binary_details: Bytes,
    metadata: Metadata,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

macro_rules! status_constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(details: impl Into<String>) -> Status {
                Status::new(Code::$code, details)
            }
        )*
    };
}

impl Status {
    /// A status with `code` and `details`.
    pub fn new(code: Code, details: impl Into<String>) -> Status {
        Status {
            code,
            details: details.into(),
            binary_details: Bytes::new(),
            metadata: Metadata::new(),
            source: None,
        }
    }

    /// The OK status with empty details.
    pub fn ok() -> Status {
        Status::new(Code::Ok, "")
    }

    status_constructors! {
        /// A `CANCELLED` status.
        cancelled => Cancelled,
        /// An `UNKNOWN` status.
        unknown => Unknown,
        /// An `INVALID_ARGUMENT` status.
        invalid_argument => InvalidArgument,
        /// A `DEADLINE_EXCEEDED` status.
        deadline_exceeded => DeadlineExceeded,
        /// A `NOT_FOUND` status.
        not_found => NotFound,
        /// An `ALREADY_EXISTS` status.
        already_exists => AlreadyExists,
        /// A `PERMISSION_DENIED` status.
        permission_denied => PermissionDenied,
        /// A `RESOURCE_EXHAUSTED` status.
        resource_exhausted => ResourceExhausted,
        /// A `FAILED_PRECONDITION` status.
        failed_precondition => FailedPrecondition,
        /// An `ABORTED` status.
        aborted => Aborted,
        /// An `OUT_OF_RANGE` status.
        out_of_range => OutOfRange,
        /// An `UNIMPLEMENTED` status.
        unimplemented => Unimplemented,
        /// An `INTERNAL` status.
        internal => Internal,
        /// An `UNAVAILABLE` status.
        unavailable => Unavailable,
        /// A `DATA_LOSS` status.
        data_loss => DataLoss,
        /// An `UNAUTHENTICATED` status.
        unauthenticated => Unauthenticated,
    }

    /// Attaches binary error details, sent as `grpc-status-details-bin`
    /// (usually an encoded `google.rpc.Status`).
    pub fn with_binary_details(mut self, details: impl Into<Bytes>) -> Status {
        self.binary_details = details.into();
        self
    }

    /// Attaches trailing metadata sent with the status.
    pub fn with_metadata(mut self, metadata: Metadata) -> Status {
        self.metadata = metadata;
        self
    }

    /// Records the underlying cause, returned by [`std::error::Error::source`].
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Status {
        self.source = Some(Arc::new(source));
        self
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The status message (`grpc-message`), already percent-decoded.
    pub fn details(&self) -> &str {
        &self.details
    }

    /// The binary details (`grpc-status-details-bin`); empty when absent.
    pub fn binary_details(&self) -> &Bytes {
        &self.binary_details
    }

    /// Trailing metadata sent with the status.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Mutable access to the trailing metadata.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// True when the code is `OK`.
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Status");
        debug
            .field("code", &self.code)
            .field("details", &self.details);
        if !self.binary_details.is_empty() {
            debug.field("binary_details", &self.binary_details.len());
        }
        if !self.metadata.is_empty() {
            debug.field("metadata", &self.metadata);
        }
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.details.is_empty() {
            write!(f, "{}", self.code.name())
        } else {
            write!(f, "{}: {}", self.code.name(), self.details)
        }
    }
}

impl StdError for Status {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// Why an [`RpcError`] was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RpcErrorKind {
    /// The RPC terminated with a non-OK status.
    Rpc,
    /// `CallFuture::result(timeout)` gave up waiting (grpcio's `FutureTimeoutError`).
    FutureTimeout,
    /// The future was cancelled (grpcio's `FutureCancelledError`).
    FutureCancelled,
}

/// A failed RPC as the client sees it: grpcio's `RpcError`, which is also a
/// `Call` (code, details, initial and trailing metadata), plus the two
/// future errors (`FutureTimeoutError`, `FutureCancelledError`).
///
/// ```
/// use grpc_core::{Code, RpcError, Status};
/// let err = RpcError::from(Status::unavailable("connection refused"));
/// assert_eq!(err.code(), Code::Unavailable);
/// assert!(err.is_unavailable());
/// assert_eq!(err.to_string(), "RPC failed with UNAVAILABLE: connection refused");
/// ```
#[derive(Clone)]
pub struct RpcError {
    inner: Box<RpcErrorInner>,
}

#[derive(Clone)]
struct RpcErrorInner {
    kind: RpcErrorKind,
    status: Status,
    initial_metadata: Metadata,
}

impl RpcError {
    pub(crate) fn with_initial_metadata(mut self, initial_metadata: Metadata) -> RpcError {
        self.inner.initial_metadata = initial_metadata;
        self
    }

    pub(crate) fn future_timeout() -> RpcError {
        RpcError::of_kind(
            RpcErrorKind::FutureTimeout,
            Status::deadline_exceeded("Future timed out before the RPC completed"),
        )
    }

    pub(crate) fn future_cancelled() -> RpcError {
        RpcError::of_kind(
            RpcErrorKind::FutureCancelled,
            Status::cancelled("Locally cancelled by application!"),
        )
    }

    fn of_kind(kind: RpcErrorKind, status: Status) -> RpcError {
        RpcError {
            inner: Box::new(RpcErrorInner {
                kind,
                status,
                initial_metadata: Metadata::new(),
            }),
        }
    }

    /// The status code the RPC ended with.
    pub fn code(&self) -> Code {
        self.inner.status.code()
    }

    /// The status details (`grpc-message`).
    pub fn details(&self) -> &str {
        self.inner.status.details()
    }

    /// The full status, with binary details and trailing metadata.
    pub fn status(&self) -> &Status {
        &self.inner.status
    }

    /// Consumes the error, returning its status.
    pub fn into_status(self) -> Status {
        self.inner.status
    }

    /// Initial metadata the server sent before failing (empty if none).
    pub fn initial_metadata(&self) -> &Metadata {
        &self.inner.initial_metadata
    }

    /// Trailing metadata the server sent with the status.
    pub fn trailing_metadata(&self) -> &Metadata {
        self.inner.status.metadata()
    }

    /// True for grpcio's `FutureTimeoutError`: `result(timeout)` gave up
    /// waiting, the RPC itself goes on.
    pub fn is_future_timeout(&self) -> bool {
        self.inner.kind == RpcErrorKind::FutureTimeout
    }

    /// True for grpcio's `FutureCancelledError`: the future was cancelled.
    pub fn is_future_cancelled(&self) -> bool {
        self.inner.kind == RpcErrorKind::FutureCancelled
    }

    /// True when the RPC ended with `CANCELLED`.
    pub fn is_cancelled(&self) -> bool {
        self.code() == Code::Cancelled
    }

    /// True when the RPC ended with `DEADLINE_EXCEEDED`.
    pub fn is_deadline_exceeded(&self) -> bool {
        self.code() == Code::DeadlineExceeded && self.inner.kind == RpcErrorKind::Rpc
    }

    /// True when the RPC ended with `UNAVAILABLE` (connection problems).
    pub fn is_unavailable(&self) -> bool {
        self.code() == Code::Unavailable
    }

    /// True when the RPC ended with `UNIMPLEMENTED`.
    pub fn is_unimplemented(&self) -> bool {
        self.code() == Code::Unimplemented
    }

    /// True when the RPC ended with `RESOURCE_EXHAUSTED`.
    pub fn is_resource_exhausted(&self) -> bool {
        self.code() == Code::ResourceExhausted
    }
}

impl From<Status> for RpcError {
    fn from(status: Status) -> RpcError {
        RpcError::of_kind(RpcErrorKind::Rpc, status)
    }
}

impl From<RpcError> for Status {
    fn from(error: RpcError) -> Status {
        error.into_status()
    }
}

impl fmt::Debug for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcError")
            .field("kind", &self.inner.kind)
            .field("status", &self.inner.status)
            .finish()
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.kind {
            RpcErrorKind::FutureTimeout => f.write_str("future timed out before the RPC completed"),
            RpcErrorKind::FutureCancelled => f.write_str("future was cancelled"),
            RpcErrorKind::Rpc => {
                let status = &self.inner.status;
                if status.details().is_empty() {
                    write!(f, "RPC failed with {}", status.code().name())
                } else {
                    write!(
                        f,
                        "RPC failed with {}: {}",
                        status.code().name(),
                        status.details()
                    )
                }
            }
        }
    }
}

impl StdError for RpcError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.status.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_numbers_and_names() {
        for (index, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.value(), index as i32);
            assert_eq!(Code::from_i32(index as i32), *code);
            assert_eq!(Code::from_name(code.name()), Some(*code));
            assert_eq!(
                Code::from_header(code.header_value().as_bytes()),
                Some(*code)
            );
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_header(b"abc"), None);
        assert_eq!(Code::from_header(b""), None);
        assert_eq!(Code::from_header(b"+1"), None);
    }

    #[test]
    fn status_and_error_print_something_useful() {
        let status = Status::new(Code::NotFound, "missing thing");
        assert_eq!(status.to_string(), "NOT_FOUND: missing thing");
        let error = RpcError::from(status);
        assert_eq!(
            error.to_string(),
            "RPC failed with NOT_FOUND: missing thing"
        );
        assert!(RpcError::future_timeout().is_future_timeout());
        assert!(!RpcError::future_timeout().is_deadline_exceeded());
        assert!(RpcError::future_cancelled().is_cancelled());
    }

    #[test]
    fn rpc_error_stays_small() {
        assert_eq!(
            std::mem::size_of::<RpcError>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn status_carries_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let status = Status::unavailable("connect failed").with_source(io);
        let error = RpcError::from(status);
        assert_eq!(
            error.source().map(|s| s.to_string()),
            Some("refused".into())
        );
    }
}
