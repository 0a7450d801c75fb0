//! A wire tap for tonic bodies: sees the compressed flag of every gRPC
//! message passing through, can send chosen messages uncompressed, and can
//! add trailers.
//!
//! tonic has no API for what the interop cases ask of a peer here: the
//! compressed flag of a received message (`expect_compressed`, and the
//! client's check of `response_compressed`), a per-message compression
//! switch on streams, and trailing metadata on a successful response. The
//! tonic peer gets them from this tap, the way tonic's own interop server
//! adds the echoed trailers with a body wrapper.

use std::collections::VecDeque;
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// The compressed flags of the messages of one body, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct MessageLog(Arc<Mutex<Vec<bool>>>);

impl MessageLog {
    fn push(&self, compressed: bool) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(compressed);
    }

    /// The flag of message `index`, once it has passed.
    pub(crate) fn get(&self, index: usize) -> Option<bool> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(index)
            .copied()
    }

    /// Every flag seen so far.
    pub(crate) fn flags(&self) -> Vec<bool> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Which messages of an outgoing body must go out uncompressed: message `i`
/// is sent plain when `plan[i]` is false. Messages past the end of the plan
/// go out as encoded. Shared so a streaming handler can extend it as it
/// produces messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct CompressionPlan(Arc<Mutex<Vec<bool>>>);

impl CompressionPlan {
    /// A plan fixed up front.
    pub(crate) fn new(compressed: impl IntoIterator<Item = bool>) -> CompressionPlan {
        CompressionPlan(Arc::new(Mutex::new(compressed.into_iter().collect())))
    }

    /// Plans the next message.
    pub(crate) fn push(&self, compressed: bool) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(compressed);
    }

    fn wants_plain(&self, index: usize) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(index)
            .is_some_and(|compressed| !compressed)
    }
}

/// What the tap does to one body.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tap {
    /// Records the flags of the messages as they leave the tap.
    pub(crate) log: Option<MessageLog>,
    /// Decompresses the messages the plan wants plain.
    pub(crate) plan: Option<CompressionPlan>,
    /// Merged into the trailers (or sent as trailers if there are none).
    pub(crate) trailers: Option<HeaderMap>,
}

/// A body with a [`Tap`] on it.
pub(crate) struct TapBody<B> {
    inner: B,
    tap: Tap,
    /// Bytes of an unfinished message.
    pending: BytesMut,
    next_index: usize,
    /// Trailers held back until the buffered bytes are out.
    held: Option<HeaderMap>,
    inner_done: bool,
    /// Frames ready to go out, in order.
    out: VecDeque<Frame<Bytes>>,
}

impl<B> TapBody<B> {
    /// Taps `inner`.
    pub(crate) fn new(inner: B, tap: Tap) -> TapBody<B> {
        TapBody {
            inner,
            tap,
            pending: BytesMut::new(),
            next_index: 0,
            held: None,
            inner_done: false,
            out: VecDeque::new(),
        }
    }

    /// Moves every complete message from `pending` to `out`, as the tap says.
    fn drain_messages(&mut self) {
        let mut ready = BytesMut::new();
        while self.pending.len() >= 5 {
            let len = u32::from_be_bytes([
                self.pending[1],
                self.pending[2],
                self.pending[3],
                self.pending[4],
            ]) as usize;
            if self.pending.len() < 5 + len {
                break;
            }
            let mut compressed = self.pending[0] == 1;
            self.pending.advance(5);
            let mut payload = self.pending.split_to(len).freeze();
            let index = self.next_index;
            self.next_index += 1;
            if compressed
                && self
                    .tap
                    .plan
                    .as_ref()
                    .is_some_and(|plan| plan.wants_plain(index))
            {
                payload = Bytes::from(decompress(&payload));
                compressed = false;
            }
            if let Some(log) = &self.tap.log {
                log.push(compressed);
            }
            ready.put_u8(u8::from(compressed));
            ready.put_u32(payload.len() as u32);
            ready.extend_from_slice(&payload);
        }
        if !ready.is_empty() {
            self.out.push_back(Frame::data(ready.freeze()));
        }
    }

    /// The trailers to send, with the extra ones merged in.
    fn final_trailers(&mut self, trailers: Option<HeaderMap>) -> Option<HeaderMap> {
        match (trailers, self.tap.trailers.take()) {
            (Some(mut trailers), Some(extra)) => {
                trailers.extend(extra);
                Some(trailers)
            }
            (trailers, extra) => trailers.or(extra),
        }
    }
}

/// Decompresses a gzip or zlib (deflate) message, told apart by its magic.
fn decompress(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let result = if payload.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(payload).read_to_end(&mut out)
    } else {
        flate2::read::ZlibDecoder::new(payload).read_to_end(&mut out)
    };
    result.expect("the tap only decompresses what tonic compressed");
    out
}

impl<B> Body for TapBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        loop {
            if let Some(frame) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if this.inner_done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.pending.extend_from_slice(&data);
                        this.drain_messages();
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().ok();
                        this.held = trailers;
                    }
                },
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    this.inner_done = true;
                    if !this.pending.is_empty() {
                        // A truncated message: pass it on as it is.
                        let rest = this.pending.split().freeze();
                        this.out.push_back(Frame::data(rest));
                    }
                    let held = this.held.take();
                    if let Some(trailers) = this.final_trailers(held) {
                        this.out.push_back(Frame::trailers(trailers));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.out.is_empty()
            && (self.inner_done
                || (self.inner.is_end_stream()
                    && self.pending.is_empty()
                    && self.held.is_none()
                    && self.tap.trailers.is_none()))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
