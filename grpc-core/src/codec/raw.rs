//! [`RawBytes`]: a message that is its own serialized bytes, for methods
//! over raw bytes (grpcio's generic handlers with no (de)serializer).

use bytes::{Buf, BufMut, Bytes};

/// A message carried as the bytes it is on the wire, never parsed: use it
/// as the request or response type of a multi-callable or a handler to
/// send and receive raw bytes (a proxy, a gateway, a message whose schema
/// is known only at run time).
///
/// ```
/// use grpc_core::RawBytes;
/// use prost::Message;
/// let raw = RawBytes::from(vec![0x0a, 0x02, b'h', b'i']);
/// assert_eq!(raw.encode_to_vec(), [0x0a, 0x02, b'h', b'i']);
/// assert_eq!(RawBytes::decode(&b"\x0a\x02hi"[..]).unwrap(), raw);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawBytes(pub Bytes);

impl RawBytes {
    /// The bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<Bytes> for RawBytes {
    fn from(bytes: Bytes) -> RawBytes {
        RawBytes(bytes)
    }
}

impl From<Vec<u8>> for RawBytes {
    fn from(bytes: Vec<u8>) -> RawBytes {
        RawBytes(bytes.into())
    }
}

impl AsRef<[u8]> for RawBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for RawBytes {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl prost::Message for RawBytes {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Never called: [`merge`](Self::merge) takes the whole buffer.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn merge(&mut self, mut buf: impl Buf) -> Result<(), prost::DecodeError> {
        let remaining = buf.remaining();
        let more = buf.copy_to_bytes(remaining);
        self.0 = if self.0.is_empty() {
            more
        } else {
            [self.0.as_ref(), more.as_ref()].concat().into()
        };
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}
