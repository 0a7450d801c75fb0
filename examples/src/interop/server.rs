//! The interop server: `grpc.testing.TestService` with the features the
//! standard cases ask of a server, as blocking servicer methods.

use std::collections::VecDeque;
use std::time::Duration;

use grpc_core::{
    Code, Compression, Metadata, Requests, Server, ServerBuilder, ServicerContext, Status,
};

use super::pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse, TestServiceServicer, add_test_service_servicer_to_server,
};
use super::{ECHO_INITIAL_KEY, ECHO_TRAILING_KEY};

/// Compression for unary responses that ask for it (`response_compressed`).
pub const UNARY_RESPONSE_COMPRESSION: Compression = Compression::Gzip;
/// Compression for streamed responses that ask for it
/// (`ResponseParameters.compressed`), so both algorithms cross the wire.
pub const STREAM_RESPONSE_COMPRESSION: Compression = Compression::Deflate;

/// The interop servicer: every feature of the standard server (payload
/// sizes, `response_status` echo, metadata echo, `interval_us` pacing,
/// compressed responses on request, `expect_compressed` checks), and
/// `UnimplementedCall` left out so it answers `UNIMPLEMENTED`.
#[derive(Clone, Copy, Debug, Default)]
pub struct InteropServicer;

/// A server with the interop services registered (only `TestService`:
/// `UnimplementedService` must stay unknown), not started yet.
///
/// ```
/// let server = rustgrpc_examples::interop::server(grpc_core::Server::builder());
/// let port = server.add_insecure_port("127.0.0.1:0")?;
/// server.start()?;
/// # server.stop(None).wait();
/// # Ok::<(), grpc_core::Error>(())
/// ```
pub fn server(builder: ServerBuilder) -> Server {
    let server = builder.build();
    add_test_service_servicer_to_server(InteropServicer, &server);
    server
}

fn zeros(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("negative payload size {size}")))?;
    Ok(Payload {
        r#type: 0, // COMPRESSABLE, the only type there is
        body: vec![0; size],
    })
}

fn payload_len(payload: Option<&Payload>) -> usize {
    payload.map_or(0, |payload| payload.body.len())
}

/// Echoes `x-grpc-test-echo-initial` in the initial metadata and
/// `x-grpc-test-echo-trailing-bin` in the trailing metadata.
fn echo_metadata(ctx: &ServicerContext) -> Result<(), Status> {
    let received = ctx.invocation_metadata();
    if let Some(value) = received.get(ECHO_INITIAL_KEY) {
        let initial = Metadata::from_pairs([(ECHO_INITIAL_KEY, value)])
            .map_err(|error| Status::internal(error.to_string()))?;
        ctx.send_initial_metadata(initial)
            .map_err(|error| Status::internal(error.to_string()))?;
    }
    if let Some(value) = received.get_bin(ECHO_TRAILING_KEY) {
        let trailing = Metadata::from_pairs([(ECHO_TRAILING_KEY, value)])
            .map_err(|error| Status::internal(error.to_string()))?;
        ctx.set_trailing_metadata(trailing);
    }
    Ok(())
}

/// The status a `response_status` asks for, if it asks for one.
fn echo_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => Err(Status::new(
            Code::from_i32(status.code),
            status.message.clone(),
        )),
        _ => Ok(()),
    }
}

/// Whether the request message the handler received last was compressed,
/// from its compressed flag on the wire
/// ([`ServicerContext::last_request_compressed`]).
fn request_was_compressed(ctx: &ServicerContext) -> bool {
    ctx.last_request_compressed().unwrap_or(false)
}

/// The `expect_compressed` check: `INVALID_ARGUMENT` when the request's
/// compression is not what the client said it would be.
fn check_expect_compressed(
    expect: Option<&BoolValue>,
    ctx: &ServicerContext,
) -> Result<(), Status> {
    let Some(expect) = expect else {
        return Ok(());
    };
    let compressed = request_was_compressed(ctx);
    match (expect.value, compressed) {
        (true, false) => Err(Status::invalid_argument(
            "Expected compressed request, but the request was not compressed",
        )),
        (false, true) => Err(Status::invalid_argument(
            "Expected an uncompressed request, but the request was compressed",
        )),
        _ => Ok(()),
    }
}

/// Sleeps `interval_us` (the pacing of streamed responses), ending early
/// when the RPC is over. False when it is.
fn pace(params: &ResponseParameters, ctx: &ServicerContext) -> bool {
    let mut left = Duration::from_micros(u64::try_from(params.interval_us).unwrap_or(0));
    while !left.is_zero() && ctx.is_active() {
        let step = left.min(Duration::from_millis(20));
        std::thread::sleep(step);
        left -= step;
    }
    ctx.is_active()
}

/// One streamed response, compressed or not as its parameters ask. The
/// call's compression must already be set for a compressed one.
fn streamed_response(
    params: &ResponseParameters,
    ctx: &ServicerContext,
) -> Result<StreamingOutputCallResponse, Status> {
    if !params.compressed.as_ref().is_some_and(|c| c.value) {
        ctx.disable_next_message_compression();
    }
    Ok(StreamingOutputCallResponse {
        payload: Some(zeros(params.size)?),
    })
}

/// Streams the responses `params` describe, pacing each.
fn stream_responses(
    params: Vec<ResponseParameters>,
    status: Option<EchoStatus>,
    ctx: &ServicerContext,
) -> impl Iterator<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static {
    let ctx = ctx.clone();
    let mut params = params.into_iter();
    let mut status = Some(status);
    std::iter::from_fn(move || match params.next() {
        Some(params) => {
            if !pace(&params, &ctx) {
                return None;
            }
            Some(streamed_response(&params, &ctx))
        }
        None => status
            .take()
            .and_then(|status| echo_status(status.as_ref()).err().map(Err)),
    })
}

/// Asks for the streamed-response compression when any response wants it.
fn compress_stream_if_asked(params: &[ResponseParameters], ctx: &ServicerContext) {
    if params
        .iter()
        .any(|params| params.compressed.as_ref().is_some_and(|c| c.value))
    {
        ctx.set_compression(STREAM_RESPONSE_COMPRESSION);
    }
}

/// The state of a `FullDuplexCall`: answers queued for the request read
/// last, and the request stream.
struct Duplex {
    requests: Requests<StreamingOutputCallRequest>,
    ctx: ServicerContext,
    queued: VecDeque<ResponseParameters>,
    done: bool,
}

impl Iterator for Duplex {
    type Item = Result<StreamingOutputCallResponse, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(params) = self.queued.pop_front() {
                if !pace(&params, &self.ctx) {
                    self.done = true;
                    return None;
                }
                return Some(streamed_response(&params, &self.ctx));
            }
            // Answer each request before reading the next (ping-pong).
            let request = match self.requests.next()? {
                Ok(request) => request,
                Err(status) => {
                    self.done = true;
                    return Some(Err(status));
                }
            };
            if let Err(status) = echo_status(request.response_status.as_ref()) {
                // The server processes no further messages on the stream.
                self.done = true;
                return Some(Err(status));
            }
            compress_stream_if_asked(&request.response_parameters, &self.ctx);
            self.queued.extend(request.response_parameters);
        }
    }
}

impl TestServiceServicer for InteropServicer {
    fn empty_call(&self, _request: Empty, ctx: &ServicerContext) -> Result<Empty, Status> {
        echo_metadata(ctx)?;
        Ok(Empty {})
    }

    fn unary_call(
        &self,
        request: SimpleRequest,
        ctx: &ServicerContext,
    ) -> Result<SimpleResponse, Status> {
        check_expect_compressed(request.expect_compressed.as_ref(), ctx)?;
        if let Some(compressed) = &request.response_compressed {
            ctx.set_compression(if compressed.value {
                UNARY_RESPONSE_COMPRESSION
            } else {
                Compression::Identity
            });
        }
        echo_metadata(ctx)?;
        echo_status(request.response_status.as_ref())?;
        Ok(SimpleResponse {
            payload: Some(zeros(request.response_size)?),
            ..SimpleResponse::default()
        })
    }

    fn cacheable_unary_call(
        &self,
        request: SimpleRequest,
        ctx: &ServicerContext,
    ) -> Result<SimpleResponse, Status> {
        self.unary_call(request, ctx)
    }

    fn streaming_output_call(
        &self,
        request: StreamingOutputCallRequest,
        ctx: &ServicerContext,
    ) -> Result<
        impl Iterator<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static,
        Status,
    > {
        compress_stream_if_asked(&request.response_parameters, ctx);
        echo_metadata(ctx)?;
        Ok(stream_responses(
            request.response_parameters,
            request.response_status,
            ctx,
        ))
    }

    fn streaming_input_call(
        &self,
        mut requests: Requests<StreamingInputCallRequest>,
        ctx: &ServicerContext,
    ) -> Result<StreamingInputCallResponse, Status> {
        echo_metadata(ctx)?;
        let mut total = 0usize;
        for request in &mut requests {
            let request = request?;
            check_expect_compressed(request.expect_compressed.as_ref(), ctx)?;
            total += payload_len(request.payload.as_ref());
        }
        let aggregated_payload_size = i32::try_from(total)
            .map_err(|_| Status::out_of_range("aggregated payload size over 2 GiB"))?;
        Ok(StreamingInputCallResponse {
            aggregated_payload_size,
        })
    }

    fn full_duplex_call(
        &self,
        requests: Requests<StreamingOutputCallRequest>,
        ctx: &ServicerContext,
    ) -> Result<
        impl Iterator<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static,
        Status,
    > {
        echo_metadata(ctx)?;
        Ok(Duplex {
            requests,
            ctx: ctx.clone(),
            queued: VecDeque::new(),
            done: false,
        })
    }

    fn half_duplex_call(
        &self,
        requests: Requests<StreamingOutputCallRequest>,
        ctx: &ServicerContext,
    ) -> Result<
        impl Iterator<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static,
        Status,
    > {
        echo_metadata(ctx)?;
        // Buffer every request, then answer them in order.
        let mut params = Vec::new();
        for request in requests {
            let request = request?;
            echo_status(request.response_status.as_ref())?;
            params.extend(request.response_parameters);
        }
        compress_stream_if_asked(&params, ctx);
        Ok(stream_responses(params, None, ctx))
    }

    // `unimplemented_call` keeps the trait's default: UNIMPLEMENTED.
}
