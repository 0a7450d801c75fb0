//! [`RichStatus`]: a status code, message and standard details, built by a
//! server and read back by a client.

use grpc_core::{Code, Status};
use prost::Message;
use prost_types::Any;

use crate::detail::Detail;
use crate::error::RichStatusError;
use crate::pb;
use crate::pb::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo,
};

/// The longest message sent as is; rustgrpc cuts a longer `grpc-message`
/// (see `grpc_core`'s trailers), so the message inside the
/// `google.rpc.Status` is cut the same way to stay consistent.
const MAX_MESSAGE_LEN: usize = 4 << 10;

/// A `google.rpc.Status` with its details decoded: the code, the message and
/// the details, in order.
///
/// Build one with [`RichStatus::new`] and the `with_*` methods, send it with
/// [`RichStatus::to_status`]; read one with [`from_call`](crate::from_call).
#[derive(Clone, Debug, PartialEq)]
pub struct RichStatus {
    code: Code,
    message: String,
    details: Vec<Detail>,
}

macro_rules! standard_details {
    ($($with:ident, $get:ident => $name:ident;)*) => {
        $(
            #[doc = concat!("Adds a `google.rpc.", stringify!($name), "` detail.")]
            #[must_use]
            pub fn $with(self, detail: $name) -> RichStatus {
                self.with_detail(detail)
            }

            #[doc = concat!("The first `google.rpc.", stringify!($name), "` detail, if any.")]
            pub fn $get(&self) -> Option<&$name> {
                self.details.iter().find_map(|detail| match detail {
                    Detail::$name(message) => Some(message),
                    _ => None,
                })
            }
        )*
    };
}

impl RichStatus {
    /// A status with `code`, `message` and no details yet.
    pub fn new(code: Code, message: impl Into<String>) -> RichStatus {
        RichStatus {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds a detail: a standard message (`ErrorInfo`, `BadRequest`, ...)
    /// or a [`Detail`].
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Detail>) -> RichStatus {
        self.details.push(detail.into());
        self
    }

    /// Adds a detail of any type, packed; a standard type is decoded so
    /// that its accessor finds it, one that does not decode is kept packed.
    #[must_use]
    pub fn with_any(self, any: Any) -> RichStatus {
        let detail = Detail::from_any(any.clone()).unwrap_or(Detail::Other(any));
        self.with_detail(detail)
    }

    standard_details! {
        with_error_info, error_info => ErrorInfo;
        with_retry_info, retry_info => RetryInfo;
        with_debug_info, debug_info => DebugInfo;
        with_quota_failure, quota_failure => QuotaFailure;
        with_precondition_failure, precondition_failure => PreconditionFailure;
        with_bad_request, bad_request => BadRequest;
        with_request_info, request_info => RequestInfo;
        with_resource_info, resource_info => ResourceInfo;
        with_help, help => Help;
        with_localized_message, localized_message => LocalizedMessage;
    }

    /// The status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The developer-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// All details, in the order they were added or sent.
    pub fn details(&self) -> &[Detail] {
        &self.details
    }

    /// The details of non-standard types, still packed.
    pub fn other_details(&self) -> impl Iterator<Item = &Any> {
        self.details.iter().filter_map(|detail| match detail {
            Detail::Other(any) => Some(any),
            _ => None,
        })
    }

    /// The `google.rpc.Status` message.
    pub fn to_proto(&self) -> pb::Status {
        pb::Status {
            code: self.code.value(),
            message: self.message.clone(),
            details: self.details.iter().map(Detail::to_any).collect(),
        }
    }

    /// Decodes the details of a `google.rpc.Status`.
    ///
    /// # Errors
    ///
    /// A code outside 0..=16, or a standard detail that does not decode.
    pub fn from_proto(proto: pb::Status) -> Result<RichStatus, RichStatusError> {
        let code = code_of(proto.code)?;
        let details = proto
            .details
            .into_iter()
            .map(Detail::from_any)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RichStatus {
            code,
            message: proto.message,
            details,
        })
    }

    /// The [`Status`] to fail a call with: code, message and the encoded
    /// `google.rpc.Status` as `grpc-status-details-bin` — grpcio's
    /// `rpc_status.to_status`.
    ///
    /// A message over 4 KiB is cut (as rustgrpc cuts every
    /// `grpc-message`) in both places, so the peer's consistency check
    /// still passes.
    pub fn to_status(&self) -> Status {
        let message = capped(&self.message);
        let mut proto = self.to_proto();
        proto.message.clone_from(&message);
        Status::new(self.code, message).with_binary_details(proto.encode_to_vec())
    }
}

impl From<RichStatus> for Status {
    fn from(rich: RichStatus) -> Status {
        rich.to_status()
    }
}

/// The code for a `google.rpc.Status` code number.
pub(crate) fn code_of(value: i32) -> Result<Code, RichStatusError> {
    if (0..=16).contains(&value) {
        Ok(Code::from_i32(value))
    } else {
        Err(RichStatusError::InvalidCode(value))
    }
}

/// `message`, cut at a character boundary past [`MAX_MESSAGE_LEN`] bytes
/// exactly as rustgrpc cuts `grpc-message`.
pub(crate) fn capped(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_LEN {
        return message.to_owned();
    }
    let mut end = MAX_MESSAGE_LEN;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... (truncated)", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_find_the_first_detail_of_each_type() {
        let rich = RichStatus::new(Code::Unavailable, "later")
            .with_retry_info(RetryInfo {
                retry_delay: Some(prost_types::Duration {
                    seconds: 3,
                    nanos: 0,
                }),
            })
            .with_help(Help::default())
            .with_any(Any {
                type_url: "type.googleapis.com/acme.Other".into(),
                value: vec![],
            });
        assert_eq!(
            rich.retry_info()
                .and_then(|r| r.retry_delay)
                .map(|d| d.seconds),
            Some(3)
        );
        assert!(rich.help().is_some());
        assert!(rich.error_info().is_none());
        assert_eq!(rich.other_details().count(), 1);
        assert_eq!(rich.details().len(), 3);
    }

    #[test]
    fn proto_round_trip_keeps_order_and_rejects_bad_codes() {
        let rich = RichStatus::new(Code::NotFound, "gone")
            .with_resource_info(ResourceInfo {
                resource_type: "book".into(),
                ..Default::default()
            })
            .with_error_info(ErrorInfo::default());
        assert_eq!(RichStatus::from_proto(rich.to_proto()).ok(), Some(rich));

        let bad = pb::Status {
            code: 17,
            ..Default::default()
        };
        assert!(matches!(
            RichStatus::from_proto(bad),
            Err(RichStatusError::InvalidCode(17))
        ));
    }

    #[test]
    fn long_messages_are_cut_consistently() {
        let long = "é".repeat(3000);
        let status = RichStatus::new(Code::Internal, long).to_status();
        assert!(status.details().ends_with("... (truncated)"));
        let proto = pb::Status::decode(status.binary_details().clone()).ok();
        assert_eq!(proto.map(|p| p.message), Some(status.details().to_owned()));
    }
}
