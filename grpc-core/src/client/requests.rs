//! Drawing a request iterator on its own thread, so an iterator that blocks
//! (a queue, a sleep) never stalls a connection or the caller.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::codec::Compression;
use crate::codec::proto::encode_frame;
use crate::status::Status;

/// Messages waiting to be sent; small, so the iterator is drawn only as
/// fast as HTTP/2 flow control admits.
const QUEUE: usize = 2;

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
            for request in requests {
                let frame = encode_frame(&request, compression, max_send);
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
