//! [`CallTrace`]: the tracers of one server call, fed by the RPC task of
//! either protocol family (gRPC in `server/rpc.rs`, Connect and gRPC-Web
//! in `server/protocol/call.rs`).

use super::{ServerCallTracer, ServerTracer, Started, Tracers, WireMessage, for_each_frame};
use crate::metadata::Metadata;
use crate::server::{HandlerCallDetails, ServicerContext};
use crate::status::Code;
use crate::stream::outbox::Taken;

/// The server's registered tracers.
pub(crate) type ServerTracers = Tracers<dyn ServerTracer>;

/// The tracers of one call: one pointer, `None` (and free) when no tracer
/// is registered or every one declined the call. Dropped before
/// [`ended`](Self::ended), the call ends `CANCELLED`.
#[derive(Default)]
pub(crate) struct CallTrace(Option<Box<Active>>);

struct Active {
    tracers: Started<dyn ServerCallTracer>,
    headers_sent: bool,
}

impl CallTrace {
    /// The tracers `registered` give the call of `ctx`.
    pub(crate) fn start(registered: &ServerTracers, ctx: &ServicerContext) -> CallTrace {
        if registered.is_empty() {
            return CallTrace(None);
        }
        let details = HandlerCallDetails::new(ctx.clone());
        let started = registered.iter().filter_map(|t| t.start_call(&details));
        let tracers = Started::collect(started);
        CallTrace(tracers.map(|tracers| {
            Box::new(Active {
                tracers,
                headers_sent: false,
            })
        }))
    }

    /// A request message came off the wire.
    pub(crate) fn received(&self, message: WireMessage) {
        if let Some(active) = &self.0 {
            for tracer in active.tracers.iter() {
                tracer.message_received(message);
            }
        }
    }

    /// The writer took `taken` from the outbox: its headers (explicit, or
    /// implied by the first message) and each of its messages.
    pub(crate) fn taken(&mut self, taken: &Taken) {
        let Some(active) = &mut self.0 else {
            return;
        };
        let implied;
        let headers = match (&taken.headers, &taken.data) {
            (Some((metadata, _)), _) => Some(metadata),
            (None, Some(_)) if !active.headers_sent => {
                implied = Metadata::new();
                Some(&implied)
            }
            _ => None,
        };
        if let Some(metadata) = headers {
            active.headers_sent = true;
            for tracer in active.tracers.iter() {
                tracer.headers_sent(metadata);
            }
        }
        if let Some((frames, _)) = &taken.data {
            for_each_frame(frames, |message| {
                for tracer in active.tracers.iter() {
                    tracer.message_sent(message);
                }
            });
        }
    }

    /// The call ended with `code`.
    pub(crate) fn ended(mut self, code: Code) {
        self.end(code);
    }

    fn end(&mut self, code: Code) {
        if let Some(active) = self.0.take() {
            for tracer in active.tracers.iter() {
                tracer.call_ended(code);
            }
        }
    }
}

impl Drop for CallTrace {
    fn drop(&mut self) {
        self.end(Code::Cancelled);
    }
}
