//! Drawing a request iterator on its own thread, so an iterator that blocks
//! (a queue, a sleep) never stalls a connection or the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::write::WithOptions;
use crate::codec::proto::encode_frame;
use crate::codec::{Compression, Encoder};
use crate::status::Status;

/// Messages waiting to be sent; small, so the iterator is drawn only as
/// fast as HTTP/2 flow control admits.
const QUEUE: usize = 2;

/// Starts a thread that encodes each request with `codec` and queues it
/// for sending. The thread stops when the iterator ends or the RPC does.
pub(crate) fn spawn_request_pump<C, Req, I>(
    codec: C,
    requests: I,
    compression: Compression,
    max_send: usize,
) -> Result<mpsc::Receiver<Result<Bytes, Status>>, Status>
where
    C: Encoder<Req>,
    I: Iterator<Item = WithOptions<Req>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("grpc-request-iter".into())
        .spawn(move || {
            let mut requests = requests;
            loop {
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
                let (request, options) = request.into_parts();
                let frame =
                    encode_frame(&codec, &request, options.compression(compression), max_send);
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
