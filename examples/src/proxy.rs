//! A transparent proxy: a server whose fallback handler forwards every
//! call, whatever its method, over a [`Channel`] to a backend, as raw bytes
//! ([`RawBytes`]): requests, responses, metadata, deadline and status pass
//! through unchanged, and the proxy needs no generated code.

use futures_util::{Stream, StreamExt};
use grpc_core::{
    CallOptions, Channel, Metadata, RawBytes, RequestStream, ResponseStream, Service,
    ServiceBuilder, ServicerContext, Status,
};

/// The fallback service for [`Server::add_fallback`](grpc_core::Server::add_fallback)
/// that forwards every call to `backend`.
pub fn forwarding_service(backend: Channel) -> Service {
    let mut service = ServiceBuilder::new("proxy");
    service.stream_stream_async(
        "Forward",
        move |requests: RequestStream<RawBytes>, ctx: ServicerContext| {
            forward(backend.clone(), requests, ctx)
        },
    );
    service.build()
}

/// Forwards one call: the client's requests to the backend as they come,
/// the backend's responses, metadata and status back.
async fn forward(
    backend: Channel,
    requests: RequestStream<RawBytes>,
    ctx: ServicerContext,
) -> Result<impl Stream<Item = Result<RawBytes, Status>> + Send + 'static, Status> {
    let mut options = CallOptions::new().metadata(forwarded(ctx.invocation_metadata()));
    if let Some(remaining) = ctx.time_remaining() {
        options = options.timeout(remaining);
    }
    let method = backend
        .stream_stream::<RawBytes, RawBytes>(ctx.method().to_owned())
        .with_options(options);
    // A broken client stream ends the forwarded requests; the client's own
    // call already knows why.
    let requests = requests
        .take_while(|request| std::future::ready(request.is_ok()))
        .filter_map(|request| std::future::ready(request.ok()));
    let responses = method.call_async(requests).await.map_err(Status::from)?;
    let initial = responses.initial_metadata().await;
    if !initial.is_empty() {
        ctx.send_initial_metadata(initial)
            .map_err(|error| Status::internal(error.to_string()))?;
    }
    Ok(relay(responses, ctx))
}

/// The backend's responses, then its trailing metadata on `ctx`; a failed
/// call's status (with its trailing metadata) as the last item.
fn relay(
    responses: ResponseStream<RawBytes>,
    ctx: ServicerContext,
) -> impl Stream<Item = Result<RawBytes, Status>> + Send + 'static {
    futures_util::stream::unfold(Some((responses, ctx)), |state| async move {
        let (mut responses, ctx) = state?;
        match responses.next().await {
            Some(Ok(response)) => Some((Ok(response), Some((responses, ctx)))),
            Some(Err(error)) => Some((Err(Status::from(error)), None)),
            None => {
                ctx.set_trailing_metadata(responses.trailing_metadata().await);
                None
            }
        }
    })
}

/// The client's metadata minus what the proxy's own call sets.
fn forwarded(metadata: &Metadata) -> Metadata {
    let mut forwarded = metadata.clone();
    forwarded.remove("user-agent");
    forwarded
}
