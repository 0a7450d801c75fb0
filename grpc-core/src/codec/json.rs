//! [`JsonCodec`]: the proto3 JSON mapping for generated prost messages, by
//! reflection over their descriptors.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use prost_reflect::{DescriptorPool, MessageDescriptor};

use super::message::{Codec, CodecSide, Decoder, Encoder};
use crate::error::{Error, Kind};
use crate::status::Status;
use crate::wire::json::{json_to_proto, proto_to_json};

/// Messages in the proto3 JSON mapping (well-known types included), sent
/// as `application/grpc+json`; the server answers with the method
/// registered under the same codec
/// ([`ServiceBuilder::with_codec`](crate::ServiceBuilder::with_codec)), or
/// transcodes for a protobuf method when it has the method's descriptors
/// ([`Server::add_file_descriptor_set`](crate::Server::add_file_descriptor_set)).
///
/// It works for every prost message with no change to the generated code:
/// a message is encoded by prost, then transcoded to JSON by reflection
/// over the method's descriptors (and back when decoding), so the codec
/// needs the descriptors of the methods it serves — a generated
/// `FILE_DESCRIPTOR_SET` (codegen's `embed` option) or any encoded
/// `google.protobuf.FileDescriptorSet`. A serde-based codec would need
/// serde implementations of the proto3 JSON mapping on every message
/// (e.g. `pbjson`), which prost does not generate; this one reuses the
/// descriptors the Connect JSON protocol already needs. The price is one
/// extra protobuf pass per message.
///
/// ```
/// # fn demo(fds: &[u8], channel: grpc_core::Channel) -> Result<(), grpc_core::Error> {
/// use grpc_core::{JsonCodec, RawBytes, UnaryUnary};
/// let json = JsonCodec::new(fds)?;
/// let say_hello: UnaryUnary<RawBytes, RawBytes, JsonCodec> =
///     UnaryUnary::new(channel, "/helloworld.Greeter/SayHello").with_codec(json);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct JsonCodec {
    pool: DescriptorPool,
    /// The method this codec serves, once bound; why not, when unknown.
    bound: Option<Result<Bound, Arc<str>>>,
}

/// The message types of one method, in the order this side sees them.
#[derive(Clone, Debug)]
struct Bound {
    encodes: MessageDescriptor,
    decodes: MessageDescriptor,
}

impl JsonCodec {
    /// A codec knowing the messages of an encoded
    /// `google.protobuf.FileDescriptorSet` (a generated `FILE_DESCRIPTOR_SET`).
    pub fn new(file_descriptor_set: &[u8]) -> Result<JsonCodec, Error> {
        JsonCodec {
            pool: DescriptorPool::new(),
            bound: None,
        }
        .add_file_descriptor_set(file_descriptor_set)
    }

    /// Adds the descriptors of another encoded `FileDescriptorSet`.
    pub fn add_file_descriptor_set(mut self, encoded: &[u8]) -> Result<JsonCodec, Error> {
        self.pool
            .decode_file_descriptor_set(encoded)
            .map_err(|error| {
                Error::new(Kind::InvalidArgument, "invalid file descriptor set").with_source(error)
            })?;
        Ok(self)
    }

    fn resolve(&self, path: &str, side: CodecSide) -> Result<Bound, Arc<str>> {
        let method = path
            .strip_prefix('/')
            .and_then(|path| path.split_once('/'))
            .and_then(|(service, method)| {
                let service = self.pool.get_service_by_name(service)?;
                service
                    .methods()
                    .find(|candidate| candidate.name() == method)
            })
            .ok_or_else(|| {
                Arc::from(format!(
                    "JsonCodec has no descriptor for {path} (add its FILE_DESCRIPTOR_SET)"
                ))
            })?;
        let (input, output) = (method.input(), method.output());
        Ok(match side {
            CodecSide::Client => Bound {
                encodes: input,
                decodes: output,
            },
            CodecSide::Server => Bound {
                encodes: output,
                decodes: input,
            },
        })
    }

    fn bound(&self) -> Result<&Bound, Status> {
        match &self.bound {
            Some(Ok(bound)) => Ok(bound),
            Some(Err(why)) => Err(Status::internal(why.to_string())),
            None => Err(Status::internal(
                "JsonCodec used outside a method (bind it with for_method)",
            )),
        }
    }
}

impl Codec for JsonCodec {
    fn name(&self) -> &'static str {
        "json"
    }

    fn for_method(&self, path: &str, side: CodecSide) -> JsonCodec {
        JsonCodec {
            pool: self.pool.clone(),
            bound: Some(self.resolve(path, side)),
        }
    }
}

impl<T: prost::Message> Encoder<T> for JsonCodec {
    fn encode(&self, message: &T, buf: &mut BytesMut) -> Result<(), Status> {
        let bound = self.bound()?;
        let json =
            proto_to_json(&bound.encodes, &message.encode_to_vec()).map_err(Status::internal)?;
        buf.put_slice(&json);
        Ok(())
    }
}

impl<T: prost::Message + Default> Decoder<T> for JsonCodec {
    fn decode(&self, bytes: Bytes) -> Result<T, Status> {
        let bound = self.bound()?;
        let proto = json_to_proto(&bound.decodes, &bytes).map_err(Status::internal)?;
        T::decode(proto)
            .map_err(|error| Status::internal("failed to decode message").with_source(error))
    }
}
