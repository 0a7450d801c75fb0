//! A codec's messages to and from framed bytes, encoding straight into the
//! send buffer behind a reserved prefix.

use bytes::{BufMut, Bytes, BytesMut};

use super::compress::Compression;
use super::framing::{self, HEADER_LEN, RawMessage};
use super::message::Encoder;
use crate::status::Status;

/// Encodes `message` as one framed gRPC message, compressed when asked.
pub(crate) fn encode_frame<C: Encoder<M>, M>(
    codec: &C,
    message: &M,
    compression: Compression,
    max_len: usize,
) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    encode_into(codec, message, compression, max_len, &mut buf)?;
    Ok(buf.freeze())
}

/// Appends `message` to `buf` as one framed gRPC message (prefix, then the
/// message encoded straight behind it), compressed when asked. On error
/// `buf` is left as it was.
pub(crate) fn encode_into<C: Encoder<M>, M>(
    codec: &C,
    message: &M,
    compression: Compression,
    max_len: usize,
    buf: &mut BytesMut,
) -> Result<(), Status> {
    frame_into(
        codec.encoded_len(message),
        compression,
        max_len,
        buf,
        |out| codec.encode(message, out),
    )
}

/// Appends one framed message that `write` serializes, of `len` bytes
/// when known beforehand.
fn frame_into(
    len: Option<usize>,
    compression: Compression,
    max_len: usize,
    buf: &mut BytesMut,
    write: impl FnOnce(&mut BytesMut) -> Result<(), Status>,
) -> Result<(), Status> {
    // Checked before anything is allocated: an uncompressed message over
    // the limit, or any message the 4-byte prefix cannot describe.
    if let Some(len) = len {
        if !compression.is_compressing() {
            check_send_len(len, max_len)?;
        }
        check_send_len(len, MAX_FRAMED_LEN)?;
    }
    let len = len.unwrap_or(0);
    let start = buf.len();
    let written = if compression.is_compressing() {
        let mut plain = BytesMut::with_capacity(len);
        write(&mut plain).and_then(|()| {
            buf.reserve(HEADER_LEN + len / 2);
            buf.put_bytes(0, HEADER_LEN);
            compression.compress_into(&plain, buf)
        })
    } else {
        buf.reserve(HEADER_LEN + len);
        buf.put_bytes(0, HEADER_LEN);
        write(buf)
    };
    let framed = buf.len().saturating_sub(start + HEADER_LEN);
    let checked = written.and_then(|()| check_send_len(framed, max_len.min(MAX_FRAMED_LEN)));
    if let Err(status) = checked {
        buf.truncate(start);
        return Err(status);
    }
    framing::patch_header(&mut buf[start..], compression.is_compressing(), framed);
    Ok(())
}

/// Frames an already serialized message, compressed when asked.
pub(crate) fn frame_payload(
    payload: &[u8],
    compression: Compression,
    max_len: usize,
) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    frame_into(Some(payload.len()), compression, max_len, &mut buf, |out| {
        out.extend_from_slice(payload);
        Ok(())
    })?;
    Ok(buf.freeze())
}

/// The serialized message inside one frame made by [`encode_frame`] or
/// [`frame_payload`], decompressed when its prefix says so.
pub(crate) fn unframe(frame: Bytes, encoding: Compression) -> Result<Bytes, Status> {
    if frame.len() < HEADER_LEN {
        return Err(Status::internal(
            "a request frame is shorter than its prefix",
        ));
    }
    let raw = RawMessage {
        compressed: frame[0] == 1,
        payload: frame.slice(HEADER_LEN..),
    };
    // The frame was made here, from a message already within the limits.
    unpack(raw, encoding, usize::MAX)
}

/// The largest message the 4-byte length prefix can describe.
const MAX_FRAMED_LEN: usize = u32::MAX as usize;

/// `RESOURCE_EXHAUSTED` for a message over `max_len`, before it is framed.
fn check_send_len(len: usize, max_len: usize) -> Result<(), Status> {
    if len > max_len {
        return Err(Status::resource_exhausted(format!(
            "Sent message larger than max ({len} vs. {max_len})"
        )));
    }
    Ok(())
}

/// The message bytes, decompressed when the prefix says so.
pub(crate) fn unpack(
    raw: RawMessage,
    encoding: Compression,
    max_len: usize,
) -> Result<Bytes, Status> {
    if !raw.compressed {
        return Ok(raw.payload);
    }
    if !encoding.is_compressing() {
        return Err(Status::internal(
            "received a compressed message but grpc-encoding names no compression",
        ));
    }
    encoding.decompress(&raw.payload, max_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ProstCodec;
    use crate::codec::framing::Deframer;

    #[test]
    fn encode_then_decode() {
        let message = "hello".to_string();
        for compression in [Compression::Identity, Compression::Gzip] {
            let frame = encode_frame(&ProstCodec, &message, compression, 1 << 20).unwrap();
            let mut deframer = Deframer::new(1 << 20);
            deframer.push(frame);
            let raw = deframer.next_message().unwrap().unwrap();
            assert_eq!(raw.compressed, compression.is_compressing());
            let payload = unpack(raw, compression, 1 << 20).unwrap();
            let decoded: String = crate::codec::Decoder::decode(&ProstCodec, payload).unwrap();
            assert_eq!(decoded, message);
        }
    }

    #[test]
    fn send_limit_is_enforced() {
        let message = "x".repeat(100);
        let status = encode_frame(&ProstCodec, &message, Compression::Identity, 10).unwrap_err();
        assert_eq!(status.code(), crate::Code::ResourceExhausted);
    }

    #[test]
    fn compressed_flag_without_encoding_is_internal() {
        let raw = RawMessage {
            compressed: true,
            payload: Bytes::from_static(b"abc"),
        };
        assert_eq!(
            unpack(raw, Compression::Identity, 10).unwrap_err().code(),
            crate::Code::Internal
        );
    }

    /// Claims to be 5 GiB long; encoding it would be a bug.
    #[derive(Debug, Default)]
    struct Huge;

    impl prost::Message for Huge {
        fn encode_raw(&self, _buf: &mut impl bytes::BufMut) {
            panic!("a message over 4 GiB must be refused before it is encoded");
        }
        fn merge_field(
            &mut self,
            tag: u32,
            wire_type: prost::encoding::WireType,
            buf: &mut impl bytes::Buf,
            ctx: prost::encoding::DecodeContext,
        ) -> Result<(), prost::DecodeError> {
            prost::encoding::skip_field(wire_type, tag, buf, ctx)
        }
        fn encoded_len(&self) -> usize {
            5 << 30
        }
        fn clear(&mut self) {}
    }

    #[test]
    fn messages_the_prefix_cannot_describe_are_refused_before_encoding() {
        for compression in [Compression::Identity, Compression::Gzip] {
            let status = encode_frame(&ProstCodec, &Huge, compression, usize::MAX).unwrap_err();
            assert_eq!(status.code(), crate::Code::ResourceExhausted);
            assert!(status.details().contains("larger than max"), "{status:?}");
        }
    }
}
