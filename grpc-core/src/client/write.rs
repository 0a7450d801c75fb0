//! Per-message write options for request streams (grpcio's `WriteFlags`,
//! C++'s `WriteOptions`): the same on the blocking and the async face.

use futures_core::Stream;
use futures_util::StreamExt;

use crate::codec::Compression;

/// How one request message is written.
///
/// ```
/// use grpc_core::WriteOptions;
/// let plain = WriteOptions::new().no_compression();
/// assert!(plain.is_no_compression());
/// assert!(!WriteOptions::new().is_no_compression());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    compression: MessageCompression,
}

/// Whether one message follows the call's compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum MessageCompression {
    /// The call's (or channel's) compression.
    #[default]
    Call,
    /// Sent plain, whatever the call's compression.
    Off,
}

impl WriteOptions {
    /// The defaults: the message follows the call's compression.
    pub const fn new() -> WriteOptions {
        WriteOptions {
            compression: MessageCompression::Call,
        }
    }

    /// Sends the message uncompressed, whatever the call's compression
    /// (grpcio's `WriteFlags.no_compress`; the client-side counterpart of
    /// [`ServicerContext::disable_next_message_compression`](crate::ServicerContext::disable_next_message_compression)).
    /// The message's length prefix then says "not compressed".
    pub const fn no_compression(mut self) -> WriteOptions {
        self.compression = MessageCompression::Off;
        self
    }

    /// True when the message goes out uncompressed.
    pub const fn is_no_compression(&self) -> bool {
        matches!(self.compression, MessageCompression::Off)
    }

    /// The compression of the message in a call that compresses with `call`.
    pub(crate) fn compression(self, call: Compression) -> Compression {
        match self.compression {
            MessageCompression::Call => call,
            MessageCompression::Off => Compression::Identity,
        }
    }
}

/// A request message with its [`WriteOptions`]: what `write()` takes (a
/// plain message converts into one with the default options), and what
/// the iterators and streams in [`Writes`] yield.
///
/// ```no_run
/// # fn demo(upload: &grpc_core::StreamUnary<Vec<u8>, u64>) -> Result<(), grpc_core::RpcError> {
/// use grpc_core::{CallOptions, Compression, WithOptions, Writes};
/// let requests = vec![
///     WithOptions::from(vec![0u8; 1000]),         // compressed with the call
///     WithOptions::uncompressed(vec![1u8; 1000]), // sent plain
/// ];
/// let total = upload
///     .clone()
///     .with_options(CallOptions::new().compression(Compression::Gzip))
///     .call(Writes(requests))?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WithOptions<T> {
    message: T,
    options: WriteOptions,
}

impl<T> WithOptions<T> {
    /// `message`, written with `options`.
    pub const fn new(message: T, options: WriteOptions) -> WithOptions<T> {
        WithOptions { message, options }
    }

    /// `message`, sent without compression.
    pub const fn uncompressed(message: T) -> WithOptions<T> {
        WithOptions::new(message, WriteOptions::new().no_compression())
    }

    /// The message.
    pub fn message(&self) -> &T {
        &self.message
    }

    /// Its write options.
    pub fn options(&self) -> WriteOptions {
        self.options
    }

    /// The message and its options.
    pub fn into_parts(self) -> (T, WriteOptions) {
        (self.message, self.options)
    }
}

impl<T> From<T> for WithOptions<T> {
    fn from(message: T) -> WithOptions<T> {
        WithOptions::new(message, WriteOptions::new())
    }
}

/// Request messages that carry their own [`WriteOptions`]: an iterator (or,
/// on the async face, a `Stream`) of [`WithOptions`] items, passed where a
/// request iterator or stream of plain messages goes.
///
/// ```no_run
/// # async fn demo(upload: grpc_core::StreamUnary<String, u64>) -> Result<(), grpc_core::RpcError> {
/// use grpc_core::{WithOptions, Writes};
/// let requests = ["a", "b"].map(|s| WithOptions::uncompressed(s.to_string()));
/// let total = upload.call(Writes(requests.clone()))?; // blocking face
/// let total = upload
///     .call_async(Writes(futures_util::stream::iter(requests)))
///     .await?; // async face
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Writes<I>(pub I);

/// A request message with the default options.
type Plain<Req> = fn(Req) -> WithOptions<Req>;

/// The requests of a blocking client-streaming or bidi call: any iterator
/// of messages (drawn on the call's own thread), or [`Writes`] of
/// [`WithOptions`] items.
pub trait IntoRequests<Req> {
    /// The iterator the call draws.
    type Iter: Iterator<Item = WithOptions<Req>> + Send + 'static;

    /// The requests as messages with their options.
    fn into_requests(self) -> Self::Iter;
}

impl<Req, I> IntoRequests<Req> for I
where
    Req: 'static,
    I: IntoIterator<Item = Req>,
    I::IntoIter: Send + 'static,
{
    type Iter = std::iter::Map<I::IntoIter, Plain<Req>>;

    fn into_requests(self) -> Self::Iter {
        self.into_iter().map(WithOptions::from as Plain<Req>)
    }
}

impl<Req, I> IntoRequests<Req> for Writes<I>
where
    I: IntoIterator<Item = WithOptions<Req>>,
    I::IntoIter: Send + 'static,
{
    type Iter = I::IntoIter;

    fn into_requests(self) -> Self::Iter {
        self.0.into_iter()
    }
}

/// The requests of an async client-streaming or bidi call: any `Stream` of
/// messages, or [`Writes`] of a `Stream` of [`WithOptions`] items.
pub trait IntoRequestStream<Req> {
    /// The stream the call draws.
    type Stream: Stream<Item = WithOptions<Req>> + Send + 'static;

    /// The requests as messages with their options.
    fn into_request_stream(self) -> Self::Stream;
}

impl<Req, S> IntoRequestStream<Req> for S
where
    Req: 'static,
    S: Stream<Item = Req> + Send + 'static,
{
    type Stream = futures_util::stream::Map<S, Plain<Req>>;

    fn into_request_stream(self) -> Self::Stream {
        self.map(WithOptions::from as Plain<Req>)
    }
}

impl<Req, S> IntoRequestStream<Req> for Writes<S>
where
    S: Stream<Item = WithOptions<Req>> + Send + 'static,
{
    type Stream = S;

    fn into_request_stream(self) -> Self::Stream {
        self.0
    }
}
