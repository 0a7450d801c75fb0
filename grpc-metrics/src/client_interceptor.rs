//! The client metrics of every call on a channel, through grpc-core's
//! [`ClientInterceptor`] hook: [`CallMetricsInterceptor`] per call
//! (outermost) and [`AttemptMetricsInterceptor`] per attempt (innermost).

use std::sync::Arc;

use futures_util::StreamExt;
use grpc_core::{
    ClientCallDetails, ClientContinuation, ClientInterceptor, ClientResponse, Code,
    RequestMessages, ResponsePart,
};

use crate::client::{ClientCallRecorder, ClientMetrics};
use crate::labels::MethodLabel;

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
