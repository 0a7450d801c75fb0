//! The codec traits: how a message type becomes the bytes of one gRPC
//! message and back ([`Codec`], [`Encoder`], [`Decoder`]), and the
//! default, [`ProstCodec`].
//!
//! A codec is named by its content-subtype, as grpc-go's
//! `encoding.Codec.Name()`: a call made with a codec named `json` is sent
//! as `application/grpc+json`, and the server answers it with the method
//! registered under the same codec. The default (`proto`) is sent as plain
//! `application/grpc`, as every gRPC peer expects.

use bytes::{Bytes, BytesMut};

use crate::status::Status;

/// Which end of a method a codec serves: a client encodes the method's
/// input and decodes its output, a server the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecSide {
    /// Encodes requests, decodes responses.
    Client,
    /// Decodes requests, encodes responses.
    Server,
}

/// A message format (grpc-go's `encoding.Codec`, tonic's `Codec`): a name
/// for the wire, and [`Encoder`] / [`Decoder`] implementations for the
/// message types it carries.
///
/// A codec value is bound to each method it serves once, when a
/// multi-callable or a handler is made with it
/// ([`for_method`](Self::for_method)); a codec that needs the method's
/// schema (as [`JsonCodec`](crate::JsonCodec) does) resolves it there.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use grpc_core::{Codec, Decoder, Encoder, Status};
///
/// /// Strings as UTF-8 text, on the wire as `application/grpc+text`.
/// #[derive(Clone, Copy, Debug, Default)]
/// struct TextCodec;
///
/// impl Codec for TextCodec {
///     fn name(&self) -> &'static str {
///         "text"
///     }
/// }
///
/// impl Encoder<String> for TextCodec {
///     fn encoded_len(&self, message: &String) -> Option<usize> {
///         Some(message.len())
///     }
///     fn encode(&self, message: &String, buf: &mut BytesMut) -> Result<(), Status> {
///         buf.extend_from_slice(message.as_bytes());
///         Ok(())
///     }
/// }
///
/// impl Decoder<String> for TextCodec {
///     fn decode(&self, bytes: Bytes) -> Result<String, Status> {
///         String::from_utf8(bytes.to_vec()).map_err(|_| Status::internal("not UTF-8"))
///     }
/// }
/// ```
pub trait Codec: Clone + Send + Sync + 'static {
    /// The content-subtype (`proto`, `json`): the call's content type is
    /// `application/grpc+<name>`.
    fn name(&self) -> &'static str;

    /// This codec for the method at `path` (`/package.Service/Method`) on
    /// `side`; the default is the codec itself.
    fn for_method(&self, path: &str, side: CodecSide) -> Self {
        let _ = (path, side);
        self.clone()
    }
}

/// A [`Codec`] that can write a `T`.
pub trait Encoder<T>: Codec {
    /// The encoded length, when known without encoding: it is checked
    /// against the send limit before anything is written, and reserved so
    /// that the message is encoded straight into the send buffer.
    fn encoded_len(&self, message: &T) -> Option<usize> {
        let _ = message;
        None
    }

    /// Appends `message`, encoded, to `buf` (behind the message's
    /// already-reserved 5-byte prefix). An error fails the message.
    fn encode(&self, message: &T, buf: &mut BytesMut) -> Result<(), Status>;
}

/// A [`Codec`] that can read a `T`.
pub trait Decoder<T>: Codec {
    /// The message in `bytes` (one whole message, decompressed). An error
    /// is reported as grpcio reports a message that does not deserialize.
    fn decode(&self, bytes: Bytes) -> Result<T, Status>;
}

/// Protobuf through prost, the default codec of every stub and handler:
/// any `prost::Message` (generated messages, [`RawBytes`](crate::RawBytes),
/// the well-known types). Zero-sized; encoding goes straight into the send
/// buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProstCodec;

impl Codec for ProstCodec {
    fn name(&self) -> &'static str {
        PROTO
    }
}

impl<T: prost::Message> Encoder<T> for ProstCodec {
    #[inline]
    fn encoded_len(&self, message: &T) -> Option<usize> {
        Some(message.encoded_len())
    }

    #[inline]
    fn encode(&self, message: &T, buf: &mut BytesMut) -> Result<(), Status> {
        message
            .encode(buf)
            .map_err(|error| Status::internal("failed to encode message").with_source(error))
    }
}

impl<T: prost::Message + Default> Decoder<T> for ProstCodec {
    #[inline]
    fn decode(&self, bytes: Bytes) -> Result<T, Status> {
        T::decode(bytes)
            .map_err(|error| Status::internal("failed to decode message").with_source(error))
    }
}

/// A [`Decoder`] with its type erased, for the request and response
/// streams whose public types name only the message (boxing a zero-sized
/// codec allocates nothing).
pub(crate) type DecodeFn<T> = Box<dyn Fn(Bytes) -> Result<T, Status> + Send + Sync>;

/// `codec` as a [`DecodeFn`].
pub(crate) fn decode_fn<C: Decoder<T>, T>(codec: &C) -> DecodeFn<T> {
    let codec = codec.clone();
    Box::new(move |bytes| codec.decode(bytes))
}

/// The default content-subtype: plain `application/grpc` means protobuf.
pub(crate) const PROTO: &str = "proto";

/// The content-subtype of a gRPC content type (`application/grpc` →
/// `proto`, `application/grpc+json` → `json`, parameters ignored); `None`
/// when the value is not a gRPC content type.
pub(crate) fn content_subtype(content_type: &[u8]) -> Option<&[u8]> {
    let rest = content_type.strip_prefix(crate::wire::CONTENT_TYPE_GRPC.as_bytes())?;
    let rest = match rest.iter().position(|&byte| byte == b';') {
        Some(end) => &rest[..end],
        None => rest,
    };
    match rest {
        [] | b"+" => Some(PROTO.as_bytes()),
        [b'+', subtype @ ..] => Some(subtype),
        _ => None,
    }
}

/// The content type a call with codec `name` is sent (and answered) with.
pub(crate) fn content_type(name: &'static str) -> http::HeaderValue {
    if name == PROTO {
        return http::HeaderValue::from_static(crate::wire::CONTENT_TYPE_GRPC);
    }
    http::HeaderValue::try_from(format!("{}+{name}", crate::wire::CONTENT_TYPE_GRPC))
        .unwrap_or_else(|_| http::HeaderValue::from_static(crate::wire::CONTENT_TYPE_GRPC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_subtypes() {
        assert_eq!(content_subtype(b"application/grpc"), Some(&b"proto"[..]));
        assert_eq!(
            content_subtype(b"application/grpc+proto"),
            Some(&b"proto"[..])
        );
        assert_eq!(
            content_subtype(b"application/grpc+json"),
            Some(&b"json"[..])
        );
        assert_eq!(
            content_subtype(b"application/grpc+json;charset=utf-8"),
            Some(&b"json"[..])
        );
        assert_eq!(
            content_subtype(b"application/grpc;x=y"),
            Some(&b"proto"[..])
        );
        assert_eq!(content_subtype(b"application/grpcx"), None);
        assert_eq!(content_type("json"), "application/grpc+json");
        assert_eq!(content_type("proto"), "application/grpc");
    }

    #[test]
    fn prost_round_trip() {
        let mut buf = BytesMut::new();
        let message = "hi".to_string();
        assert_eq!(ProstCodec.encoded_len(&message), Some(4));
        ProstCodec.encode(&message, &mut buf).unwrap();
        let decoded: String = ProstCodec.decode(buf.freeze()).unwrap();
        assert_eq!(decoded, "hi");
    }
}
