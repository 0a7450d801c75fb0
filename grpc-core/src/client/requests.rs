//! Drawing a request iterator on its own thread, so an iterator that blocks
//! (a queue, a sleep) never stalls a connection or the caller.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::codec::Compression;
use crate::codec::proto::encode_frame;
use crate::status::Status;

/// Messages waiting to be sent; small, so the iterator is drawn only as
/// fast as HTTP/2 flow control admits.
const QUEUE: usize = 2;

thread_local! {
    /// Set by [`disable_next_request_compression`] while the request
    /// iterator is drawn on its thread.
    static SKIP_NEXT_COMPRESSION: Cell<bool> = const { Cell::new(false) };
}

/// Sends the request message a request iterator is about to yield without
/// compression, whatever the call's compression (C++'s
/// `WriteOptions::set_no_compression`, the client-side counterpart of
/// [`ServicerContext::disable_next_message_compression`](crate::ServicerContext::disable_next_message_compression)).
///
/// Call it from inside the iterator's `next`: request iterators of
/// client-streaming and bidi calls are drawn on the call's own thread, and
/// this marks the message that `next` returns. Anywhere else it has no
/// effect.
///
/// ```no_run
/// # fn demo(upload: &grpc_core::StreamUnary<Vec<u8>, u64>) -> Result<(), grpc_core::RpcError> {
/// use grpc_core::{CallOptions, Compression, disable_next_request_compression};
/// let messages = vec![vec![0u8; 1000], vec![1u8; 1000]];
/// let requests = messages.into_iter().enumerate().map(|(i, message)| {
///     if i == 1 {
///         disable_next_request_compression(); // the second goes out plain
///     }
///     message
/// });
/// let total = upload
///     .clone()
///     .with_options(CallOptions::new().compression(Compression::Gzip))
///     .call(requests)?;
/// # Ok(()) }
/// ```
pub fn disable_next_request_compression() {
    SKIP_NEXT_COMPRESSION.with(|skip| skip.set(true));
}

/// Starts a thread that encodes each request and queues it for sending.
/// The thread stops when the iterator ends or the RPC does.
pub(crate) fn spawn_request_pump<Req, I>(
    requests: I,
    compression: Compression,
    max_send: usize,
) -> Result<mpsc::Receiver<Result<Bytes, Status>>, Status>
where
    Req: prost::Message + 'static,
    I: Iterator<Item = Req> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("grpc-request-iter".into())
        .spawn(move || {
            let mut requests = requests;
            loop {
                SKIP_NEXT_COMPRESSION.with(|skip| skip.set(false));
                // A panicking iterator must fail the call (as an exception
                // does in grpcio), not end the stream as if it were complete.
                let request = match catch_unwind(AssertUnwindSafe(|| requests.next())) {
                    Ok(Some(request)) => request,
                    Ok(None) => return,
                    Err(_) => {
                        let status = Status::unknown("Exception iterating requests!");
                        let _ = tx.blocking_send(Err(status));
                        return;
                    }
                };
                let message_compression = if SKIP_NEXT_COMPRESSION.with(Cell::take) {
                    Compression::Identity
                } else {
                    compression
                };
                let frame = encode_frame(&request, message_compression, max_send);
                let failed = frame.is_err();
                if tx.blocking_send(frame).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|error| {
            Status::resource_exhausted("cannot start request thread").with_source(error)
        })?;
    Ok(rx)
}
