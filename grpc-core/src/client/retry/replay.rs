//! The request messages of a call, kept for sending again on a retry
//! while they fit the retry buffer.

use bytes::Bytes;

use crate::client::rpc::Outgoing;
use crate::status::Status;

/// The request source and what was drawn from it so far.
pub(crate) struct Replayable {
    source: Outgoing,
    sent: Vec<Bytes>,
    buffered: usize,
    limit: usize,
    /// A message went out that is no longer buffered: no replay possible.
    overflowed: bool,
    /// The next buffered message this attempt sends.
    cursor: usize,
}

impl Replayable {
    pub(crate) fn new(source: Outgoing, limit: usize) -> Replayable {
        Replayable {
            source,
            sent: Vec::new(),
            buffered: 0,
            limit,
            overflowed: false,
            cursor: 0,
        }
    }

    /// The single request of a unary-request call.
    pub(crate) fn one(&self) -> Option<Bytes> {
        match &self.source {
            Outgoing::One(frame) => Some(frame.clone()),
            _ => None,
        }
    }

    /// The next framed request of this attempt; `None` after the last.
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, Status>> {
        if let Some(frame) = self.sent.get(self.cursor) {
            self.cursor += 1;
            return Some(Ok(frame.clone()));
        }
        let item = self.source.next().await;
        if let Some(Ok(frame)) = &item {
            self.buffered += frame.len();
            if self.buffered > self.limit {
                self.overflowed = true;
                self.sent = Vec::new();
            } else if !self.overflowed {
                self.sent.push(frame.clone());
            }
            self.cursor = self.sent.len();
        }
        item
    }

    /// Starts over for a new attempt; false when that is not possible
    /// (a sent message did not fit the buffer).
    pub(crate) fn rewind(&mut self) -> bool {
        self.cursor = 0;
        !self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(items: &[&'static str]) -> Outgoing {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        for item in items {
            tx.try_send(Ok(Bytes::from_static(item.as_bytes())))
                .unwrap();
        }
        Outgoing::Stream(rx)
    }

    async fn drain(replay: &mut Replayable, count: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        for _ in 0..count {
            if let Some(Ok(frame)) = replay.next().await {
                out.push(frame);
            }
        }
        out
    }

    #[tokio::test]
    async fn replays_what_fits_and_continues_from_the_source() {
        let mut replay = Replayable::new(source(&["a", "b", "c"]), 8);
        assert_eq!(drain(&mut replay, 2).await, ["a", "b"]);
        assert!(replay.rewind());
        assert_eq!(drain(&mut replay, 3).await, ["a", "b", "c"]);
        let mut small = Replayable::new(source(&["abc", "def"]), 4);
        assert_eq!(drain(&mut small, 2).await, ["abc", "def"]);
        assert!(!small.rewind());
    }
}
