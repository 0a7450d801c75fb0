//! Where the chain meets the call: the entry (a call's framed requests
//! into [`RequestMessages`], the chain's [`ClientResponse`] into the call's
//! delivery) and the end of the chain (the call on the wire).

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{ClientCallDetails, ClientContinuation, ClientInterceptors, ClientResponse};
use super::{MethodKind, RequestMessages};
use crate::channel::Channel;
use crate::client::call::CallShared;
use crate::client::rpc::{self, Delivery, Invocation, Outgoing};
use crate::codec::Compression;
use crate::codec::proto::{frame_payload, unframe};
use crate::status::Status;

/// Response messages buffered between the connection and the chain.
const RESPONSE_QUEUE: usize = 16;

/// Runs one call through `interceptors`: what [`rpc::run`] does on an
/// intercepted channel.
pub(crate) async fn run(
    interceptors: &ClientInterceptors,
    invocation: Invocation<'_>,
    call: &Arc<CallShared>,
    outgoing: Outgoing,
    delivery: Delivery<'_>,
) -> Status {
    let kind = MethodKind::new(
        !matches!(outgoing, Outgoing::One(_)),
        matches!(delivery, Delivery::Forward(_)),
    );
    let details =
        ClientCallDetails::new(invocation.path, invocation.options, kind, invocation.codec);
    let requests = match request_messages(outgoing, invocation.compression()) {
        Ok(requests) => requests,
        Err(status) => return status,
    };
    let mut channel = invocation.channel.clone();
    channel.interceptors = None;
    let continuation = ClientContinuation {
        chain: interceptors.clone(),
        next: 0,
        wire: Arc::new(Wire {
            channel,
            call: Arc::clone(call),
            timeout: invocation.options.timeout,
        }),
    };
    let intercepted = async move {
        let response = continuation.call(details, requests).await;
        deliver(response, delivery).await
    };
    tokio::select! {
        biased;
        status = intercepted => status,
        _ = call.cancel_token().cancelled() => Status::cancelled("Locally cancelled by application!"),
        _ = invocation.channel.closed_token().cancelled() => Status::cancelled("Channel closed!"),
    }
}

/// The call's framed requests as the serialized messages interceptors see.
fn request_messages(
    outgoing: Outgoing,
    compression: Compression,
) -> Result<RequestMessages, Status> {
    let unframe =
        move |item: Result<Bytes, Status>| item.and_then(|frame| unframe(frame, compression));
    Ok(match outgoing {
        Outgoing::One(frame) => RequestMessages::Unary(unframe(Ok(frame))?),
        Outgoing::Stream(queue) => {
            let drawn = futures_util::stream::unfold(queue, |mut queue| async move {
                queue.recv().await.map(|item| (item, queue))
            });
            RequestMessages::from_stream(drawn.map(unframe))
        }
        Outgoing::Async(stream) => RequestMessages::from_stream(stream.map(unframe)),
    })
}

/// Hands the chain's response to the call; returns the call's status.
async fn deliver(mut response: ClientResponse, mut delivery: Delivery<'_>) -> Status {
    while let Some(message) = response.message().await {
        if let Err(status) = delivery.deliver(message).await {
            return status;
        }
    }
    response
        .status()
        .cloned()
        .unwrap_or_else(|| Status::internal("an intercepted call ended without a status"))
}

/// The end of the chain: what sends a call on the channel.
pub(super) struct Wire {
    /// The channel, without its interceptors.
    channel: Channel,
    /// The caller's call: its cancellation, metadata and status.
    call: Arc<CallShared>,
    /// The caller's timeout, whose deadline `call` holds.
    timeout: Option<Duration>,
}

impl Wire {
    /// Starts the call described by `details`; the exchange runs as the
    /// returned response is read.
    pub(super) fn call(
        self: &Arc<Self>,
        details: ClientCallDetails,
        requests: RequestMessages,
    ) -> ClientResponse {
        let wire = Arc::clone(self);
        let (sink, messages) = mpsc::channel(RESPONSE_QUEUE);
        let driver = async move {
            let options = details.options();
            let invocation = Invocation {
                channel: &wire.channel,
                path: &details.method,
                options: &options,
                codec: details.codec,
            };
            let config = wire.channel.config();
            let outgoing = match outgoing(
                requests,
                invocation.compression(),
                config.max_send_message_length,
            ) {
                Ok(outgoing) => outgoing,
                Err(status) => return status,
            };
            let delivery = Delivery::Forward(sink);
            if details.timeout == wire.timeout {
                return rpc::run_direct(invocation, &wire.call, outgoing, delivery).await;
            }
            // A changed timeout: a call of its own with that deadline,
            // relayed to the caller's.
            let attempt = CallShared::new(details.timeout);
            tokio::select! {
                biased;
                status = rpc::run_direct(invocation, &attempt, outgoing, delivery) => status,
                _ = wire.call.cancel_token().cancelled() => Status::cancelled("Locally cancelled by application!"),
                never = relay(&attempt, &wire.call) => match never {},
            }
        };
        ClientResponse::driven(driver, messages)
    }
}

/// Publishes on `caller` what happens on `attempt`: the stream opening and
/// the initial metadata. Never ends.
async fn relay(attempt: &CallShared, caller: &CallShared) -> std::convert::Infallible {
    if poll_fn(|cx| attempt.poll_opened(cx)).await {
        caller.set_opened();
    }
    caller.set_initial_metadata(attempt.initial_metadata_async().await);
    std::future::pending().await
}

/// Serialized requests framed for the wire, compressed when asked.
fn outgoing(
    requests: RequestMessages,
    compression: Compression,
    max_send: usize,
) -> Result<Outgoing, Status> {
    Ok(match requests {
        RequestMessages::Unary(message) => {
            Outgoing::One(frame_payload(&message, compression, max_send)?)
        }
        RequestMessages::Stream(stream) => Outgoing::Async(Box::pin(stream.map(move |item| {
            item.and_then(|message| frame_payload(&message, compression, max_send))
        }))),
    })
}
