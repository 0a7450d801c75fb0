//! One detail of a rich status: a standard `google.rpc` message or another
//! message still packed in a `google.protobuf.Any`.

use std::error::Error as StdError;
use std::fmt;

use prost::{Message, Name};
use prost_types::Any;

use crate::pb::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo,
};

macro_rules! details {
    ($($name:ident),* $(,)?) => {
        /// A detail of a [`RichStatus`](crate::RichStatus): one of the
        /// standard messages of `google/rpc/error_details.proto`, or a
        /// message of any other type, left packed.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum Detail {
            $(
                #[doc = concat!("A `google.rpc.", stringify!($name), "`.")]
                $name($name),
            )*
            /// A message of another type, as it came: its `type_url` and
            /// encoded `value`.
            Other(Any),
        }

        impl Detail {
            /// Unpacks `any`: a standard type is decoded, any other type is
            /// kept as [`Detail::Other`].
            ///
            /// # Errors
            ///
            /// A standard type whose bytes do not decode as that message.
            pub fn from_any(any: Any) -> Result<Detail, DetailError> {
                let name = type_name(&any.type_url);
                $(
                    if name == $name::full_name() {
                        return decode::<$name>(&any).map(Detail::$name);
                    }
                )*
                Ok(Detail::Other(any))
            }

            /// Packs the detail into a `google.protobuf.Any` with its
            /// `type.googleapis.com/...` URL.
            pub fn to_any(&self) -> Any {
                match self {
                    $(Detail::$name(message) => pack(message),)*
                    Detail::Other(any) => any.clone(),
                }
            }

            /// The full name of the detail's message type, e.g.
            /// `google.rpc.ErrorInfo`.
            pub fn type_name(&self) -> String {
                match self {
                    $(Detail::$name(_) => $name::full_name(),)*
                    Detail::Other(any) => type_name(&any.type_url).to_owned(),
                }
            }
        }

        $(
            impl From<$name> for Detail {
                fn from(message: $name) -> Detail {
                    Detail::$name(message)
                }
            }
        )*
    };
}

details!(
    ErrorInfo,
    RetryInfo,
    DebugInfo,
    QuotaFailure,
    PreconditionFailure,
    BadRequest,
    RequestInfo,
    ResourceInfo,
    Help,
    LocalizedMessage,
);

impl From<Any> for Detail {
    /// Keeps `any` packed as [`Detail::Other`], whatever its type; use
    /// [`Detail::from_any`] to decode the standard types.
    fn from(any: Any) -> Detail {
        Detail::Other(any)
    }
}

/// The message name of a type URL: what follows the last `/`.
fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

fn pack<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

fn decode<M: Message + Name + Default>(any: &Any) -> Result<M, DetailError> {
    M::decode(any.value.as_slice()).map_err(|source| DetailError {
        type_url: any.type_url.clone(),
        source,
    })
}

/// A standard detail whose bytes are not a valid message of its type.
#[derive(Clone, Debug)]
pub struct DetailError {
    type_url: String,
    source: prost::DecodeError,
}

impl DetailError {
    /// The type URL of the malformed detail.
    pub fn type_url(&self) -> &str {
        &self.type_url
    }
}

impl fmt::Display for DetailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status detail {} is malformed: {}",
            self.type_url, self.source
        )
    }
}

impl StdError for DetailError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_details_round_trip_through_any() {
        let info = ErrorInfo {
            reason: "R".into(),
            domain: "d".into(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
        };
        let any = Detail::from(info.clone()).to_any();
        assert_eq!(any.type_url, "type.googleapis.com/google.rpc.ErrorInfo");
        assert_eq!(Detail::from_any(any).ok(), Some(Detail::ErrorInfo(info)));
    }

    #[test]
    fn other_types_stay_packed_and_bad_bytes_are_an_error() {
        let other = Any {
            type_url: "type.googleapis.com/acme.Thing".into(),
            value: vec![1, 2, 3],
        };
        let detail = Detail::from_any(other.clone()).ok();
        assert_eq!(detail, Some(Detail::Other(other.clone())));
        assert_eq!(Detail::Other(other).type_name(), "acme.Thing");

        let broken = Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: vec![0x0a, 0x05, 0x08],
        };
        let error = Detail::from_any(broken).err();
        assert_eq!(
            error.as_ref().map(DetailError::type_url),
            Some("type.googleapis.com/google.rpc.RetryInfo")
        );
        assert!(error.is_some_and(|e| e.to_string().contains("malformed")));
    }
}
