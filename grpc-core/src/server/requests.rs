//! [`Requests`]: the request stream of a blocking client-streaming or bidi
//! handler (async handlers get a [`RequestStream`](super::RequestStream)).

use tokio::sync::mpsc;

use super::context::ServicerContext;
use super::pool::park;
use crate::codec::framing::RawMessage;
use crate::codec::message::DecodeFn;
use crate::runtime::wait;
use crate::status::{Code, Status};
use crate::stream::reader::decode_request;

/// The client's messages, as a blocking iterator of `Result<T, Status>`,
/// for blocking handlers (async handlers get a
/// [`RequestStream`](crate::RequestStream), which never blocks a thread).
/// It ends (`None`) when the client half-closes; an `Err` means the RPC
/// failed (cancelled, deadline, bad message) and is the last item.
///
/// ```
/// use grpc_core::{Requests, ServicerContext, Status};
/// fn sum(numbers: Requests<u64>, _ctx: &ServicerContext) -> Result<u64, Status> {
///     let mut total = 0;
///     for n in numbers {
///         total += n?;
///     }
///     Ok(total)
/// }
/// ```
pub struct Requests<T> {
    pub(super) messages: mpsc::Receiver<Result<RawMessage, Status>>,
    context: ServicerContext,
    pub(super) done: bool,
    /// The method's codec, for this message type.
    decode: DecodeFn<T>,
}

impl<T> Requests<T> {
    pub(crate) fn new(
        messages: mpsc::Receiver<Result<RawMessage, Status>>,
        context: ServicerContext,
        decode: DecodeFn<T>,
    ) -> Requests<T> {
        Requests {
            messages,
            context,
            done: false,
            decode,
        }
    }

    /// The context of the RPC these requests belong to.
    pub fn context(&self) -> &ServicerContext {
        &self.context
    }
}

impl<T> Requests<T> {
    /// Turns what the queue gave into the next item.
    pub(super) fn item(
        &mut self,
        received: Option<Result<RawMessage, Status>>,
    ) -> Option<Result<T, Status>> {
        match received {
            Some(Ok(raw)) => {
                self.context.note_request_compressed(raw.compressed);
                let info = self.context.info();
                let limit = info.max_receive_message_length;
                let decode = |bytes| (self.decode)(info.request_bytes(bytes)?);
                let decoded = decode_request(raw, info.request_encoding, limit, decode);
                if decoded.is_err() {
                    self.done = true;
                }
                Some(decoded)
            }
            Some(Err(status)) => {
                self.done = true;
                Some(Err(status))
            }
            None => {
                self.done = true;
                match self.context.termination() {
                    Some(code) if code != Code::Ok => {
                        Some(Err(Status::new(code, "the RPC has ended")))
                    }
                    _ => None,
                }
            }
        }
    }
}

impl<T> Iterator for Requests<T> {
    type Item = Result<T, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Waiting for the client is not running user code: the worker's
        // slot goes to other RPCs meanwhile.
        let received = park(|| wait(self.messages.recv()));
        self.item(received)
    }
}

impl<T> std::fmt::Debug for Requests<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("done", &self.done)
            .finish()
    }
}
