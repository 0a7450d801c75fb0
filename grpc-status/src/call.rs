//! Reading a rich status from a call (grpcio's `rpc_status.from_call`) and
//! turning a `google.rpc.Status` into a [`Status`] (`rpc_status.to_status`).

use grpc_core::{RpcError, Status};
use prost::Message;

use crate::error::RichStatusError;
use crate::pb;
use crate::rich::{RichStatus, capped, code_of};

/// The rich status of a failed call, or `None` when the server sent no
/// `grpc-status-details-bin` — grpcio's `rpc_status.from_call`.
///
/// # Errors
///
/// The trailer is not a `google.rpc.Status`, a standard detail does not
/// decode, or (grpcio's consistency check) the code or message inside
/// differ from the call's `grpc-status` and `grpc-message`.
pub fn from_call(error: &RpcError) -> Result<Option<RichStatus>, RichStatusError> {
    from_status(error.status())
}

/// The rich status carried by `status`; see [`from_call`].
///
/// # Errors
///
/// As [`from_call`].
pub fn from_status(status: &Status) -> Result<Option<RichStatus>, RichStatusError> {
    let bytes = status.binary_details();
    if bytes.is_empty() {
        return Ok(None);
    }
    let proto = pb::Status::decode(bytes.clone()).map_err(RichStatusError::Malformed)?;
    if proto.code != status.code().value() {
        return Err(RichStatusError::CodeMismatch {
            proto: proto.code,
            call: status.code(),
        });
    }
    if proto.message != status.details() {
        return Err(RichStatusError::MessageMismatch {
            proto: proto.message,
            call: status.details().to_owned(),
        });
    }
    RichStatus::from_proto(proto).map(Some)
}

/// The [`Status`] for a `google.rpc.Status` message, carrying it as
/// `grpc-status-details-bin` — grpcio's `rpc_status.to_status`.
///
/// # Errors
///
/// The code is not one of the 17 gRPC codes (grpcio's `ValueError`).
pub fn to_status(proto: &pb::Status) -> Result<Status, RichStatusError> {
    let code = code_of(proto.code)?;
    let message = capped(&proto.message);
    let bytes = if message == proto.message {
        proto.encode_to_vec()
    } else {
        let mut cut = proto.clone();
        cut.message.clone_from(&message);
        cut.encode_to_vec()
    };
    Ok(Status::new(code, message).with_binary_details(bytes))
}

/// Reads the rich status from a [`Status`] or an [`RpcError`]:
/// `error.rich_status()` is [`from_call`].
pub trait RichStatusExt {
    /// The rich status, `None` without `grpc-status-details-bin`; see
    /// [`from_call`].
    ///
    /// # Errors
    ///
    /// As [`from_call`].
    fn rich_status(&self) -> Result<Option<RichStatus>, RichStatusError>;
}

impl RichStatusExt for Status {
    fn rich_status(&self) -> Result<Option<RichStatus>, RichStatusError> {
        from_status(self)
    }
}

impl RichStatusExt for RpcError {
    fn rich_status(&self) -> Result<Option<RichStatus>, RichStatusError> {
        from_call(self)
    }
}

#[cfg(test)]
mod tests {
    use grpc_core::Code;

    use super::*;

    fn proto(code: i32, message: &str) -> pb::Status {
        pb::Status {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    #[test]
    fn no_details_is_none() {
        assert!(matches!(from_status(&Status::internal("x")), Ok(None)));
    }

    #[test]
    fn code_and_message_must_match() {
        let bytes = proto(5, "gone").encode_to_vec();
        let other_code = Status::new(Code::Internal, "gone").with_binary_details(bytes.clone());
        assert!(matches!(
            from_status(&other_code),
            Err(RichStatusError::CodeMismatch {
                proto: 5,
                call: Code::Internal
            })
        ));
        let other_message = Status::new(Code::NotFound, "lost").with_binary_details(bytes);
        let error = from_status(&other_message).err();
        assert!(error.as_ref().is_some_and(RichStatusError::is_mismatch));
        assert!(matches!(
            error,
            Some(RichStatusError::MessageMismatch { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let status = Status::internal("x").with_binary_details(vec![0xff, 0xff, 0xff]);
        assert!(matches!(
            from_status(&status),
            Err(RichStatusError::Malformed(_))
        ));
    }

    #[test]
    fn to_status_checks_the_code() {
        let status = to_status(&proto(5, "gone")).ok();
        assert_eq!(status.as_ref().map(Status::code), Some(Code::NotFound));
        assert!(matches!(
            from_status(&status.unwrap_or_else(Status::ok)),
            Ok(Some(_))
        ));
        assert!(matches!(
            to_status(&proto(99, "")),
            Err(RichStatusError::InvalidCode(99))
        ));
    }
}
