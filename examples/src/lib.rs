//! Shared code for the rustgrpc example programs.
//!
//! - [`helloworld`] and [`routeguide`]: the code `build.rs` generates from
//!   `proto/helloworld.proto` and `proto/route_guide.proto` (messages,
//!   `GreeterStub`, `GreeterServicer`, `add_greeter_servicer_to_server`, ...).
//! - [`route_guide`]: the feature database, geometry helpers and the
//!   [`RouteGuide`](route_guide::RouteGuide) servicer that both
//!   `route_guide_server` and `demo` serve.
//! - [`interop`]: the standard gRPC interop suite (`grpc.testing`): the
//!   servicer `interop_server` serves and the cases `interop_client` runs.
//! - [`greeter`]: the plainest greeter servicer.
//! - [`proxy`]: a transparent proxy, a fallback handler forwarding every
//!   call over a channel as raw bytes.
//! - [`args`]: the tiny command-line parser the binaries share.
//! - [`tls`]: TLS credentials from PEM files for the `--tls` flags.
//!
//! The programs themselves are in `src/bin/`; see the crate's README.

/// Generated from `proto/helloworld.proto` (package `helloworld`).
pub mod helloworld {
    include!(concat!(env!("OUT_DIR"), "/helloworld.rs"));

    /// The encoded `FileDescriptorSet` of `proto/helloworld.proto`: given
    /// to `Server::add_file_descriptor_set`, it lets Connect clients (and
    /// curl) call the greeter with JSON.
    pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/helloworld.fds"));
}

/// Generated from `proto/route_guide.proto` (package `routeguide`).
pub mod routeguide {
    include!(concat!(env!("OUT_DIR"), "/routeguide.rs"));
}

/// The plainest greeter: `SayHello` answers `Hello, <name>!`; the
/// interceptor examples serve it.
pub mod greeter {
    use grpc_core::{ServicerContext, Status};

    use crate::helloworld::{GreeterServicer, HelloReply, HelloRequest};

    /// Greets by name.
    pub struct Greeter;

    impl GreeterServicer for Greeter {
        fn say_hello(
            &self,
            request: HelloRequest,
            _ctx: &ServicerContext,
        ) -> Result<HelloReply, Status> {
            Ok(HelloReply {
                message: format!("Hello, {}!", request.name),
            })
        }
    }
}

pub mod args;
pub mod interop;
pub mod proxy;
pub mod route_guide;
pub mod tls;
