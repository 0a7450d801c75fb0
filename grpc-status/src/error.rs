//! Why a rich status could not be read or built.

use std::error::Error as StdError;
use std::fmt;

use grpc_core::Code;

use crate::detail::DetailError;

/// Why a `google.rpc.Status` could not be read from a call or turned into
/// a [`grpc_core::Status`].
///
/// The mismatch cases are grpcio's `ValueError`s of `rpc_status.from_call`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RichStatusError {
    /// `grpc-status-details-bin` is not an encoded `google.rpc.Status`.
    Malformed(prost::DecodeError),
    /// A standard detail does not decode as its type.
    MalformedDetail(DetailError),
    /// The `google.rpc.Status` code is not one of the 17 gRPC codes.
    InvalidCode(i32),
    /// The `google.rpc.Status` code differs from the call's `grpc-status`.
    CodeMismatch {
        /// The code inside the `google.rpc.Status`.
        proto: i32,
        /// The call's status code.
        call: Code,
    },
    /// The `google.rpc.Status` message differs from the call's
    /// `grpc-message`.
    MessageMismatch {
        /// The message inside the `google.rpc.Status`.
        proto: String,
        /// The call's status details.
        call: String,
    },
}

impl RichStatusError {
    /// True for the consistency errors: code or message of the
    /// `google.rpc.Status` differ from the call's.
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            RichStatusError::CodeMismatch { .. } | RichStatusError::MessageMismatch { .. }
        )
    }
}

impl fmt::Display for RichStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RichStatusError::Malformed(error) => {
                write!(
                    f,
                    "grpc-status-details-bin is not a google.rpc.Status: {error}"
                )
            }
            RichStatusError::MalformedDetail(error) => error.fmt(f),
            RichStatusError::InvalidCode(code) => {
                write!(f, "google.rpc.Status has an invalid code {code}")
            }
            RichStatusError::CodeMismatch { proto, call } => write!(
                f,
                "code in google.rpc.Status ({proto}) doesn't match status code ({})",
                call.value()
            ),
            RichStatusError::MessageMismatch { proto, call } => write!(
                f,
                "message in google.rpc.Status ({proto:?}) doesn't match status details ({call:?})"
            ),
        }
    }
}

impl StdError for RichStatusError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            RichStatusError::Malformed(error) => Some(error),
            RichStatusError::MalformedDetail(error) => Some(error),
            _ => None,
        }
    }
}

impl From<DetailError> for RichStatusError {
    fn from(error: DetailError) -> RichStatusError {
        RichStatusError::MalformedDetail(error)
    }
}

impl From<RichStatusError> for grpc_core::Status {
    /// An `INTERNAL` status saying what was wrong, with the error as its
    /// source (for a handler that relays a peer's rich status).
    fn from(error: RichStatusError) -> grpc_core::Status {
        grpc_core::Status::internal(error.to_string()).with_source(error)
    }
}
