//! Connect's JSON codec: request JSON to protobuf bytes and response bytes
//! to JSON (the proto3 JSON mapping, well-known types included), by
//! reflection over the descriptors the server was given
//! ([`Server::add_file_descriptor_set`]).
//!
//! [`Server::add_file_descriptor_set`]: crate::Server::add_file_descriptor_set

use std::sync::RwLock;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};

use super::descriptor_files::{DescriptorFiles, Origin};
use crate::error::Error;
use crate::status::Status;

/// The message descriptors a server (or client) knows, for JSON and GET
/// requests: the user's sets and those generated code registers, merged
/// by [`DescriptorFiles`]' rules.
#[derive(Debug, Default)]
pub(crate) struct Descriptors {
    state: RwLock<(DescriptorFiles, Option<DescriptorPool>)>,
}

impl Descriptors {
    /// Adds an encoded `google.protobuf.FileDescriptorSet` from the user.
    pub(crate) fn add(&self, encoded: &[u8]) -> Result<(), Error> {
        self.add_from(encoded, Origin::User)
    }

    /// Adds the descriptors generated code embeds; they never replace a
    /// file already known, and the user's replace them.
    pub(crate) fn add_generated(&self, encoded: &[u8]) -> Result<(), Error> {
        self.add_from(encoded, Origin::Generated)
    }

    fn add_from(&self, encoded: &[u8], origin: Origin) -> Result<(), Error> {
        let mut guard = self
            .state
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        let (files, pool) = guard.0.merged(encoded, origin)?;
        *guard = (files, Some(pool));
        Ok(())
    }

    /// The method at `/package.Service/Method`, if its descriptor is known.
    pub(crate) fn method(&self, path: &str) -> Option<MethodDescriptor> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let guard = self
            .state
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let service = guard.1.as_ref()?.get_service_by_name(service)?;
        service
            .methods()
            .find(|candidate| candidate.name() == method)
    }
}

/// True when the method is marked `idempotency_level = NO_SIDE_EFFECTS`
/// (so Connect clients may call it with GET).
pub(crate) fn has_no_side_effects(method: &MethodDescriptor) -> bool {
    const NO_SIDE_EFFECTS: i32 = 1;
    method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|options| options.idempotency_level)
        == Some(NO_SIDE_EFFECTS)
}

/// Transcodes one method's messages between JSON and protobuf.
#[derive(Clone, Debug)]
pub(crate) struct JsonCodec {
    input: MessageDescriptor,
    output: MessageDescriptor,
}

impl JsonCodec {
    pub(crate) fn new(method: &MethodDescriptor) -> JsonCodec {
        JsonCodec {
            input: method.input(),
            output: method.output(),
        }
    }

    /// A request in JSON as protobuf bytes; bad JSON is `INVALID_ARGUMENT`.
    pub(crate) fn request_to_proto(&self, json: &[u8]) -> Result<Bytes, Status> {
        json_to_proto(&self.input, json).map_err(Status::invalid_argument)
    }

    /// A response in protobuf bytes as JSON.
    pub(crate) fn response_to_json(&self, proto: &[u8]) -> Result<Bytes, Status> {
        proto_to_json(&self.output, proto).map_err(Status::internal)
    }

    /// A request in protobuf bytes as JSON (the client's side).
    pub(crate) fn request_to_json(&self, proto: &[u8]) -> Result<Bytes, Status> {
        proto_to_json(&self.input, proto).map_err(Status::internal)
    }

    /// A response in JSON as protobuf bytes (the client's side); JSON that
    /// is not the method's output is `INTERNAL`, as an undecodable message.
    pub(crate) fn response_to_proto(&self, json: &[u8]) -> Result<Bytes, Status> {
        json_to_proto(&self.output, json).map_err(Status::internal)
    }
}

/// `json` as a `descriptor` message in protobuf bytes, or why not.
pub(crate) fn json_to_proto(descriptor: &MessageDescriptor, json: &[u8]) -> Result<Bytes, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize(descriptor.clone(), &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|error| format!("invalid JSON for {}: {error}", descriptor.full_name()))?;
    Ok(Bytes::from(message.encode_to_vec()))
}

/// `proto` (a `descriptor` message) as JSON, or why not.
pub(crate) fn proto_to_json(descriptor: &MessageDescriptor, proto: &[u8]) -> Result<Bytes, String> {
    let message = DynamicMessage::decode(descriptor.clone(), proto)
        .map_err(|error| format!("not a valid {}: {error}", descriptor.full_name()))?;
    serde_json::to_vec(&message)
        .map(Bytes::from)
        .map_err(|error| format!("message not expressible as JSON: {error}"))
}
