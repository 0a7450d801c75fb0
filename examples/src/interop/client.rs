//! The interop client: the standard test cases, each a function that
//! returns `Ok` when the case passed.

use std::sync::mpsc;
use std::time::Duration;

use grpc_core::{
    CallOptions, Channel, ChannelBuilder, Code, Compression, Metadata, RpcError, WithOptions,
    Writes,
};

use super::pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingOutputCallRequest, StreamingOutputCallResponse,
    TestServiceStub, UnimplementedServiceStub,
};
use super::{ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, TestCase};

/// The deadline of every call that does not test deadlines, so a peer that
/// never answers fails the case instead of hanging it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Compression for the compressed unary requests (a per-call option).
pub const UNARY_REQUEST_COMPRESSION: Compression = Compression::Gzip;
/// Compression for the compressed streamed requests (the channel's
/// default), so both algorithms cross the wire.
pub const STREAM_REQUEST_COMPRESSION: Compression = Compression::Deflate;

/// The text of `special_status_message`: whitespace, and characters from
/// inside and outside Unicode's basic plane.
pub const SPECIAL_STATUS_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n";

/// Why a case failed.
pub type CaseError = String;

/// Runs interop cases against one server.
///
/// ```no_run
/// use rustgrpc_examples::interop::{InteropClient, TestCase};
/// let client = InteropClient::new("localhost:10000")?;
/// for case in TestCase::ALL {
///     println!("{}: {:?}", case.name(), client.run(case));
/// }
/// # Ok::<(), grpc_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct InteropClient {
    target: String,
    channel: Channel,
    stub: TestServiceStub,
}

impl InteropClient {
    /// A client for the server at `target` (`host:port` or any target form).
    pub fn new(target: &str) -> Result<InteropClient, grpc_core::Error> {
        let channel = grpc_core::insecure_channel(target)?;
        Ok(InteropClient {
            target: target.to_owned(),
            stub: TestServiceStub::new(channel.clone()),
            channel,
        })
    }

    /// Runs one case; `Err` says what went wrong.
    pub fn run(&self, case: TestCase) -> Result<(), CaseError> {
        match case {
            TestCase::EmptyUnary => self.empty_unary(),
            TestCase::LargeUnary => self.large_unary(),
            TestCase::ClientCompressedUnary => self.client_compressed_unary(),
            TestCase::ServerCompressedUnary => self.server_compressed_unary(),
            TestCase::ClientStreaming => self.client_streaming(),
            TestCase::ClientCompressedStreaming => self.client_compressed_streaming(),
            TestCase::ServerStreaming => self.server_streaming(),
            TestCase::ServerCompressedStreaming => self.server_compressed_streaming(),
            TestCase::PingPong => self.ping_pong(),
            TestCase::EmptyStream => self.empty_stream(),
            TestCase::CustomMetadata => self.custom_metadata(),
            TestCase::StatusCodeAndMessage => self.status_code_and_message(),
            TestCase::SpecialStatusMessage => self.special_status_message(),
            TestCase::UnimplementedMethod => self.unimplemented_method(),
            TestCase::UnimplementedService => self.unimplemented_service(),
            TestCase::CancelAfterBegin => self.cancel_after_begin(),
            TestCase::CancelAfterFirstResponse => self.cancel_after_first_response(),
            TestCase::TimeoutOnSleepingServer => self.timeout_on_sleeping_server(),
        }
    }

    fn options(&self) -> CallOptions {
        CallOptions::new().timeout(CALL_TIMEOUT)
    }

    fn empty_unary(&self) -> Result<(), CaseError> {
        let Empty {} = self
            .stub
            .empty_call()
            .with_options(self.options())
            .call(Empty {})
            .map_err(failed("EmptyCall"))?;
        Ok(())
    }

    fn large_unary(&self) -> Result<(), CaseError> {
        let response = self
            .stub
            .unary_call()
            .with_options(self.options())
            .call(large_request())
            .map_err(failed("UnaryCall"))?;
        check_simple_response(&response, 314_159)
    }

    fn client_compressed_unary(&self) -> Result<(), CaseError> {
        let unary = self.stub.unary_call();
        let request = |expect_compressed| SimpleRequest {
            expect_compressed: Some(BoolValue {
                value: expect_compressed,
            }),
            ..large_request()
        };
        // The feature probe: uncompressed, though the server is told to
        // expect compression.
        let probe = unary
            .clone()
            .with_options(self.options())
            .call(request(true));
        expect_code(probe, Code::InvalidArgument, "the probe")?;
        let compressed = unary
            .clone()
            .with_options(self.options().compression(UNARY_REQUEST_COMPRESSION))
            .call(request(true))
            .map_err(failed("the compressed UnaryCall"))?;
        check_simple_response(&compressed, 314_159)?;
        let uncompressed = unary
            .with_options(self.options())
            .call(request(false))
            .map_err(failed("the uncompressed UnaryCall"))?;
        check_simple_response(&uncompressed, 314_159)
    }

    fn server_compressed_unary(&self) -> Result<(), CaseError> {
        // The compressed flag of responses is not visible through the
        // client API; the peers' clients check it against our server.
        for compressed in [true, false] {
            let request = SimpleRequest {
                response_compressed: Some(BoolValue { value: compressed }),
                ..large_request()
            };
            let response = self
                .stub
                .unary_call()
                .with_options(self.options())
                .call(request)
                .map_err(failed(&format!(
                    "UnaryCall with response_compressed {compressed}"
                )))?;
            check_simple_response(&response, 314_159)?;
        }
        Ok(())
    }

    fn client_streaming(&self) -> Result<(), CaseError> {
        let requests = [27_182, 8, 1_828, 45_904].map(|size| StreamingInputCallRequest {
            payload: Some(zeros(size)),
            expect_compressed: None,
        });
        let response = self
            .stub
            .streaming_input_call()
            .with_options(self.options())
            .call(requests)
            .map_err(failed("StreamingInputCall"))?;
        check_eq(
            "aggregated_payload_size",
            response.aggregated_payload_size,
            74_922,
        )
    }

    fn client_compressed_streaming(&self) -> Result<(), CaseError> {
        // A channel whose calls compress by default; the probe opts out.
        let channel = ChannelBuilder::new(&self.target)
            .compression(STREAM_REQUEST_COMPRESSION)
            .build()
            .map_err(|error| format!("channel: {error}"))?;
        let upload = TestServiceStub::new(channel.clone()).streaming_input_call();
        let request = |expect_compressed, size| StreamingInputCallRequest {
            payload: Some(zeros(size)),
            expect_compressed: Some(BoolValue {
                value: expect_compressed,
            }),
        };
        let probe = upload
            .clone()
            .with_options(self.options().compression(Compression::Identity))
            .call([request(true, 27_182)]);
        expect_code(probe, Code::InvalidArgument, "the probe")?;

        // The first message compressed, the second sent plain.
        let requests = [
            WithOptions::from(request(true, 27_182)),
            WithOptions::uncompressed(request(false, 45_904)),
        ];
        let response = upload
            .with_options(self.options())
            .call(Writes(requests))
            .map_err(failed("StreamingInputCall"))?;
        channel.close();
        check_eq(
            "aggregated_payload_size",
            response.aggregated_payload_size,
            73_086,
        )
    }

    fn server_streaming(&self) -> Result<(), CaseError> {
        let sizes = [31_415, 9, 2_653, 58_979];
        let request = StreamingOutputCallRequest {
            response_parameters: sizes.iter().map(|&size| parameters(size, None)).collect(),
            ..StreamingOutputCallRequest::default()
        };
        let responses = self
            .stub
            .streaming_output_call()
            .with_options(self.options())
            .call(request)
            .map_err(failed("StreamingOutputCall"))?;
        let responses: Vec<_> = responses
            .collect::<Result<_, _>>()
            .map_err(failed("StreamingOutputCall"))?;
        check_streamed(&responses, &sizes)
    }

    fn server_compressed_streaming(&self) -> Result<(), CaseError> {
        let request = StreamingOutputCallRequest {
            response_parameters: vec![
                parameters(31_415, Some(true)),
                parameters(92_653, Some(false)),
            ],
            ..StreamingOutputCallRequest::default()
        };
        let responses: Vec<_> = self
            .stub
            .streaming_output_call()
            .with_options(self.options())
            .call(request)
            .map_err(failed("StreamingOutputCall"))?
            .collect::<Result<_, _>>()
            .map_err(failed("StreamingOutputCall"))?;
        check_streamed(&responses, &[31_415, 92_653])
    }

    fn ping_pong(&self) -> Result<(), CaseError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let mut responses = self
            .stub
            .full_duplex_call()
            .with_options(self.options())
            .call(rx)
            .map_err(failed("FullDuplexCall"))?;
        for (response_size, request_size) in
            [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)]
        {
            tx.send(StreamingOutputCallRequest {
                response_parameters: vec![parameters(response_size, None)],
                payload: Some(zeros(request_size)),
                ..StreamingOutputCallRequest::default()
            })
            .map_err(|_| "the request stream closed early".to_owned())?;
            match responses.next() {
                Some(Ok(response)) => check_streamed(&[response], &[response_size])?,
                Some(Err(error)) => return Err(failed("FullDuplexCall")(error)),
                None => return Err("the response stream ended early".to_owned()),
            }
        }
        drop(tx); // half-close
        match responses.next() {
            None => Ok(()),
            Some(Ok(_)) => Err("a fifth response arrived".to_owned()),
            Some(Err(error)) => Err(failed("FullDuplexCall")(error)),
        }
    }

    fn empty_stream(&self) -> Result<(), CaseError> {
        let responses: Vec<_> = self
            .stub
            .full_duplex_call()
            .with_options(self.options())
            .call(std::iter::empty())
            .map_err(failed("FullDuplexCall"))?
            .collect::<Result<_, _>>()
            .map_err(failed("FullDuplexCall"))?;
        check_eq("responses", responses.len(), 0)
    }

    fn custom_metadata(&self) -> Result<(), CaseError> {
        const INITIAL_VALUE: &str = "test_initial_metadata_value";
        const TRAILING_VALUE: &[u8] = &[0xab, 0xab, 0xab];
        let metadata = Metadata::from_pairs([
            (ECHO_INITIAL_KEY, INITIAL_VALUE.as_bytes()),
            (ECHO_TRAILING_KEY, TRAILING_VALUE),
        ])
        .map_err(|error| error.to_string())?;
        let options = self.options().metadata(metadata);
        let check = |what: &str, initial: &Metadata, trailing: &Metadata| {
            check_eq(
                &format!("{what}: initial {ECHO_INITIAL_KEY}"),
                initial.get(ECHO_INITIAL_KEY),
                Some(INITIAL_VALUE),
            )?;
            check_eq(
                &format!("{what}: trailing {ECHO_TRAILING_KEY}"),
                trailing.get_bin(ECHO_TRAILING_KEY),
                Some(TRAILING_VALUE),
            )
        };

        let (response, call) = self
            .stub
            .unary_call()
            .with_options(options.clone())
            .with_call(large_request())
            .map_err(failed("UnaryCall"))?;
        check_simple_response(&response, 314_159)?;
        check(
            "UnaryCall",
            &call.initial_metadata(),
            &call.trailing_metadata(),
        )?;

        let request = StreamingOutputCallRequest {
            response_parameters: vec![parameters(314_159, None)],
            payload: Some(zeros(271_828)),
            ..StreamingOutputCallRequest::default()
        };
        let mut responses = self
            .stub
            .full_duplex_call()
            .with_options(options)
            .call([request])
            .map_err(failed("FullDuplexCall"))?;
        let received: Vec<_> = (&mut responses)
            .collect::<Result<_, _>>()
            .map_err(failed("FullDuplexCall"))?;
        check_streamed(&received, &[314_159])?;
        check(
            "FullDuplexCall",
            &responses.initial_metadata(),
            &responses.trailing_metadata(),
        )
    }

    fn status_code_and_message(&self) -> Result<(), CaseError> {
        self.echo_status_both_ways("test status message", true)
    }

    fn special_status_message(&self) -> Result<(), CaseError> {
        self.echo_status_both_ways(SPECIAL_STATUS_MESSAGE, false)
    }

    /// Asks for status 2 with `message` on UnaryCall (and on FullDuplexCall
    /// when `duplex`), and checks both come back intact.
    fn echo_status_both_ways(&self, message: &str, duplex: bool) -> Result<(), CaseError> {
        let status = EchoStatus {
            code: 2,
            message: message.to_owned(),
        };
        let unary = self
            .stub
            .unary_call()
            .with_options(self.options())
            .call(SimpleRequest {
                response_status: Some(status.clone()),
                ..SimpleRequest::default()
            });
        expect_status(unary, Code::Unknown, message, "UnaryCall")?;
        if !duplex {
            return Ok(());
        }
        let request = StreamingOutputCallRequest {
            response_status: Some(status),
            ..StreamingOutputCallRequest::default()
        };
        let responses = self
            .stub
            .full_duplex_call()
            .with_options(self.options())
            .call([request])
            .map_err(failed("FullDuplexCall"))?;
        let outcome = responses.collect::<Result<Vec<_>, _>>();
        expect_status(outcome, Code::Unknown, message, "FullDuplexCall")
    }

    fn unimplemented_method(&self) -> Result<(), CaseError> {
        let outcome = self
            .stub
            .unimplemented_call()
            .with_options(self.options())
            .call(Empty {});
        expect_code(outcome, Code::Unimplemented, "UnimplementedCall")
    }

    fn unimplemented_service(&self) -> Result<(), CaseError> {
        let outcome = UnimplementedServiceStub::new(self.channel.clone())
            .unimplemented_call()
            .with_options(self.options())
            .call(Empty {});
        expect_code(outcome, Code::Unimplemented, "UnimplementedService")
    }

    fn cancel_after_begin(&self) -> Result<(), CaseError> {
        // A request stream that stays open and sends nothing.
        let (tx, rx) = mpsc::sync_channel::<StreamingInputCallRequest>(1);
        let future = self
            .stub
            .streaming_input_call()
            .with_options(self.options())
            .future(rx);
        future.cancel();
        let outcome = future.result(Some(CALL_TIMEOUT));
        drop(tx);
        expect_code(outcome, Code::Cancelled, "StreamingInputCall")
    }

    fn cancel_after_first_response(&self) -> Result<(), CaseError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let mut responses = self
            .stub
            .full_duplex_call()
            .with_options(self.options())
            .call(rx)
            .map_err(failed("FullDuplexCall"))?;
        tx.send(StreamingOutputCallRequest {
            response_parameters: vec![parameters(31_415, None)],
            payload: Some(zeros(27_182)),
            ..StreamingOutputCallRequest::default()
        })
        .map_err(|_| "the request stream closed early".to_owned())?;
        match responses.next() {
            Some(Ok(response)) => check_streamed(&[response], &[31_415])?,
            Some(Err(error)) => return Err(failed("FullDuplexCall")(error)),
            None => return Err("no response arrived".to_owned()),
        }
        responses.cancel();
        let rest = responses.collect::<Result<Vec<_>, _>>();
        drop(tx);
        expect_code(rest, Code::Cancelled, "FullDuplexCall after cancel")
    }

    fn timeout_on_sleeping_server(&self) -> Result<(), CaseError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let responses = self
            .stub
            .full_duplex_call()
            .with_options(CallOptions::new().timeout(Duration::from_millis(1)))
            .call(rx)
            .map_err(failed("FullDuplexCall"))?;
        // The call may be over already; then the send fails, which is fine.
        let _ = tx.send(StreamingOutputCallRequest {
            payload: Some(zeros(27_182)),
            ..StreamingOutputCallRequest::default()
        });
        let outcome = responses.collect::<Result<Vec<_>, _>>();
        drop(tx);
        expect_code(outcome, Code::DeadlineExceeded, "FullDuplexCall")
    }
}

/// The request of `large_unary` and the cases built on it.
fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314_159,
        payload: Some(zeros(271_828)),
        ..SimpleRequest::default()
    }
}

fn zeros(size: usize) -> Payload {
    Payload {
        r#type: 0, // COMPRESSABLE
        body: vec![0; size],
    }
}

fn parameters(size: i32, compressed: Option<bool>) -> ResponseParameters {
    ResponseParameters {
        size,
        interval_us: 0,
        compressed: compressed.map(|value| BoolValue { value }),
    }
}

fn failed(what: &str) -> impl Fn(RpcError) -> CaseError + '_ {
    move |error| {
        format!(
            "{what} failed: {} {:?}",
            error.code().name(),
            error.details()
        )
    }
}

fn check_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), CaseError> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn check_payload(what: &str, payload: Option<&Payload>, size: usize) -> Result<(), CaseError> {
    let body = payload.map_or(&[][..], |payload| &payload.body[..]);
    check_eq(&format!("{what} payload size"), body.len(), size)?;
    if body.iter().any(|&byte| byte != 0) {
        return Err(format!("{what} payload is not all zeros"));
    }
    Ok(())
}

fn check_simple_response(response: &SimpleResponse, size: usize) -> Result<(), CaseError> {
    check_payload("response", response.payload.as_ref(), size)
}

fn check_streamed(
    responses: &[StreamingOutputCallResponse],
    sizes: &[i32],
) -> Result<(), CaseError> {
    check_eq("number of responses", responses.len(), sizes.len())?;
    for (index, (response, &size)) in responses.iter().zip(sizes).enumerate() {
        let size = usize::try_from(size).unwrap_or(0);
        check_payload(
            &format!("response {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    Ok(())
}

/// The outcome must be a failure with `code`.
fn expect_code<T>(outcome: Result<T, RpcError>, code: Code, what: &str) -> Result<(), CaseError> {
    match outcome {
        Ok(_) => Err(format!("{what} succeeded; want {}", code.name())),
        Err(error) if error.code() == code => Ok(()),
        Err(error) => Err(format!(
            "{what} ended with {} {:?}; want {}",
            error.code().name(),
            error.details(),
            code.name()
        )),
    }
}

/// The outcome must be a failure with `code` and exactly `details`.
fn expect_status<T>(
    outcome: Result<T, RpcError>,
    code: Code,
    details: &str,
    what: &str,
) -> Result<(), CaseError> {
    match outcome {
        Err(error) if error.code() == code && error.details() == details => Ok(()),
        Err(error) => Err(format!(
            "{what} ended with {} {:?}; want {} {details:?}",
            error.code().name(),
            error.details(),
            code.name()
        )),
        Ok(_) => Err(format!("{what} succeeded; want {}", code.name())),
    }
}
