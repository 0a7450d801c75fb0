//! Client interceptors: [`CallMetricsInterceptor`] records each call's
//! duration, [`ClientSpanInterceptor`] its span and `traceparent`; the
//! deprecated [`AttemptMetricsInterceptor`] records one attempt per pass.

use std::sync::Arc;

use futures_util::StreamExt;
use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, Code,
    RequestMessages, ResponsePart,
};

use tracing::Instrument;

use crate::client::{ClientCallRecorder, ClientMetrics};
use crate::labels::MethodLabel;
use crate::trace::{TRACEPARENT, TraceParent, client_span, record_status};

/// Records `grpc.client.call.duration` of every call, as the application
/// sees it; put it outermost. The attempts of the call are recorded by
/// [`ClientMetrics::attempt_tracer`] on the channel (see
/// [`AttemptMetricsTracer`](crate::AttemptMetricsTracer) for the setup).
#[derive(Clone, Debug)]
pub struct CallMetricsInterceptor {
    metrics: ClientMetrics,
    target: Arc<str>,
}

/// Records `grpc.client.attempt.started`, `.duration` and the sent and
/// received message sizes of every pass through it; put it innermost.
/// Without a [`CallMetricsInterceptor`] outside it, each attempt is also a
/// call.
///
/// Deprecated way in ([`ClientMetrics::attempt_interceptor`]): it sits
/// outside the channel's retry layer, so the retries and hedges of a
/// service config's policies and transparent retries are one attempt to
/// it, and its sizes are of the uncompressed messages.
/// [`ClientMetrics::attempt_tracer`], registered with
/// `ChannelBuilder::tracer`, sees every attempt and its compressed sizes.
#[derive(Clone, Debug)]
pub struct AttemptMetricsInterceptor {
    metrics: ClientMetrics,
    target: Arc<str>,
}

impl ClientMetrics {
    /// The per-call interceptor for a channel to `target`.
    pub fn call_interceptor(&self, target: &str) -> CallMetricsInterceptor {
        CallMetricsInterceptor {
            metrics: self.clone(),
            target: target.into(),
        }
    }

    /// The per-attempt interceptor for a channel to `target`.
    #[deprecated(
        since = "0.1.0",
        note = "an interceptor does not see the attempts of the channel's retry and hedging \
                policies: register `ClientMetrics::attempt_tracer()` with `ChannelBuilder::tracer`"
    )]
    pub fn attempt_interceptor(&self, target: &str) -> AttemptMetricsInterceptor {
        AttemptMetricsInterceptor {
            metrics: self.clone(),
            target: target.into(),
        }
    }
}

/// The call recorder a [`CallMetricsInterceptor`] leaves for the attempts.
#[derive(Clone)]
struct CallRecorder(Arc<ClientCallRecorder>);

impl ClientInterceptor for CallMetricsInterceptor {
    async fn intercept(
        &self,
        mut details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let method = MethodLabel::registered(&details.method);
        let call = Arc::new(self.metrics.call_started(method, &self.target));
        details.insert_extension(CallRecorder(Arc::clone(&call)));
        let response = continuation.call(details, requests).await;
        on_end(response, move |code| call.finish(code))
    }
}

impl ClientInterceptor for AttemptMetricsInterceptor {
    async fn intercept(
        &self,
        details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        // Without a call interceptor outside, this attempt is the call.
        let (call, owned) = match details.extension::<CallRecorder>() {
            Some(CallRecorder(call)) => (Arc::clone(call), false),
            None => {
                let method = MethodLabel::registered(&details.method);
                (
                    Arc::new(self.metrics.call_started(method, &self.target)),
                    true,
                )
            }
        };
        let attempt = Arc::new(call.attempt_started());
        let sent = Arc::clone(&attempt);
        let requests = requests.map(move |message| {
            sent.message_sent(message.len());
            Ok(message)
        });
        let requests = match requests {
            Ok(requests) => requests,
            Err(status) => return ClientResponse::error(status),
        };
        let received = Arc::clone(&attempt);
        let response = continuation
            .call(details, requests)
            .await
            .map_messages(move |message| {
                received.message_received(message.len());
                Ok(message)
            });
        on_end(response, move |code| {
            attempt.finish(code);
            if owned {
                call.finish(code);
            }
        })
    }
}

/// `response`, calling `ended` with its status code when it ends (or
/// `CANCELLED` when the caller drops it before: the recorders' drop).
fn on_end(response: ClientResponse, ended: impl FnOnce(Code) + Send + 'static) -> ClientResponse {
    let mut ended = Some(ended);
    ClientResponse::from_stream(response.into_stream().inspect(move |part| {
        if let ResponsePart::End(status) = part
            && let Some(ended) = ended.take()
        {
            ended(status.code());
        }
    }))
}

/// Runs every call inside a [`client_span`](crate::client_span) and sends
/// the span's `traceparent` with the request: a child of the
/// `traceparent` the call already carries (a server handler passing its
/// caller's on), else the root of a new trace. The span gets the call's
/// final `rpc.grpc.status_code`.
///
/// ```
/// use grpc_core::{intercept_channel, insecure_channel};
/// use grpc_metrics::ClientSpanInterceptor;
///
/// let channel = insecure_channel("localhost:50051")?;
/// let target = channel.target().to_owned();
/// let channel = intercept_channel(channel, ClientSpanInterceptor::new(&target));
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientSpanInterceptor {
    target: Arc<str>,
}

impl ClientSpanInterceptor {
    /// The span interceptor of a channel to `target` (`server.address`).
    pub fn new(target: &str) -> ClientSpanInterceptor {
        ClientSpanInterceptor {
            target: target.into(),
        }
    }
}

impl ClientInterceptor for ClientSpanInterceptor {
    async fn intercept(
        &self,
        mut details: ClientCallDetails,
        requests: RequestMessages,
        continuation: ClientContinuation,
    ) -> ClientResponse {
        let caller = details
            .metadata
            .get(TRACEPARENT)
            .and_then(TraceParent::parse);
        let context = TraceParent::child_of(caller.as_ref());
        if let Err(error) = details.metadata.insert(TRACEPARENT, context.to_string()) {
            tracing::debug!(%error, "traceparent not sent");
        }
        let span = client_span(&details.method, &self.target, &context);
        let response = continuation
            .call(details, requests)
            .instrument(span.clone())
            .await;
        on_end(response, move |code| record_status(&span, code))
    }
}
