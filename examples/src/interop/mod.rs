//! The standard gRPC interop suite on rustgrpc: the `grpc.testing`
//! messages and stubs (generated from `proto/grpc/testing/*.proto`), the
//! interop server's servicer ([`InteropServicer`]) and the client's test
//! cases ([`InteropClient`], [`TestCase`]).
//!
//! The `interop_server` and `interop_client` programs are thin shells over
//! this module, and `tests/tests/interop` runs the same code in-process
//! against Python grpcio and tonic peers.
//!
//! ```no_run
//! use rustgrpc_examples::interop::{self, InteropClient, TestCase};
//!
//! let server = interop::server(grpc_core::Server::builder());
//! let port = server.add_insecure_port("127.0.0.1:0")?;
//! server.start()?;
//! let client = InteropClient::new(&format!("127.0.0.1:{port}"))?;
//! assert_eq!(client.run(TestCase::LargeUnary), Ok(()));
//! # Ok::<(), grpc_core::Error>(())
//! ```

mod client;
mod server;

pub use client::{
    CALL_TIMEOUT, CaseError, InteropClient, SPECIAL_STATUS_MESSAGE, STREAM_REQUEST_COMPRESSION,
    UNARY_REQUEST_COMPRESSION,
};
pub use server::{
    InteropServicer, STREAM_RESPONSE_COMPRESSION, UNARY_RESPONSE_COMPRESSION, server,
};

/// Generated from `proto/grpc/testing/{empty,messages,test}.proto`
/// (package `grpc.testing`).
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/grpc.testing.rs"));
}

/// Request metadata the server echoes in its initial metadata.
pub const ECHO_INITIAL_KEY: &str = "x-grpc-test-echo-initial";
/// Binary request metadata the server echoes in its trailing metadata.
pub const ECHO_TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";

/// The interop cases this suite runs, by their standard names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestCase {
    /// `empty_unary`: zero-size request and response.
    EmptyUnary,
    /// `large_unary`: a 271828-byte request, a 314159-byte response.
    LargeUnary,
    /// `client_compressed_unary`: the `expect_compressed` probe, then a
    /// compressed and an uncompressed request.
    ClientCompressedUnary,
    /// `server_compressed_unary`: responses compressed and not, on request.
    ServerCompressedUnary,
    /// `client_streaming`: four requests, their sizes summed.
    ClientStreaming,
    /// `client_compressed_streaming`: the probe, then one compressed and one
    /// uncompressed message on one stream.
    ClientCompressedStreaming,
    /// `server_streaming`: four responses of given sizes.
    ServerStreaming,
    /// `server_compressed_streaming`: a compressed response, then an
    /// uncompressed one, on one stream.
    ServerCompressedStreaming,
    /// `ping_pong`: four request/response rounds on a bidi stream.
    PingPong,
    /// `empty_stream`: a bidi stream with no messages either way.
    EmptyStream,
    /// `custom_metadata`: initial and binary trailing metadata echoed.
    CustomMetadata,
    /// `status_code_and_message`: a status echoed on unary and bidi calls.
    StatusCodeAndMessage,
    /// `special_status_message`: a status message with whitespace and
    /// non-ASCII characters.
    SpecialStatusMessage,
    /// `unimplemented_method`: `TestService/UnimplementedCall`.
    UnimplementedMethod,
    /// `unimplemented_service`: `UnimplementedService/UnimplementedCall`.
    UnimplementedService,
    /// `cancel_after_begin`: a client stream cancelled before any message.
    CancelAfterBegin,
    /// `cancel_after_first_response`: a bidi stream cancelled after a reply.
    CancelAfterFirstResponse,
    /// `timeout_on_sleeping_server`: a 1 ms deadline on a bidi stream.
    TimeoutOnSleepingServer,
}

impl TestCase {
    /// Every case, in the order the suite runs them.
    pub const ALL: [TestCase; 18] = [
        TestCase::EmptyUnary,
        TestCase::LargeUnary,
        TestCase::ClientCompressedUnary,
        TestCase::ServerCompressedUnary,
        TestCase::ClientStreaming,
        TestCase::ClientCompressedStreaming,
        TestCase::ServerStreaming,
        TestCase::ServerCompressedStreaming,
        TestCase::PingPong,
        TestCase::EmptyStream,
        TestCase::CustomMetadata,
        TestCase::StatusCodeAndMessage,
        TestCase::SpecialStatusMessage,
        TestCase::UnimplementedMethod,
        TestCase::UnimplementedService,
        TestCase::CancelAfterBegin,
        TestCase::CancelAfterFirstResponse,
        TestCase::TimeoutOnSleepingServer,
    ];

    /// The standard name (`--test_case`).
    pub fn name(self) -> &'static str {
        match self {
            TestCase::EmptyUnary => "empty_unary",
            TestCase::LargeUnary => "large_unary",
            TestCase::ClientCompressedUnary => "client_compressed_unary",
            TestCase::ServerCompressedUnary => "server_compressed_unary",
            TestCase::ClientStreaming => "client_streaming",
            TestCase::ClientCompressedStreaming => "client_compressed_streaming",
            TestCase::ServerStreaming => "server_streaming",
            TestCase::ServerCompressedStreaming => "server_compressed_streaming",
            TestCase::PingPong => "ping_pong",
            TestCase::EmptyStream => "empty_stream",
            TestCase::CustomMetadata => "custom_metadata",
            TestCase::StatusCodeAndMessage => "status_code_and_message",
            TestCase::SpecialStatusMessage => "special_status_message",
            TestCase::UnimplementedMethod => "unimplemented_method",
            TestCase::UnimplementedService => "unimplemented_service",
            TestCase::CancelAfterBegin => "cancel_after_begin",
            TestCase::CancelAfterFirstResponse => "cancel_after_first_response",
            TestCase::TimeoutOnSleepingServer => "timeout_on_sleeping_server",
        }
    }

    /// The case with this standard name.
    ///
    /// ```
    /// use rustgrpc_examples::interop::TestCase;
    /// assert_eq!(TestCase::from_name("ping_pong"), Some(TestCase::PingPong));
    /// assert_eq!(TestCase::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<TestCase> {
        TestCase::ALL.into_iter().find(|case| case.name() == name)
    }
}

impl std::fmt::Display for TestCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
