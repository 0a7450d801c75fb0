//! [`ClientCallDetails`]: grpcio's `grpc.ClientCallDetails`.

use std::time::Duration;

use crate::client::{CallCredentials, CallOptions};
use crate::codec::Compression;
use crate::metadata::Metadata;

/// Which of the four kinds of method a call is (grpcio has one interceptor
/// class per kind; here one interceptor sees them all and may ask).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response.
    UnaryUnary,
    /// One request, a stream of responses.
    UnaryStream,
    /// A stream of requests, one response.
    StreamUnary,
    /// Streams both ways.
    StreamStream,
}

impl MethodKind {
    pub(crate) fn new(request_streaming: bool, response_streaming: bool) -> MethodKind {
        match (request_streaming, response_streaming) {
            (false, false) => MethodKind::UnaryUnary,
            (false, true) => MethodKind::UnaryStream,
            (true, false) => MethodKind::StreamUnary,
            (true, true) => MethodKind::StreamStream,
        }
    }

    /// True when the client sends a stream of requests.
    pub fn is_request_streaming(self) -> bool {
        matches!(self, MethodKind::StreamUnary | MethodKind::StreamStream)
    }

    /// True when the server answers with a stream of responses.
    pub fn is_response_streaming(self) -> bool {
        matches!(self, MethodKind::UnaryStream | MethodKind::StreamStream)
    }
}

/// What a client interceptor knows of a call and may change before it goes
/// out (grpcio's `ClientCallDetails`): the fields are public, as grpcio's
/// namedtuple attributes are; change them in place and pass the details on
/// to the continuation.
///
/// ```
/// # fn demo(mut details: grpc_core::ClientCallDetails) -> Result<(), grpc_core::Error> {
/// details.metadata.insert("x-request-id", "42")?;
/// details.timeout = Some(std::time::Duration::from_secs(1));
/// details.wait_for_ready = true;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ClientCallDetails {
    /// The full method name, `/package.Service/Method`.
    pub method: String,
    /// How long the call may take; `None` for no deadline.
    pub timeout: Option<Duration>,
    /// The metadata sent with the request headers.
    pub metadata: Metadata,
    /// Call credentials (sent on secure channels only).
    pub credentials: Option<CallCredentials>,
    /// Wait for the channel to connect instead of failing fast.
    pub wait_for_ready: bool,
    /// The request compression; `None` for the channel's default.
    pub compression: Option<Compression>,
    kind: MethodKind,
    /// The content-subtype of the caller's codec.
    pub(crate) codec: &'static str,
    /// Values interceptors hand to the interceptors inside them.
    extensions: http::Extensions,
}

impl ClientCallDetails {
    pub(crate) fn new(
        method: &str,
        options: &CallOptions,
        kind: MethodKind,
        codec: &'static str,
    ) -> ClientCallDetails {
        ClientCallDetails {
            method: method.to_owned(),
            timeout: options.timeout,
            metadata: options.metadata.clone(),
            credentials: options.credentials.clone(),
            wait_for_ready: options.wait_for_ready,
            compression: options.compression,
            kind,
            codec,
            extensions: http::Extensions::new(),
        }
    }

    /// The kind of method called.
    pub fn kind(&self) -> MethodKind {
        self.kind
    }

    /// Leaves `value` for the interceptors inside this one (which read it
    /// with [`extension`](Self::extension)): a value scoped to this call,
    /// such as its metrics recorder. Returns the value of that type it
    /// replaces.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.extensions.insert(value)
    }

    /// The value of type `T` an outer interceptor left, if any.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get()
    }

    /// The call options these details stand for.
    pub(crate) fn options(&self) -> CallOptions {
        CallOptions {
            timeout: self.timeout,
            metadata: self.metadata.clone(),
            wait_for_ready: self.wait_for_ready,
            compression: self.compression,
            credentials: self.credentials.clone(),
        }
    }
}
