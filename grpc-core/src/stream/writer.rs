//! [`StreamWriter`]: the one writer of a server stream's response. It takes
//! what the handler left in the [`Outbox`] (headers, a batch of framed
//! messages, the end) and puts it on the HTTP/2 stream: data within the
//! peer's flow-control window, so a client that does not read holds the
//! handler back instead of filling memory; the final batch and the status
//! at once (their size is bounded by the outbox).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use http::HeaderValue;
use tokio::time::{Instant, Sleep};

use super::outbox::{End, Outbox, Taken};
use super::responder::Responder;
use crate::status::Status;

/// How long a response may wait for the peer's window before it is logged.
const STALL_WARNING: Duration = Duration::from_secs(2);

/// What the writer has to report.
pub(crate) enum WriterEvent {
    /// Output from the handler side.
    Taken(Taken),
    /// The peer's window opened by this many bytes.
    Capacity(usize),
    /// Data has waited [`STALL_WARNING`] for the peer's window.
    Stalled,
    /// The peer reset the stream (or the connection went away).
    Reset(h2::Reason),
}

/// The stream cannot take more (reset, or the connection is gone).
#[derive(Debug)]
pub(crate) struct Gone;

/// Writes one response.
pub(crate) struct StreamWriter {
    responder: Responder,
    /// Bytes taken from the outbox, waiting for the peer's window.
    pending: Option<Bytes>,
    /// Armed while data waits for the window; created the first time.
    stall: Option<Pin<Box<Sleep>>>,
    stall_reported: bool,
}

impl StreamWriter {
    pub(crate) fn new(respond: SendResponse<Bytes>, content_type: HeaderValue) -> StreamWriter {
        StreamWriter {
            responder: Responder::Head(respond, content_type),
            pending: None,
            stall: None,
            stall_reported: true,
        }
    }

    /// The next thing the writer must act on: a reset first; then, while
    /// data waits for the window, the window; else the outbox.
    pub(crate) fn poll_event(
        &mut self,
        outbox: &Outbox,
        cx: &mut Context<'_>,
    ) -> Poll<WriterEvent> {
        if let Poll::Ready(reason) = self.responder.poll_reset(cx) {
            return Poll::Ready(WriterEvent::Reset(reason));
        }
        let Some(_) = self.pending else {
            return outbox.poll_take(cx).map(WriterEvent::Taken);
        };
        if !self.stall_reported
            && let Some(stall) = &mut self.stall
            && stall.as_mut().poll(cx).is_ready()
        {
            self.stall_reported = true;
            return Poll::Ready(WriterEvent::Stalled);
        }
        let Responder::Body(stream) = &mut self.responder else {
            return Poll::Ready(WriterEvent::Reset(h2::Reason::CANCEL));
        };
        match stream.poll_capacity(cx) {
            Poll::Ready(Some(Ok(available))) => Poll::Ready(WriterEvent::Capacity(available)),
            Poll::Ready(Some(Err(_)) | None) => Poll::Ready(WriterEvent::Reset(h2::Reason::CANCEL)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes what was taken; returns how the handler side ended, if it did.
    pub(crate) fn write(&mut self, taken: Taken) -> Result<Option<End>, Gone> {
        if let Some((metadata, encoding)) = taken.headers {
            self.responder.send_headers(metadata, encoding);
        }
        if let Some((data, encoding)) = taken.data {
            let stream = self.responder.body(encoding).ok_or(Gone)?;
            if taken.end.is_some() {
                // The last batch: h2 holds what the window does not admit
                // yet, bounded by the outbox's limit.
                stream.send_data(data, false).map_err(|_| Gone)?;
            } else {
                stream.reserve_capacity(data.len());
                self.pending = Some(data);
                let at = Instant::now() + STALL_WARNING;
                match &mut self.stall {
                    Some(stall) => stall.as_mut().reset(at),
                    None => self.stall = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                self.stall_reported = false;
            }
        }
        Ok(taken.end)
    }

    /// Sends as much pending data as `available` bytes of window allow.
    pub(crate) fn write_pending(&mut self, available: usize) -> Result<(), Gone> {
        let (Some(data), Responder::Body(stream)) = (&mut self.pending, &mut self.responder) else {
            return Ok(());
        };
        if available > 0 {
            let chunk = data.split_to(available.min(data.len()));
            stream.send_data(chunk, false).map_err(|_| Gone)?;
        }
        if data.is_empty() {
            self.pending = None;
        } else {
            stream.reserve_capacity(data.len());
        }
        Ok(())
    }

    /// Ends the response with `status` (trailers, or Trailers-Only).
    pub(crate) fn finish(&mut self, status: &Status) {
        if let (Some(data), Responder::Body(stream)) = (self.pending.take(), &mut self.responder) {
            let _ = stream.send_data(data, false);
        }
        self.responder.finish(status);
    }

    /// Resets the stream.
    pub(crate) fn reset(&mut self, reason: h2::Reason) {
        self.pending = None;
        self.responder.reset(reason);
    }
}
