//! [`ServicerContext`]: what a handler knows about its RPC and how it shapes
//! the response (grpcio's `ServicerContext`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;

use crate::codec::Compression;
use crate::error::{Error, Kind};
use crate::metadata::Metadata;
use crate::runtime::CancelToken;
use crate::security::auth::Peer;
use crate::status::{Code, Status};
use crate::stream::outbox::Outbox;
use crate::sync::Completion;

/// Facts about the RPC fixed when it arrives.
pub(crate) struct RpcInfo {
    pub(crate) method: Arc<str>,
    pub(crate) peer: Arc<Peer>,
    pub(crate) headers: http::HeaderMap,
    pub(crate) metadata: std::sync::OnceLock<Metadata>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) request_encoding: Compression,
    pub(crate) accepted_encodings: crate::codec::compress::EncodingSet,
    pub(crate) response_compression: Compression,
    pub(crate) max_receive_message_length: usize,
    pub(crate) max_send_message_length: usize,
    /// The connection's channelz counters.
    pub(crate) socket: crate::channelz::SocketStats,
    /// The protocol the call arrived in.
    pub(crate) protocol: super::protocol::Protocol,
    /// Set for a protobuf method called with `application/grpc+json`: the
    /// messages are transcoded by the server's descriptors.
    pub(crate) json: Option<crate::wire::json::JsonCodec>,
}

impl RpcInfo {
    /// The facts of a call to `entry` whose head said `head`, under the
    /// server's configuration.
    pub(crate) fn new(
        server: &super::lifecycle::ServerShared,
        entry: &super::handler::MethodEntry,
        peer: Arc<Peer>,
        socket: crate::channelz::SocketStats,
        headers: http::HeaderMap,
        head: crate::stream::head::RequestHead,
        protocol: super::protocol::Protocol,
    ) -> RpcInfo {
        let config = server.config();
        RpcInfo {
            method: Arc::clone(&entry.path),
            peer,
            // Parsed into Metadata only if the handler asks for it.
            headers,
            metadata: std::sync::OnceLock::new(),
            deadline: head.deadline,
            request_encoding: head.encoding,
            accepted_encodings: head.accepted,
            response_compression: config.compression,
            max_receive_message_length: config.max_receive_message_length,
            max_send_message_length: config.max_send_message_length,
            socket,
            protocol,
            json: None,
        }
    }

    /// A request message's bytes as the method's codec reads them
    /// (transcoded from JSON when the call is).
    pub(crate) fn request_bytes(&self, bytes: bytes::Bytes) -> Result<bytes::Bytes, Status> {
        match &self.json {
            None => Ok(bytes),
            Some(json) => json.request_to_proto(&bytes),
        }
    }
}

/// The per-RPC context handed to every handler call.
///
/// Cheap to clone (clones share the RPC), so it can move into the iterator
/// a server-streaming handler returns.
///
/// ```
/// use grpc_core::{Code, Metadata, ServicerContext, Status};
/// fn say_hello(name: String, ctx: &ServicerContext) -> Result<String, Status> {
///     let agent = ctx.invocation_metadata().get("user-agent").unwrap_or("?").to_owned();
///     if name.is_empty() {
///         return Err(ctx.abort(Code::InvalidArgument, "name is required"));
///     }
///     ctx.set_trailing_metadata(Metadata::from_pairs([("done-by", "greeter")]).unwrap());
///     Ok(format!("Hello {name} (from {agent}, peer {})", ctx.peer()))
/// }
/// ```
#[derive(Clone)]
pub struct ServicerContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    info: RpcInfo,
    response: Mutex<ResponseState>,
    terminated: Completion<Code>,
    /// Set with `terminated`, read without a lock on every response.
    ended: AtomicBool,
    cancel: CancelToken,
    /// The response buffer the RPC's writer drains.
    outbox: Outbox,
    /// The compressed flag of the request message received last:
    /// [`FLAG_UNSEEN`] before the first one.
    last_request_flag: AtomicU8,
    /// Request-scoped values (from interceptors to handlers).
    extensions: Mutex<http::Extensions>,
}

const FLAG_UNSEEN: u8 = 0;
const FLAG_PLAIN: u8 = 1;
const FLAG_COMPRESSED: u8 = 2;

#[derive(Default)]
struct ResponseState {
    code: Option<Code>,
    details: Option<String>,
    trailing: Metadata,
    compression: Option<Compression>,
    disable_next: bool,
    /// The encoding announced in the response headers, once they are out.
    headers_encoding: Option<Compression>,
    aborted: Option<Status>,
}

impl ServicerContext {
    pub(crate) fn new(info: RpcInfo) -> ServicerContext {
        ServicerContext {
            inner: Arc::new(ContextInner {
                info,
                response: Mutex::new(ResponseState::default()),
                terminated: Completion::new(),
                ended: AtomicBool::new(false),
                cancel: CancelToken::new(),
                outbox: Outbox::default(),
                last_request_flag: AtomicU8::new(FLAG_UNSEEN),
                extensions: Mutex::new(http::Extensions::new()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, ResponseState> {
        self.inner
            .response
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn info(&self) -> &RpcInfo {
        &self.inner.info
    }

    /// The full method path, `/package.Service/Method`.
    pub fn method(&self) -> &str {
        &self.inner.info.method
    }

    /// The metadata the client sent (reserved headers left out).
    pub fn invocation_metadata(&self) -> &Metadata {
        self.inner
            .info
            .metadata
            .get_or_init(|| Metadata::from_headers(&self.inner.info.headers))
    }

    /// The protocol the call arrived in: gRPC, gRPC-Web or Connect. The
    /// handler sees the same metadata, deadline and cancellation whichever
    /// it is; this is for logging and protocol-specific behaviour.
    pub fn protocol(&self) -> super::protocol::Protocol {
        self.inner.info.protocol
    }

    /// The client's address: `ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`, `unix:...`.
    pub fn peer(&self) -> &str {
        &self.inner.info.peer.address
    }

    /// The client's authenticated identities (grpcio's `peer_identities`):
    /// the subject alternative names of its verified TLS certificate, else
    /// its common name; `None` without a client certificate.
    pub fn peer_identities(&self) -> Option<Vec<Bytes>> {
        self.inner.info.peer.auth.identities()
    }

    /// The auth-context property that holds the identities
    /// (`x509_subject_alternative_name` or `x509_common_name`); `None`
    /// without a client certificate.
    pub fn peer_identity_key(&self) -> Option<String> {
        self.inner.info.peer.auth.identity_key().map(str::to_owned)
    }

    /// The connection's authentication properties (grpcio's
    /// `auth_context()`): `transport_security_type` (`ssl`, `local` or
    /// `insecure`) and `security_level` always; on TLS `ssl_session_reused`
    /// and, with a client certificate, `x509_common_name`,
    /// `x509_subject_alternative_name` and `x509_pem_cert`.
    ///
    /// ```
    /// use grpc_core::{ServicerContext, Status};
    /// fn whoami(_: String, ctx: &ServicerContext) -> Result<String, Status> {
    ///     let auth = ctx.auth_context();
    ///     let security = auth.get("transport_security_type").and_then(|v| v.first()).cloned();
    ///     match ctx.peer_identities() {
    ///         Some(ids) => Ok(format!("{:?} over {security:?}", ids)),
    ///         None => Err(Status::unauthenticated("a client certificate is required")),
    ///     }
    /// }
    /// ```
    pub fn auth_context(&self) -> HashMap<String, Vec<Bytes>> {
        self.inner.info.peer.auth.to_map()
    }

    /// Sends the response headers now, with `metadata`. Fails when they
    /// already went out (with an earlier call or the first message).
    pub fn send_initial_metadata(&self, metadata: Metadata) -> Result<(), Error> {
        let encoding = {
            let mut state = self.state();
            if state.headers_encoding.is_some() {
                return Err(Error::new(
                    Kind::BadState,
                    "initial metadata was already sent",
                ));
            }
            let encoding = self.choose_encoding(&state);
            state.headers_encoding = Some(encoding);
            encoding
        };
        // Never blocks, so async handlers can call it too. If the RPC is
        // over, the metadata has nowhere to go and is dropped, as in grpcio.
        self.inner.outbox.send_headers(metadata, encoding);
        Ok(())
    }

    /// Sets the trailing metadata sent with the status.
    pub fn set_trailing_metadata(&self, metadata: Metadata) {
        self.state().trailing = metadata;
    }

    /// The trailing metadata set so far.
    pub fn trailing_metadata(&self) -> Metadata {
        self.state().trailing.clone()
    }

    /// Ends the RPC with `code` and `details`: return the result from the
    /// handler (`return Err(ctx.abort(..))`); later output is discarded.
    /// An `OK` code becomes `UNKNOWN`, as aborting with OK is an error.
    pub fn abort(&self, code: Code, details: impl Into<String>) -> Status {
        self.abort_with_status(Status::new(code, details))
    }

    /// Like [`abort`](Self::abort) with a whole status (binary details and
    /// trailing metadata included).
    pub fn abort_with_status(&self, status: Status) -> Status {
        let status = if status.is_ok() {
            Status::unknown(format!("abort() called with code OK: {}", status.details()))
        } else {
            status
        };
        self.state().aborted = Some(status.clone());
        status
    }

    /// Sets the status code sent when the handler returns `Ok`.
    pub fn set_code(&self, code: Code) {
        self.state().code = Some(code);
    }

    /// Sets the status details sent when the handler returns `Ok`.
    pub fn set_details(&self, details: impl Into<String>) {
        self.state().details = Some(details.into());
    }

    /// The code set with [`set_code`](Self::set_code), if any.
    pub fn code(&self) -> Option<Code> {
        self.state().code
    }

    /// The details set with [`set_details`](Self::set_details) (empty if none).
    pub fn details(&self) -> String {
        self.state().details.clone().unwrap_or_default()
    }

    /// Compresses the response with `compression` (when the client accepts
    /// it); takes effect if the headers have not gone out yet.
    pub fn set_compression(&self, compression: Compression) {
        self.state().compression = Some(compression);
    }

    /// Sends the next response message uncompressed.
    pub fn disable_next_message_compression(&self) {
        self.state().disable_next = true;
    }

    /// The compression the client declared for its messages
    /// (`grpc-encoding`); [`Compression::Identity`] when it declared none.
    /// Each message still says in its own prefix whether it is compressed:
    /// see [`last_request_compressed`](Self::last_request_compressed).
    pub fn request_compression(&self) -> Compression {
        self.inner.info.request_encoding
    }

    /// Whether the request message received last arrived compressed (the
    /// compressed flag of its length prefix), as the interop suite's
    /// `expect_compressed` checks need; `None` before the first message.
    /// In a client-streaming handler, "last" is the message the
    /// [`Requests`](crate::Requests) iterator (or
    /// [`RequestStream`](crate::RequestStream)) yielded last.
    ///
    /// ```
    /// use grpc_core::{Requests, ServicerContext, Status};
    /// fn count_compressed(requests: Requests<String>, ctx: &ServicerContext) -> Result<u32, Status> {
    ///     let mut compressed = 0;
    ///     for request in requests {
    ///         request?;
    ///         if ctx.last_request_compressed() == Some(true) {
    ///             compressed += 1;
    ///         }
    ///     }
    ///     Ok(compressed)
    /// }
    /// ```
    pub fn last_request_compressed(&self) -> Option<bool> {
        match self.inner.last_request_flag.load(Ordering::Acquire) {
            FLAG_PLAIN => Some(false),
            FLAG_COMPRESSED => Some(true),
            _ => None,
        }
    }

    /// Records the compressed flag of a request message handed to the handler.
    pub(crate) fn note_request_compressed(&self, compressed: bool) {
        let flag = if compressed {
            FLAG_COMPRESSED
        } else {
            FLAG_PLAIN
        };
        self.inner.last_request_flag.store(flag, Ordering::Release);
    }

    /// True until the RPC ends (completed, cancelled by the client, deadline
    /// passed, or server stopped).
    pub fn is_active(&self) -> bool {
        !self.inner.ended.load(Ordering::Acquire)
    }

    /// Time left before the client's deadline; `None` without a deadline.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.inner
            .info
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Cancels the RPC from the server side: the client sees `CANCELLED`.
    pub fn cancel(&self) {
        self.inner.cancel.cancel();
    }

    /// Runs `callback` when the RPC ends, however it ends. Returns false
    /// (and never runs it) when the RPC has already ended.
    pub fn add_callback(&self, callback: impl FnOnce() + Send + 'static) -> bool {
        self.inner
            .terminated
            .add_callback_if_pending(Box::new(callback))
    }

    /// Runs blocking work (file I/O, heavy computation) on tokio's blocking
    /// pool and awaits its result, so an async handler never blocks its
    /// executor thread. A panic in `work` becomes `UNKNOWN`.
    ///
    /// ```no_run
    /// # async fn handler(ctx: grpc_core::ServicerContext) -> Result<u64, grpc_core::Status> {
    /// let total = ctx.run_blocking(|| (0..50_000_000u64).sum::<u64>()).await?;
    /// # Ok(total) }
    /// ```
    pub async fn run_blocking<T, F>(&self, work: F) -> Result<T, Status>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match tokio::task::spawn_blocking(work).await {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => Err(Status::unknown(format!(
                "Exception calling application: blocking work panicked in {}",
                self.method()
            ))),
            Err(_) => Err(Status::cancelled("blocking work was cancelled")),
        }
    }

    /// Leaves a request-scoped value of type `T` for the rest of the RPC
    /// (an interceptor telling the handler who the caller is); returns the
    /// value of that type stored before, if any.
    ///
    /// ```
    /// # fn handler(ctx: &grpc_core::ServicerContext) {
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct User(String);
    /// ctx.insert_extension(User("alice".into()));
    /// assert_eq!(ctx.extension::<User>(), Some(User("alice".into())));
    /// # }
    /// ```
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        self.extensions().insert(value)
    }

    /// The request-scoped value of type `T`, if one was stored with
    /// [`insert_extension`](Self::insert_extension).
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.extensions().get::<T>().cloned()
    }

    fn extensions(&self) -> MutexGuard<'_, http::Extensions> {
        self.inner
            .extensions
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Completes with the code the client was sent, once the RPC ended.
    pub(crate) async fn ended(&self) -> Code {
        self.inner.terminated.wait_async(|code| *code).await
    }

    pub(crate) fn cancel_token(&self) -> &CancelToken {
        &self.inner.cancel
    }

    /// Marks the RPC ended (with the code the client sees) and runs callbacks.
    pub(crate) fn terminate(&self, code: Code) {
        self.inner.ended.store(true, Ordering::Release);
        self.inner.terminated.complete(code);
    }

    /// How the RPC ended, once it has.
    pub(crate) fn termination(&self) -> Option<Code> {
        self.inner.terminated.peek(|code| *code)
    }

    /// The RPC's response buffer.
    pub(crate) fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    fn choose_encoding(&self, state: &ResponseState) -> Compression {
        let wanted = state
            .compression
            .unwrap_or(self.inner.info.response_compression);
        if wanted.is_compressing() && !self.inner.info.accepted_encodings.contains(wanted) {
            Compression::Identity
        } else {
            wanted
        }
    }

    /// The encoding for the next message, and what the headers announce.
    pub(crate) fn next_message_encoding(&self) -> (Compression, Compression) {
        let mut state = self.state();
        let headers = match state.headers_encoding {
            Some(encoding) => encoding,
            None => {
                let encoding = self.choose_encoding(&state);
                state.headers_encoding = Some(encoding);
                encoding
            }
        };
        let message = if std::mem::take(&mut state.disable_next) {
            Compression::Identity
        } else {
            headers
        };
        (message, headers)
    }

    /// The status to send after the handler returned `result`.
    pub(crate) fn final_status(&self, result: Result<(), Status>) -> Status {
        let mut state = self.state();
        let trailing = std::mem::take(&mut state.trailing);
        let mut status = if let Some(aborted) = state.aborted.take() {
            aborted
        } else {
            match result {
                Ok(()) => Status::new(
                    state.code.unwrap_or(Code::Ok),
                    state.details.take().unwrap_or_default(),
                ),
                Err(status) if status.is_ok() => {
                    Status::unknown("handler returned an error with code OK")
                }
                Err(status) => status,
            }
        };
        if !trailing.is_empty() {
            let mut merged = trailing;
            merged.extend(std::mem::take(status.metadata_mut()));
            *status.metadata_mut() = merged;
        }
        status
    }
}

impl AsRef<Outbox> for ServicerContext {
    fn as_ref(&self) -> &Outbox {
        &self.inner.outbox
    }
}

impl std::fmt::Debug for ServicerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicerContext")
            .field("method", &self.inner.info.method)
            .field("peer", &self.inner.info.peer)
            .field("active", &self.is_active())
            .finish()
    }
}
