//! Sending DATA within HTTP/2 flow control: never more than the peer's
//! window allows, so a slow reader pushes back instead of filling memory.

use std::future::poll_fn;

use bytes::Bytes;
use h2::SendStream;

/// Sends `frame` as the window opens; errors when the stream is gone.
pub(crate) async fn send_with_capacity(
    send: &mut SendStream<Bytes>,
    mut frame: Bytes,
) -> Result<(), h2::Error> {
    while !frame.is_empty() {
        send.reserve_capacity(frame.len());
        let available = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(available)) => available,
            Some(Err(error)) => return Err(error),
            None => return Err(h2::Error::from(h2::Reason::CANCEL)),
        };
        if available == 0 {
            continue;
        }
        let chunk = frame.split_to(available.min(frame.len()));
        send.send_data(chunk, false)?;
    }
    Ok(())
}
