//! [`ResponseIterator`]: the blocking iterator over a response stream, which
//! is also the RPC's [`Call`](crate::Call): a [`ResponseStream`] waited on.

use tokio::runtime::Handle;

use super::call::delegate_call_methods;
use super::response_stream::ResponseStream;
use crate::runtime::block_on;
use crate::status::RpcError;

/// Response messages of a server-streaming or bidi RPC, drawn in a blocking
/// loop; an RPC failure arrives as the last item. Dropping the iterator
/// before the end cancels the RPC.
///
/// ```no_run
/// # fn demo(stub: &grpc_core::UnaryStream<String, String>) -> Result<(), grpc_core::RpcError> {
/// let mut responses = stub.call("query".to_string())?;
/// println!("{:?}", responses.initial_metadata());
/// for reply in &mut responses {
///     println!("{}", reply?);
/// }
/// println!("{:?} {:?}", responses.code(), responses.trailing_metadata());
/// # Ok(()) }
/// ```
pub struct ResponseIterator<T> {
    stream: ResponseStream<T>,
    /// The runtime the stream's RPC runs on.
    handle: Handle,
}

delegate_call_methods!(ResponseIterator, stream.call);

impl<T> ResponseIterator<T> {
    pub(crate) fn new(stream: ResponseStream<T>, handle: Handle) -> ResponseIterator<T> {
        ResponseIterator { stream, handle }
    }

    /// Cancels the RPC; the iterator then ends with a `CANCELLED` error.
    pub fn cancel(&self) {
        self.stream.cancel();
    }
}

impl<T> Iterator for ResponseIterator<T> {
    type Item = Result<T, RpcError>;

    fn next(&mut self) -> Option<Self::Item> {
        match block_on(&self.handle, self.stream.read()) {
            Ok(item) => item,
            // Waiting here would deadlock (a current-thread runtime).
            Err(status) => Some(Err(self.stream.fail(status))),
        }
    }
}

impl<T> std::fmt::Debug for ResponseIterator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseIterator")
            .field("call", self.call())
            .finish()
    }
}
