//! Message encoding on the wire: the 5-byte length prefix ([`framing`]),
//! compression ([`compress`]) and protobuf messages ([`proto`]).

pub(crate) mod compress;
pub(crate) mod framing;
pub(crate) mod proto;
mod raw;

pub use compress::Compression;
pub use raw::RawBytes;

#[cfg(test)]
mod framing_props;
