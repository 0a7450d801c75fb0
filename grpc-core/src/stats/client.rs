//! [`AttemptTrace`]: the tracers of one client attempt, fed by the attempt
//! code the retry and hedging layer runs for every attempt
//! (`client/rpc.rs` `attempt`).

use tokio::time::Instant;

use super::{
    AttemptInfo, AttemptTracer, ClientTracer, Started, Tracers, WireMessage, for_each_frame,
};
use crate::client::rpc::Invocation;
use crate::metadata::Metadata;
use crate::status::Status;

/// A channel's registered tracers.
pub(crate) type ClientTracers = Tracers<dyn ClientTracer>;

/// Which attempt of a call this is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttemptNumber {
    /// Attempts before it (`grpc-previous-rpc-attempts`).
    pub(crate) previous: u32,
    /// Sent again after the server refused the stream unprocessed.
    pub(crate) transparent: bool,
}

/// The tracers of one attempt: one pointer, `None` (and free) when no
/// tracer is registered or every one declined the attempt. Dropped before
/// [`ended`](Self::ended) (the call abandoned the attempt), it ends
/// `DEADLINE_EXCEEDED` past the call's deadline, else `CANCELLED`.
#[derive(Default)]
pub(crate) struct AttemptTrace(Option<Box<Active>>);

struct Active {
    tracers: Started<dyn AttemptTracer>,
    deadline: Option<Instant>,
}

impl AttemptTrace {
    /// The tracers of the channel of `invocation` give this attempt.
    pub(crate) fn start(
        invocation: &Invocation<'_>,
        number: AttemptNumber,
        deadline: Option<Instant>,
    ) -> AttemptTrace {
        let registered = &invocation.channel.config().tracers;
        if registered.is_empty() {
            return AttemptTrace(None);
        }
        let info = AttemptInfo {
            method: invocation.path,
            target: invocation.channel.target(),
            previous_attempts: number.previous,
            transparent_retry: number.transparent,
            metadata: &invocation.options.metadata,
        };
        let started = registered.iter().filter_map(|t| t.start_attempt(&info));
        let tracers = Started::collect(started);
        AttemptTrace(tracers.map(|tracers| Box::new(Active { tracers, deadline })))
    }

    fn tracers(&self) -> impl Iterator<Item = &dyn AttemptTracer> {
        self.0.iter().flat_map(|active| active.tracers.iter())
    }

    /// A framed request message went out.
    pub(crate) fn sent(&self, frame: &[u8]) {
        if self.0.is_none() {
            return;
        }
        for_each_frame(frame, |message| {
            for tracer in self.tracers() {
                tracer.message_sent(message);
            }
        });
    }

    /// The response headers arrived.
    pub(crate) fn headers(&self, metadata: &Metadata) {
        for tracer in self.tracers() {
            tracer.headers_received(metadata);
        }
    }

    /// A response message came off the wire.
    pub(crate) fn received(&self, message: WireMessage) {
        for tracer in self.tracers() {
            tracer.message_received(message);
        }
    }

    /// The attempt ended with `status`.
    pub(crate) fn ended(mut self, status: &Status) {
        self.end(status);
    }

    /// The attempt ended with `status`, which is handed back.
    pub(crate) fn end_with(self, status: Status) -> Status {
        self.ended(&status);
        status
    }

    fn end(&mut self, status: &Status) {
        if let Some(active) = self.0.take() {
            for tracer in active.tracers.iter() {
                tracer.attempt_ended(status);
            }
        }
    }
}

impl Drop for AttemptTrace {
    fn drop(&mut self) {
        let Some(active) = &self.0 else {
            return;
        };
        let status = match active.deadline {
            Some(deadline) if deadline <= Instant::now() => {
                Status::deadline_exceeded("Deadline Exceeded")
            }
            _ => Status::cancelled("attempt abandoned by the call"),
        };
        self.end(&status);
    }
}
