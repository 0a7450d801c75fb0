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

use crate::codec::Compression;
use crate::codec::Encoder;
use crate::codec::proto::encode_into;
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

    /// Ready when the handler may add a message: `false` once the RPC is
    /// over (the message would go nowhere).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(false);
        }
        if state.data.len() < HIGH_WATER {
            return Poll::Ready(true);
        }
        state.handler = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Encodes `message` behind the buffered ones; `headers` is what the
    /// response headers announce. `Ok(false)` when the RPC is over.
    pub(crate) fn push<C: Encoder<M>, M>(
        &self,
        codec: &C,
        message: &M,
        encoding: Compression,
        headers: Compression,
        max_len: usize,
    ) -> Result<bool, Status> {
        let mut state = self.lock();
        if state.closed {
            return Ok(false);
        }
        encode_into(codec, message, encoding, max_len, &mut state.data)?;
        state.messages += 1;
        state.data_encoding.get_or_insert(headers);
        wake(state.writer.take());
        Ok(true)
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
    use std::future::poll_fn;
    use std::sync::Arc;

    #[tokio::test]
    async fn messages_headers_and_status_come_out_in_one_take() {
        let outbox = Arc::new(Outbox::default());
        outbox.send_headers(Metadata::new(), Compression::Identity);
        for text in ["a", "bc"] {
            let pushed = outbox.push(
                &crate::codec::ProstCodec,
                &text.to_owned(),
                Compression::Identity,
                Compression::Gzip,
                100,
            );
            assert!(pushed.unwrap());
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

    fn push_plain(outbox: &Outbox, text: &str) -> Result<bool, Status> {
        let plain = Compression::Identity;
        outbox.push(
            &crate::codec::ProstCodec,
            &text.to_owned(),
            plain,
            plain,
            usize::MAX,
        )
    }

    #[tokio::test]
    async fn a_full_buffer_holds_the_handler_until_taken_or_closed() {
        let outbox = Arc::new(Outbox::default());
        let big = "x".repeat(HIGH_WATER);
        assert!(push_plain(&outbox, &big).unwrap());
        let waker = std::task::Waker::noop().clone();
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.poll_ready(&mut cx).is_pending());
        assert!(outbox.poll_take(&mut cx).is_ready());
        assert_eq!(outbox.poll_ready(&mut cx), Poll::Ready(true));
        outbox.close();
        assert_eq!(outbox.poll_ready(&mut cx), Poll::Ready(false));
        assert!(!push_plain(&outbox, &big).unwrap(), "the RPC is over");
    }

    #[test]
    fn an_oversized_message_leaves_the_buffer_as_it_was() {
        let outbox = Outbox::default();
        let status = outbox
            .push(
                &crate::codec::ProstCodec,
                &"x".repeat(10),
                Compression::Identity,
                Compression::Identity,
                4,
            )
            .unwrap_err();
        assert_eq!(status.code(), crate::Code::ResourceExhausted);
        assert!(outbox.lock().data.is_empty());
    }
}
