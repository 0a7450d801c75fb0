//! Message compression (`grpc-encoding`): identity, gzip and deflate, with
//! decompression capped by the receive limit so a small bomb cannot blow up.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use flate2::Compression as Level;
use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};

use crate::status::Status;

/// A message compression algorithm, as in grpcio's `grpc.Compression`.
///
/// ```
/// use grpc_core::Compression;
/// assert_eq!(Compression::Gzip.name(), "gzip");
/// assert_eq!(Compression::from_name("deflate"), Some(Compression::Deflate));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (`identity`), grpcio's `NoCompression`.
    #[default]
    Identity,
    /// `deflate` (zlib format).
    Deflate,
    /// `gzip`.
    Gzip,
}

/// What we advertise in `grpc-accept-encoding`.
pub(crate) const ACCEPT_ENCODING: &str = "identity,deflate,gzip";

impl Compression {
    /// The `grpc-encoding` token.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Identity => "identity",
            Compression::Deflate => "deflate",
            Compression::Gzip => "gzip",
        }
    }

    /// Parses a `grpc-encoding` token; `None` for unsupported encodings.
    pub fn from_name(name: &str) -> Option<Compression> {
        match name.trim() {
            "identity" => Some(Compression::Identity),
            "deflate" => Some(Compression::Deflate),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }

    /// True when this is an actual compression algorithm.
    pub fn is_compressing(self) -> bool {
        self != Compression::Identity
    }

    /// Compresses `input`, appending to `out`.
    pub(crate) fn compress_into(self, input: &[u8], out: &mut BytesMut) -> Result<(), Status> {
        let writer = out.writer();
        let result = match self {
            Compression::Identity => {
                let mut writer = writer;
                writer.write_all(input)
            }
            Compression::Gzip => {
                let mut encoder = GzEncoder::new(writer, Level::fast());
                encoder
                    .write_all(input)
                    .and_then(|()| encoder.finish().map(drop))
            }
            Compression::Deflate => {
                let mut encoder = ZlibEncoder::new(writer, Level::fast());
                encoder
                    .write_all(input)
                    .and_then(|()| encoder.finish().map(drop))
            }
        };
        result.map_err(|error| {
            Status::internal(format!("{} compression failed", self.name())).with_source(error)
        })
    }

    /// Decompresses `input`, failing with `RESOURCE_EXHAUSTED` when the
    /// result would exceed `limit` bytes.
    pub(crate) fn decompress(self, input: &[u8], limit: usize) -> Result<Bytes, Status> {
        let reader: Box<dyn Read + '_> = match self {
            Compression::Identity => return Ok(Bytes::copy_from_slice(input)),
            Compression::Gzip => Box::new(GzDecoder::new(input)),
            Compression::Deflate => Box::new(ZlibDecoder::new(input)),
        };
        let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(limit));
        let cap = (limit as u64).saturating_add(1);
        reader.take(cap).read_to_end(&mut out).map_err(|error| {
            Status::internal(format!("failed to decompress {} message", self.name()))
                .with_source(error)
        })?;
        if out.len() > limit {
            return Err(Status::resource_exhausted(format!(
                "Received message larger than max (decompressed size over {limit})"
            )));
        }
        Ok(out.into())
    }
}

/// A set of encodings (a peer's `grpc-accept-encoding`), without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EncodingSet(u8);

impl EncodingSet {
    fn bit(compression: Compression) -> u8 {
        match compression {
            Compression::Identity => 1,
            Compression::Deflate => 2,
            Compression::Gzip => 4,
        }
    }

    pub(crate) fn insert(&mut self, compression: Compression) {
        self.0 |= EncodingSet::bit(compression);
    }

    pub(crate) fn contains(self, compression: Compression) -> bool {
        self.0 & EncodingSet::bit(compression) != 0
    }
}

/// Parses a `grpc-accept-encoding` list, keeping the encodings we know.
pub(crate) fn parse_accept_encoding(value: &str) -> EncodingSet {
    let mut set = EncodingSet::default();
    for compression in value.split(',').filter_map(Compression::from_name) {
        set.insert(compression);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let input = b"hello hello hello hello hello hello".repeat(20);
        for compression in [
            Compression::Identity,
            Compression::Gzip,
            Compression::Deflate,
        ] {
            let mut out = BytesMut::new();
            compression.compress_into(&input, &mut out).unwrap();
            if compression.is_compressing() {
                assert!(out.len() < input.len());
            }
            assert_eq!(compression.decompress(&out, 1 << 20).unwrap(), input);
        }
    }

    #[test]
    fn bombs_are_capped_by_the_limit() {
        let input = vec![0u8; 10 << 20];
        let mut out = BytesMut::new();
        Compression::Gzip.compress_into(&input, &mut out).unwrap();
        assert!(out.len() < 100 << 10);
        let status = Compression::Gzip.decompress(&out, 1 << 20).unwrap_err();
        assert_eq!(status.code(), crate::Code::ResourceExhausted);
    }

    #[test]
    fn garbage_is_an_error() {
        let status = Compression::Gzip
            .decompress(b"not gzip at all", 100)
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::Internal);
    }

    #[test]
    fn accept_encoding_parsing() {
        let set = parse_accept_encoding("gzip, br ,identity");
        assert!(set.contains(Compression::Gzip) && set.contains(Compression::Identity));
        assert!(!set.contains(Compression::Deflate));
    }
}

#[cfg(test)]
mod props {
    use bytes::BytesMut;
    use proptest::prelude::*;

    use super::*;
    use crate::status::Code;

    fn codec() -> impl Strategy<Value = Compression> {
        prop_oneof![Just(Compression::Gzip), Just(Compression::Deflate)]
    }

    proptest! {
        /// Garbage never panics; the output never exceeds the limit.
        #[test]
        fn garbage_is_an_error_or_bounded(
            compression in codec(),
            input in prop::collection::vec(any::<u8>(), 0..512),
            limit in 0usize..4_096,
        ) {
            match compression.decompress(&input, limit) {
                Ok(out) => prop_assert!(out.len() <= limit),
                Err(status) => prop_assert!(
                    matches!(status.code(), Code::Internal | Code::ResourceExhausted),
                    "{:?}", status
                ),
            }
        }

        /// Corrupting a valid stream anywhere is an error or bounded output.
        #[test]
        fn corrupted_streams_are_handled(
            compression in codec(),
            data in prop::collection::vec(any::<u8>(), 0..2_000),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut compressed = BytesMut::new();
            compression.compress_into(&data, &mut compressed).map_err(|s| TestCaseError::fail(format!("{s:?}")))?;
            let mut bytes = compressed.to_vec();
            for (index, value) in flips {
                let at = index.index(bytes.len());
                bytes[at] ^= value;
            }
            if let Ok(out) = compression.decompress(&bytes, 4_096) {
                prop_assert!(out.len() <= 4_096);
            }
        }

        /// Round trip, and the limit is exact: `len` fits, `len - 1` does not.
        #[test]
        fn round_trip_and_exact_limit(
            compression in codec(),
            data in prop::collection::vec(any::<u8>(), 1..4_000),
        ) {
            let mut compressed = BytesMut::new();
            compression.compress_into(&data, &mut compressed).map_err(|s| TestCaseError::fail(format!("{s:?}")))?;
            let out = compression.decompress(&compressed, data.len()).map_err(|s| TestCaseError::fail(format!("{s:?}")))?;
            prop_assert_eq!(&out[..], &data[..]);
            let over = compression.decompress(&compressed, data.len() - 1);
            prop_assert_eq!(over.err().map(|s| s.code()), Some(Code::ResourceExhausted));
        }
    }
}
