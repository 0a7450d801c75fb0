//! Message encoding on the wire: the 5-byte length prefix ([`framing`]),
//! compression ([`compress`]), the codec traits and their implementations
//! ([`message`]: prost, the default; [`bytes`]: raw bytes; [`json`]: the
//! proto3 JSON mapping) and framing a codec's output ([`proto`]).

mod bytes;
pub(crate) mod compress;
pub(crate) mod framing;
mod json;
pub(crate) mod message;
pub(crate) mod proto;
mod raw;

pub use self::bytes::BytesCodec;
pub use compress::Compression;
pub use json::JsonCodec;
pub use message::{Codec, CodecSide, Decoder, Encoder, ProstCodec};
pub use raw::RawBytes;

#[cfg(test)]
mod framing_props;
