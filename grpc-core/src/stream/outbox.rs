//! [`Outbox`]: the send buffer of one RPC's responses, shared by the
//! handler (which writes into it, on a worker thread or as a task) and the
//! RPC's writer (which takes from it and puts the bytes on the stream).
//!
//! There is no queue of messages: a handler encodes each response straight
//! behind the ones not yet taken, so a burst of small messages becomes one
//! buffer and one write, and a unary response, its headers and its status
//! are taken by the writer in one wake-up. The buffer is bounded: past
//! [`HIGH_WATER`] the handler waits (its future returns `Pending`, so a
//! blocking handler's worker is free meanwhile) until the writer takes it.
//!
//! The handler's end is a [`HandlerEnd`] guard: it delivers the final
//! status, and when it is dropped without one (the handler's future was
//! dropped, its task panicked outside the handler, an interceptor vanished)
//! the writer sees [`End::HandlerGone`], so no RPC waits on a handler that
//! no longer exists.

use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

use crate::codec::proto::encode_into;
use crate::codec::{Compression, Encoder};
use crate::metadata::Metadata;
use crate::status::Status;

/// Buffered response bytes past which the handler's next send waits for
/// the writer; also the largest batch one write takes.
pub(crate) const HIGH_WATER: usize = 32 << 10;

/// One RPC's response buffer.
#[derive(Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Response headers asked for explicitly, not yet taken.
    headers: Option<(Metadata, Compression)>,
    /// Framed messages not yet taken.
    data: BytesMut,
    /// What the headers announce, set by the first message.
    data_encoding: Option<Compression>,
    /// Messages in `data`.
    messages: u64,
    end: Option<End>,
    /// Set when the RPC is over: output is dropped.
    closed: bool,
    /// The writer, waiting for output.
    writer: Option<Waker>,
    /// The handler, waiting for room.
    handler: Option<Waker>,
}

/// How the handler side ended.
#[derive(Debug)]
pub(crate) enum End {
    /// With this status.
    Finished(Status),
    /// Without a status: its future or task was dropped.
    HandlerGone,
}

/// What the writer takes in one go, in the order it goes out.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    /// Response headers with this metadata, announcing this encoding.
    pub(crate) headers: Option<(Metadata, Compression)>,
    /// Framed messages, and what the headers announce if they have not
    /// gone out yet.
    pub(crate) data: Option<(Bytes, Compression)>,
    /// The end of the response.
    pub(crate) end: Option<End>,
    /// How many messages `data` holds.
    pub(crate) messages: u64,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues the response headers (they go out before any message).
    pub(crate) fn send_headers(&self, metadata: Metadata, encoding: Compression) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.headers = Some((metadata, encoding));
        wake(state.writer.take());
    }

    /// Encodes `message` behind the buffered ones once the buffer has room
    /// (checked and written under one lock); `headers` is what the response
    /// headers announce. `Ok(false)` when the RPC is over (the message
    /// would go nowhere).
    pub(crate) fn poll_push<C: Encoder<M>, M>(
        &self,
        cx: &mut Context<'_>,
        codec: &C,
        message: &M,
        encoding: Compression,
        headers: Compression,
        max_len: usize,
    ) -> Poll<Result<bool, Status>> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(Ok(false));
        }
        if state.data.len() >= HIGH_WATER {
            state.handler = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if let Err(status) = encode_into(codec, message, encoding, max_len, &mut state.data) {
            return Poll::Ready(Err(status));
        }
        state.messages += 1;
        state.data_encoding.get_or_insert(headers);
        wake(state.writer.take());
        Poll::Ready(Ok(true))
    }

    /// Appends a [`Burst`] of encoded messages once the buffer has room
    /// (one lock for all of them); `false` when the RPC is over (the
    /// burst is dropped).
    pub(crate) fn poll_publish(&self, cx: &mut Context<'_>, burst: &mut Burst) -> Poll<bool> {
        if burst.data.is_empty() {
            return Poll::Ready(true);
        }
        let mut state = self.lock();
        if state.closed {
            *burst = Burst::default();
            return Poll::Ready(false);
        }
        if state.data.len() >= HIGH_WATER {
            state.handler = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if state.data.is_empty() {
            std::mem::swap(&mut state.data, &mut burst.data);
        } else {
            state.data.extend_from_slice(&burst.data);
            burst.data.clear();
        }
        state.messages += std::mem::take(&mut burst.messages);
        if let Some(headers) = burst.headers {
            state.data_encoding.get_or_insert(headers);
        }
        wake(state.writer.take());
        Poll::Ready(true)
    }

    /// Ends the handler side.
    fn end(&self, end: End) {
        let mut state = self.lock();
        if state.end.is_none() {
            state.end = Some(end);
        }
        wake(state.writer.take());
    }

    /// Everything buffered, once there is something.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Taken> {
        let mut state = self.lock();
        let taken = Taken {
            headers: state.headers.take(),
            data: match state.data.is_empty() {
                true => None,
                false => {
                    let encoding = state.data_encoding.unwrap_or(Compression::Identity);
                    // Taken whole: the buffer becomes the Bytes without a copy or
                    // an allocation; the next message starts a new one.
                    Some((std::mem::take(&mut state.data).freeze(), encoding))
                }
            },
            end: state.end.take(),
            messages: std::mem::take(&mut state.messages),
        };
        if taken.headers.is_none() && taken.data.is_none() && taken.end.is_none() {
            state.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        wake(state.handler.take());
        Poll::Ready(taken)
    }

    /// The RPC is over: drops what is buffered and wakes a waiting handler
    /// (its sends now report the RPC over).
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.data = BytesMut::new();
        state.messages = 0;
        state.headers = None;
        wake(state.handler.take());
    }
}

/// Messages a handler encoded without the outbox's lock, to be appended
/// to it together ([`Outbox::poll_publish`]).
#[derive(Default)]
pub(crate) struct Burst {
    data: BytesMut,
    messages: u64,
    /// What the response headers announce.
    headers: Option<Compression>,
}

impl Burst {
    /// Encodes `message` behind the others; on error the burst is as it was.
    pub(crate) fn encode<C: Encoder<M>, M>(
        &mut self,
        codec: &C,
        message: &M,
        encoding: Compression,
        headers: Compression,
        max_len: usize,
    ) -> Result<(), Status> {
        encode_into(codec, message, encoding, max_len, &mut self.data)?;
        self.messages += 1;
        self.headers.get_or_insert(headers);
        Ok(())
    }

    /// Encoded bytes not yet published.
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// The handler's end of an RPC: [`finish`](Self::finish) delivers its
/// status; dropped without it, the RPC ends as
/// [`End::HandlerGone`]. `O` is whatever owns the outbox (the RPC's
/// context, or an `Arc<Outbox>`).
pub(crate) struct HandlerEnd<O: AsRef<Outbox>>(Option<O>);

impl<O: AsRef<Outbox>> HandlerEnd<O> {
    pub(crate) fn new(outbox: O) -> HandlerEnd<O> {
        HandlerEnd(Some(outbox))
    }

    /// Delivers the handler's final status.
    pub(crate) fn finish(mut self, status: Status) {
        if let Some(outbox) = self.0.take() {
            outbox.as_ref().end(End::Finished(status));
        }
    }
}

impl<O: AsRef<Outbox>> Drop for HandlerEnd<O> {
    fn drop(&mut self) {
        if let Some(outbox) = self.0.take() {
            outbox.as_ref().end(End::HandlerGone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ProstCodec;
    use std::future::poll_fn;
    use std::sync::Arc;

    #[tokio::test]
    async fn messages_headers_and_status_come_out_in_one_take() {
        let outbox = Arc::new(Outbox::default());
        outbox.send_headers(Metadata::new(), Compression::Identity);
        for text in ["a", "bc"] {
            let pushed = try_push(
                &outbox,
                text,
                [Compression::Identity, Compression::Gzip],
                100,
            );
            assert!(matches!(pushed, Poll::Ready(Ok(true))));
        }
        HandlerEnd::new(Arc::clone(&outbox)).finish(Status::ok());
        let taken = poll_fn(|cx| outbox.poll_take(cx)).await;
        assert!(taken.headers.is_some());
        let (data, encoding) = taken.data.unwrap();
        assert_eq!(encoding, Compression::Gzip);
        assert_eq!(&data[..], b"\0\0\0\0\x03\x0a\x01a\0\0\0\0\x04\x0a\x02bc");
        assert!(matches!(taken.end, Some(End::Finished(status)) if status.is_ok()));
    }

    #[tokio::test]
    async fn a_dropped_handler_end_is_seen_as_gone() {
        let outbox = Arc::new(Outbox::default());
        drop(HandlerEnd::new(Arc::clone(&outbox)));
        let taken = poll_fn(|cx| outbox.poll_take(cx)).await;
        assert!(matches!(taken.end, Some(End::HandlerGone)));
    }

    /// What one `poll_push` of `text` (as given, `max_len`) did.
    fn try_push(
        outbox: &Outbox,
        text: &str,
        encodings: [Compression; 2],
        max_len: usize,
    ) -> Poll<Result<bool, Status>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let [encoding, headers] = encodings;
        outbox.poll_push(
            &mut cx,
            &ProstCodec,
            &text.to_owned(),
            encoding,
            headers,
            max_len,
        )
    }

    fn push_plain(outbox: &Outbox, text: &str) -> Poll<Result<bool, Status>> {
        try_push(outbox, text, [Compression::Identity; 2], usize::MAX)
    }

    #[tokio::test]
    async fn a_full_buffer_holds_the_handler_until_taken_or_closed() {
        let outbox = Arc::new(Outbox::default());
        let big = "x".repeat(HIGH_WATER);
        assert!(matches!(push_plain(&outbox, &big), Poll::Ready(Ok(true))));
        assert!(push_plain(&outbox, "y").is_pending(), "full");
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(outbox.poll_take(&mut cx).is_ready());
        assert!(matches!(push_plain(&outbox, "y"), Poll::Ready(Ok(true))));
        outbox.close();
        assert!(
            matches!(push_plain(&outbox, &big), Poll::Ready(Ok(false))),
            "the RPC is over"
        );
    }

    #[test]
    fn a_burst_is_published_whole_once_there_is_room() {
        let outbox = Outbox::default();
        let plain = Compression::Identity;
        let mut burst = Burst::default();
        for text in ["a", "bc"] {
            burst
                .encode(&ProstCodec, &text.to_owned(), plain, plain, 100)
                .unwrap();
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            push_plain(&outbox, &"x".repeat(HIGH_WATER)),
            Poll::Ready(Ok(true))
        ));
        assert!(
            outbox.poll_publish(&mut cx, &mut burst).is_pending(),
            "full"
        );
        assert!(outbox.poll_take(&mut cx).is_ready());
        assert_eq!(outbox.poll_publish(&mut cx, &mut burst), Poll::Ready(true));
        assert_eq!(burst.len(), 0);
        let Poll::Ready(taken) = outbox.poll_take(&mut cx) else {
            panic!("the burst is there to take");
        };
        assert_eq!(taken.messages, 2);
        let (data, _) = taken.data.unwrap();
        assert_eq!(&data[..], b"\0\0\0\0\x03\x0a\x01a\0\0\0\0\x04\x0a\x02bc");
    }

    #[test]
    fn an_oversized_message_leaves_the_buffer_as_it_was() {
        let outbox = Outbox::default();
        let pushed = try_push(&outbox, &"x".repeat(10), [Compression::Identity; 2], 4);
        let Poll::Ready(Err(status)) = pushed else {
            panic!("an oversized message is refused: {pushed:?}");
        };
        assert_eq!(status.code(), crate::Code::ResourceExhausted);
        assert!(outbox.lock().data.is_empty());
    }
}
