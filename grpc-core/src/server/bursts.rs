//! [`send_bursts`]: an async handler's response stream into the RPC's send
//! buffer, every message the stream has ready encoded together and handed
//! over in one go (one lock per burst, not per message), as tonic's
//! encoder fills one buffer until its source is pending.
//!
//! Only for async streams: they return `Pending` instead of blocking, so a
//! burst never waits on user code. A blocking handler's iterator may block
//! in `next()` for any time, so its messages go out one by one
//! (`handler::send_all`).

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;

use futures_core::Stream;

use super::context::ServicerContext;
use crate::codec::Encoder;
use crate::status::Status;
use crate::stream::outbox::{Burst, HIGH_WATER};

/// A burst is handed over once it holds this many bytes, even while the
/// stream has more ready.
const BURST_LIMIT: usize = HIGH_WATER / 2;

/// What the stream gave.
enum Next<T> {
    /// An item (or its end).
    Item(Option<T>),
    /// Nothing ready now: time to hand over the burst.
    Pending,
}

/// Sends `responses` until they end or the RPC is over; the messages
/// before an error item go out before the error ends the RPC.
pub(crate) async fn send_bursts<C, Resp, S>(
    ctx: &ServicerContext,
    codec: &C,
    responses: S,
) -> Result<(), Status>
where
    C: Encoder<Resp>,
    S: Stream<Item = Result<Resp, Status>>,
{
    let mut responses = pin!(responses);
    let mut burst = Burst::default();
    let max_len = ctx.info().max_send_message_length;
    loop {
        let next = poll_fn(|cx| match responses.as_mut().poll_next(cx) {
            Poll::Ready(item) => Poll::Ready(Next::Item(item)),
            Poll::Pending if burst.len() > 0 => Poll::Ready(Next::Pending),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let item = match next {
            Next::Pending => {
                if !publish(ctx, &mut burst).await {
                    return Ok(());
                }
                continue;
            }
            Next::Item(None) => {
                publish(ctx, &mut burst).await;
                return Ok(());
            }
            Next::Item(Some(item)) => item,
        };
        if !ctx.is_active() {
            return Ok(());
        }
        let (encoding, headers) = ctx.next_message_encoding();
        let encoded =
            item.and_then(|message| burst.encode(codec, &message, encoding, headers, max_len));
        if let Err(status) = encoded {
            publish(ctx, &mut burst).await;
            return Err(status);
        }
        if burst.len() >= BURST_LIMIT && !publish(ctx, &mut burst).await {
            return Ok(());
        }
    }
}

/// Hands `burst` over once the buffer has room; `false` when the RPC is over.
async fn publish(ctx: &ServicerContext, burst: &mut Burst) -> bool {
    let outbox = ctx.outbox();
    poll_fn(|cx| outbox.poll_publish(cx, burst)).await
}
