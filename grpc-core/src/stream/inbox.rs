//! [`Inbox`]: received messages on their way from the task that reads a
//! stream to the code that consumes them, the receive-side counterpart of
//! the [`Outbox`](super::outbox::Outbox).
//!
//! A bounded channel hands over one message at a time (a permit, a queue
//! slot and a wake-up check per message, and a lock to give the permit
//! back). Here the reader stages every message it deframed from what it
//! has received and appends them to one queue under one lock
//! ([`InboxSender::stage`], then [`InboxSender::flush`]); the consumer
//! takes the whole queue at once and drains it without locking, so a DATA
//! frame holding hundreds of small messages costs a handful of
//! synchronisations, not hundreds. The queue is bounded
//! ([`INBOX_MESSAGES`] messages, [`INBOX_BYTES`] bytes, plus what one
//! flush appends: the messages of the chunk the reader holds): past it the
//! reader waits, so a slow consumer pushes back through HTTP/2 flow
//! control.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

/// Messages queued before the reader waits for the consumer.
pub(crate) const INBOX_MESSAGES: usize = 256;
/// Queued payload bytes before the reader waits (a single larger message
/// is always admitted).
pub(crate) const INBOX_BYTES: usize = 64 << 10;

/// The consumer went away.
#[derive(Debug)]
pub(crate) struct Closed;

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    bytes: usize,
    sender_gone: bool,
    receiver_gone: bool,
    /// The consumer, waiting for a message.
    receiver: Option<Waker>,
    /// The reader, waiting for room.
    sender: Option<Waker>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A message with the size it counts for against [`INBOX_BYTES`].
pub(crate) trait Measured {
    /// Its size in bytes.
    fn size(&self) -> usize;
}

impl Measured for Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

/// The reader's end.
pub(crate) struct InboxSender<T> {
    shared: Arc<Shared<T>>,
    /// Messages staged for the next flush.
    staged: VecDeque<T>,
    staged_bytes: usize,
}

/// The consumer's end: a batch taken from the queue, drained without a
/// lock, then the next batch.
pub(crate) struct Inbox<T> {
    shared: Arc<Shared<T>>,
    batch: VecDeque<T>,
}

/// A bounded inbox and its sender.
pub(crate) fn inbox<T>() -> (InboxSender<T>, Inbox<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            bytes: 0,
            sender_gone: false,
            receiver_gone: false,
            receiver: None,
            sender: None,
        }),
    });
    let sender = InboxSender {
        shared: Arc::clone(&shared),
        staged: VecDeque::new(),
        staged_bytes: 0,
    };
    (
        sender,
        Inbox {
            shared,
            batch: VecDeque::new(),
        },
    )
}

impl<T: Measured> InboxSender<T> {
    /// Keeps `message` for the next [`flush`](Self::flush), without a lock.
    pub(crate) fn stage(&mut self, message: T) {
        self.staged_bytes += message.size();
        self.staged.push_back(message);
    }

    /// Moves the staged messages to the consumer once the queue has room;
    /// `Err` when the consumer is gone.
    pub(crate) async fn flush(&mut self) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        if self.staged.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let mut state = self.shared.lock();
        if state.receiver_gone {
            return Poll::Ready(Err(Closed));
        }
        let full = state.queue.len() >= INBOX_MESSAGES || state.bytes >= INBOX_BYTES;
        if full && !state.queue.is_empty() {
            state.sender = Some(cx.waker().clone());
            return Poll::Pending;
        }
        state.bytes += std::mem::take(&mut self.staged_bytes);
        if state.queue.is_empty() {
            // Hand over the staging storage itself.
            std::mem::swap(&mut state.queue, &mut self.staged);
        } else {
            state.queue.append(&mut self.staged);
        }
        let receiver = state.receiver.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for InboxSender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.sender_gone = true;
        let receiver = state.receiver.take();
        drop(state);
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }
}

impl<T> Inbox<T> {
    /// The next message; `None` once the sender is gone and all are taken.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(message) = self.batch.pop_front() {
            return Poll::Ready(Some(message));
        }
        let mut state = self.shared.lock();
        if state.queue.is_empty() {
            if state.sender_gone {
                return Poll::Ready(None);
            }
            state.receiver = Some(cx.waker().clone());
            return Poll::Pending;
        }
        // Take the whole queue; the drained batch's storage becomes the
        // next queue, so steady streaming allocates nothing.
        std::mem::swap(&mut state.queue, &mut self.batch);
        state.bytes = 0;
        let sender = state.sender.take();
        drop(state);
        if let Some(sender) = sender {
            sender.wake();
        }
        Poll::Ready(self.batch.pop_front())
    }

    /// The next message of the batch already taken, without a lock.
    pub(crate) fn take_buffered(&mut self) -> Option<T> {
        self.batch.pop_front()
    }

    /// [`poll_recv`](Self::poll_recv) as a future.
    #[cfg(test)]
    pub(crate) async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        state.queue.clear();
        let sender = state.sender.take();
        drop(state);
        if let Some(sender) = sender {
            sender.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop_cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[tokio::test]
    async fn messages_arrive_in_order_then_the_end() {
        let (mut sender, mut inbox) = inbox::<Bytes>();
        for text in ["a", "b", "c"] {
            sender.stage(Bytes::from(text));
        }
        sender.flush().await.unwrap();
        assert_eq!(inbox.recv().await.unwrap(), "a");
        sender.stage(Bytes::from("d"));
        sender.flush().await.unwrap();
        drop(sender);
        let rest: Vec<Bytes> = [(); 3]
            .iter()
            .map_while(|()| match inbox.poll_recv(&mut noop_cx()) {
                Poll::Ready(message) => message,
                Poll::Pending => None,
            })
            .collect();
        assert_eq!(rest, ["b", "c", "d"]);
        assert_eq!(inbox.recv().await, None);
    }

    /// Stages `message` and flushes once.
    fn try_send(
        sender: &mut InboxSender<Bytes>,
        message: &'static [u8],
    ) -> Poll<Result<(), Closed>> {
        if !message.is_empty() {
            sender.stage(Bytes::from_static(message));
        }
        sender.poll_flush(&mut noop_cx())
    }

    #[test]
    fn a_full_inbox_holds_the_sender_until_the_consumer_takes() {
        let (mut sender, mut inbox) = inbox::<Bytes>();
        for _ in 0..INBOX_MESSAGES {
            assert!(try_send(&mut sender, b"x").is_ready());
        }
        assert!(try_send(&mut sender, b"y").is_pending());
        assert!(inbox.poll_recv(&mut noop_cx()).is_ready());
        assert!(try_send(&mut sender, b"").is_ready(), "the staged y");
        let taken: Vec<Bytes> = std::iter::from_fn(|| match inbox.poll_recv(&mut noop_cx()) {
            Poll::Ready(message) => message,
            Poll::Pending => None,
        })
        .collect();
        assert_eq!(taken.len(), INBOX_MESSAGES);
        assert_eq!(taken.last().unwrap(), "y");
    }

    #[test]
    fn a_staged_burst_goes_over_in_one_flush() {
        let (mut sender, mut inbox) = inbox::<Bytes>();
        for _ in 0..INBOX_MESSAGES * 2 {
            sender.stage(Bytes::from_static(b"x"));
        }
        assert!(try_send(&mut sender, b"").is_ready());
        assert!(try_send(&mut sender, b"y").is_pending(), "over the bound");
        assert!(inbox.poll_recv(&mut noop_cx()).is_ready());
        assert_eq!(inbox.batch.len(), INBOX_MESSAGES * 2 - 1);
    }

    #[test]
    fn one_message_over_the_byte_bound_is_admitted() {
        let (mut sender, _inbox) = inbox::<Bytes>();
        sender.stage(Bytes::from(vec![0; INBOX_BYTES * 2]));
        assert!(sender.poll_flush(&mut noop_cx()).is_ready());
        assert!(try_send(&mut sender, b"x").is_pending());
    }

    #[tokio::test]
    async fn a_dropped_consumer_fails_the_sender() {
        let (mut sender, inbox) = inbox::<Bytes>();
        drop(inbox);
        sender.stage(Bytes::new());
        assert!(sender.flush().await.is_err());
    }
}
