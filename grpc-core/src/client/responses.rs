//! [`ResponseIterator`]: the blocking iterator over a response stream, which
//! is also the RPC's [`Call`].

use std::marker::PhantomData;

use bytes::Bytes;
use tokio::runtime::Handle;

use super::call::{Call, delegate_call_methods};
use crate::runtime::block_on;
use crate::status::{RpcError, Status};
use crate::stream::inbox::Inbox;

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
    call: Call,
    messages: Inbox<Bytes>,
    handle: Handle,
    finished: bool,
    _type: PhantomData<fn() -> T>,
}

delegate_call_methods!(ResponseIterator);

impl<T> ResponseIterator<T> {
    pub(crate) fn new(call: Call, messages: Inbox<Bytes>, handle: Handle) -> ResponseIterator<T> {
        ResponseIterator {
            call,
            messages,
            handle,
            finished: false,
            _type: PhantomData,
        }
    }

    /// Cancels the RPC; the iterator then ends with a `CANCELLED` error.
    pub fn cancel(&self) {
        self.call.cancel();
    }
}

impl<T: prost::Message + Default> Iterator for ResponseIterator<T> {
    type Item = Result<T, RpcError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        // A message of the batch already taken needs no wait.
        let received = match self.messages.take_buffered() {
            Some(message) => Some(message),
            None => match block_on(&self.handle, self.messages.recv()) {
                Ok(received) => received,
                Err(status) => {
                    self.finished = true;
                    self.call.shared().fail(status.clone());
                    return Some(Err(self.call.shared().error(status)));
                }
            },
        };
        match received {
            Some(payload) => match T::decode(payload) {
                Ok(message) => Some(Ok(message)),
                Err(error) => {
                    self.finished = true;
                    let status =
                        Status::internal("Exception deserializing response!").with_source(error);
                    self.call.shared().fail(status.clone());
                    Some(Err(self.call.shared().error(status)))
                }
            },
            None => {
                self.finished = true;
                let status = self.call.shared().wait_status();
                if status.is_ok() {
                    None
                } else {
                    Some(Err(self.call.shared().error(status)))
                }
            }
        }
    }
}

impl<T> Drop for ResponseIterator<T> {
    fn drop(&mut self) {
        self.call.cancel();
    }
}

impl<T> std::fmt::Debug for ResponseIterator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseIterator")
            .field("call", &self.call)
            .finish()
    }
}
