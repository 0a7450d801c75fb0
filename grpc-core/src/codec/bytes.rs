//! [`BytesCodec`]: messages that are their own bytes, never parsed.

use bytes::{Bytes, BytesMut};

use super::message::{Codec, Decoder, Encoder, PROTO};
use super::raw::RawBytes;
use crate::status::Status;

/// Raw bytes in, raw bytes out (`Bytes`, or [`RawBytes`]): for a proxy, a
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

impl Encoder<Bytes> for BytesCodec {
    fn encoded_len(&self, message: &Bytes) -> Option<usize> {
        Some(message.len())
    }

    fn encode(&self, message: &Bytes, buf: &mut BytesMut) -> Result<(), Status> {
        buf.extend_from_slice(message);
        Ok(())
    }
}

impl Decoder<Bytes> for BytesCodec {
    fn decode(&self, bytes: Bytes) -> Result<Bytes, Status> {
        Ok(bytes)
    }
}

impl Encoder<RawBytes> for BytesCodec {
    fn encoded_len(&self, message: &RawBytes) -> Option<usize> {
        Some(message.len())
    }

    fn encode(&self, message: &RawBytes, buf: &mut BytesMut) -> Result<(), Status> {
        buf.extend_from_slice(message);
        Ok(())
    }
}

impl Decoder<RawBytes> for BytesCodec {
    fn decode(&self, bytes: Bytes) -> Result<RawBytes, Status> {
        Ok(RawBytes(bytes))
    }
}
