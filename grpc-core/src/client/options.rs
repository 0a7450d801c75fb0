//! [`CallOptions`]: grpcio's per-call keyword arguments.

use std::time::Duration;

use super::credentials::CallCredentials;
use crate::codec::Compression;
use crate::metadata::Metadata;

/// Per-call options: grpcio's `timeout=`, `metadata=`, `credentials=`,
/// `wait_for_ready=` and `compression=`.
///
/// ```
/// use std::time::Duration;
/// use grpc_core::{CallOptions, Compression, Metadata};
/// let opts = CallOptions::new()
///     .timeout(Duration::from_secs(5))
///     .metadata(Metadata::from_pairs([("user-agent", "my-client/1.0")])?)
///     .wait_for_ready(true)
///     .compression(Compression::Gzip);
/// assert_eq!(opts.timeout_value(), Some(Duration::from_secs(5)));
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) metadata: Metadata,
    pub(crate) wait_for_ready: bool,
    pub(crate) compression: Option<Compression>,
    pub(crate) credentials: Option<CallCredentials>,
}

impl CallOptions {
    /// No timeout, no metadata, fail fast, the channel's compression.
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    /// The call fails with `DEADLINE_EXCEEDED` after this long; the deadline
    /// travels to the server as `grpc-timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Metadata sent with the request headers. A `user-agent` entry is put
    /// in front of the library's own user agent.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// With `true`, the call waits for the channel to connect (until its
    /// deadline) instead of failing at once with `UNAVAILABLE`.
    pub fn wait_for_ready(mut self, wait: bool) -> Self {
        self.wait_for_ready = wait;
        self
    }

    /// Compresses the request messages with this algorithm.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Call credentials, sent as metadata on secure channels only (a call
    /// with credentials on an insecure channel fails, as in grpcio).
    pub fn credentials(mut self, credentials: CallCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The timeout set, if any.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The metadata set.
    pub fn metadata_value(&self) -> &Metadata {
        &self.metadata
    }
}
