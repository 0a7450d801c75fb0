//! Code generation for rustgrpc.
//!
//! Turns the services of `.proto` files into Rust code that targets the
//! `grpc_core` runtime, next to the messages that [`prost_build`] generates.
//! For each service `pkg.Greeter` the output holds:
//!
//! - `pub mod greeter_service`: `NAME` (`"pkg.Greeter"`) and one path
//!   constant per method (`SAY_HELLO = "/pkg.Greeter/SayHello"`);
//! - `pub struct GreeterStub`: the client, one method per RPC returning a
//!   `grpc_core::UnaryUnary`/`UnaryStream`/`StreamUnary`/`StreamStream`
//!   callable;
//! - `pub trait GreeterServicer`: the server side, one method per RPC that
//!   defaults to `UNIMPLEMENTED`;
//! - `pub fn add_greeter_servicer_to_server`: registers a servicer on a
//!   `grpc_core::Server`.
//!
//! Server-streaming servicer methods return
//! `Result<impl Iterator<Item = Result<Reply, Status>> + Send + 'static, Status>`;
//! the registration function boxes that iterator before handing it to
//! `grpc_core`, because a trait method's `impl Trait` return type captures
//! the call's argument lifetimes and so is a different type for every call.
//!
//! Method names are the snake_case of the proto names; Rust keywords become
//! raw identifiers (`r#type`), or get a `_` suffix where Rust has no raw form
//! (`self_`). A method that would be called `new` is named `new_`, and a path
//! constant that would be called `NAME` is named `NAME_`.
//!
//! # In `build.rs`
//!
//! ```no_run
//! fn main() -> std::io::Result<()> {
//!     grpc_codegen::compile_protos("proto/helloworld.proto")
//! }
//! ```
//!
//! then, in the crate, `include!(concat!(env!("OUT_DIR"), "/helloworld.rs"));`.
//! [`configure`] gives more control. protoc need not be installed: the one
//! bundled by `protoc-bin-vendored` is used.
//!
//! # As a protoc plugin
//!
//! The `protoc-gen-rustgrpc` binary wraps [`plugin::run`] and produces the
//! same files as the `build.rs` path.
//!
//! # With a custom prost-build setup
//!
//! [`ServiceGenerator`] plugs into [`prost_build::Config::service_generator`];
//! [`generate_service`] renders a single service.

mod builder;
mod emit;
mod ir;
mod naming;
mod options;
pub mod plugin;

pub use builder::{Builder, compile_protos, configure};
pub use options::{CodegenOptions, Emit};

/// Renders the rustgrpc code for one service as formatted Rust source.
///
/// This is the one function that turns a [`prost_build::Service`] into
/// text; [`ServiceGenerator`], the [`Builder`] and the protoc plugin all go
/// through it. The output is deterministic. Problems that make correct code
/// impossible (for example two methods whose Rust names clash) are rendered
/// as a `compile_error!` rather than reported here.
pub fn generate_service(service: &prost_build::Service, options: &CodegenOptions) -> String {
    emit::render(&ir::Service::from_prost(service), options)
}

/// The rustgrpc [`prost_build::ServiceGenerator`].
///
/// ```no_run
/// let mut config = prost_build::Config::new();
/// config.service_generator(Box::new(grpc_codegen::ServiceGenerator::default()));
/// config.compile_protos(&["proto/helloworld.proto"], &["proto"])?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServiceGenerator {
    options: CodegenOptions,
}

impl ServiceGenerator {
    /// A generator using `options`.
    pub fn new(options: CodegenOptions) -> Self {
        Self { options }
    }
}

impl prost_build::ServiceGenerator for ServiceGenerator {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        buf.push_str(&generate_service(&service, &self.options));
    }
}
