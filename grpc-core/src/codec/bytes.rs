//! [`BytesCodec`]: messages that are their own bytes, never parsed.

use bytes::{Bytes, BytesMut};

use super::message::{Codec, Decoder, Encoder, PROTO};
use crate::status::Status;

/// Raw bytes in, raw bytes out (`Bytes`, [`RawBytes`](crate::RawBytes), `Vec<u8>`): for a proxy, a
/// gateway, or a message whose schema is known only at run time. The
/// bytes are sent under the content-subtype the codec is
/// [`named`](Self::named) (`proto` by default, as the bytes of a protobuf
/// message usually are).
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use grpc_core::{BytesCodec, Codec, Decoder, Encoder};
/// let codec = BytesCodec::new();
/// let mut buf = BytesMut::new();
/// codec.encode(&Bytes::from_static(b"\x0a\x02hi"), &mut buf).unwrap();
/// let back: Bytes = codec.decode(buf.freeze()).unwrap();
/// assert_eq!(&back[..], b"\x0a\x02hi");
/// assert_eq!(BytesCodec::named("json").name(), "json");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BytesCodec {
    name: &'static str,
}

impl BytesCodec {
    /// Raw bytes sent as `application/grpc` (protobuf).
    pub fn new() -> BytesCodec {
        BytesCodec { name: PROTO }
    }

    /// Raw bytes sent as `application/grpc+<name>`.
    pub fn named(name: &'static str) -> BytesCodec {
        BytesCodec { name }
    }
}

impl Default for BytesCodec {
    fn default() -> BytesCodec {
        BytesCodec::new()
    }
}

impl Codec for BytesCodec {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Any bytes container: `Bytes`, [`RawBytes`](crate::RawBytes), `Vec<u8>`.
impl<T: AsRef<[u8]>> Encoder<T> for BytesCodec {
    fn encoded_len(&self, message: &T) -> Option<usize> {
        Some(message.as_ref().len())
    }

    fn encode(&self, message: &T, buf: &mut BytesMut) -> Result<(), Status> {
        buf.extend_from_slice(message.as_ref());
        Ok(())
    }
}

/// Any container made from `Bytes` (without a copy for `Bytes` and
/// [`RawBytes`](crate::RawBytes)).
impl<T: From<Bytes>> Decoder<T> for BytesCodec {
    fn decode(&self, bytes: Bytes) -> Result<T, Status> {
        Ok(T::from(bytes))
    }
}
