//! Code generation for rustgrpc.
//!
//! Turns `.proto` files into Rust code that targets the `grpc_core`
//! runtime: the messages (by [`prost_build`]) and, for each service
//! `pkg.Greeter`:
//!
//! - `pub mod greeter_service`: `NAME` (`"pkg.Greeter"`) and one path
//!   constant per method (`SAY_HELLO = "/pkg.Greeter/SayHello"`);
//! - `pub struct GreeterStub`: the client, one method per RPC returning a
//!   `grpc_core::UnaryUnary`/`UnaryStream`/`StreamUnary`/`StreamStream`
//!   callable;
//! - `pub trait GreeterServicer`: the blocking server side, one method per
//!   RPC that defaults to `UNIMPLEMENTED`;
//! - `pub fn add_greeter_servicer_to_server`: registers a servicer on a
//!   `grpc_core::Server` (its handlers run on the worker pool);
//! - `pub trait AsyncGreeterServicer`: the async server side (grpcio's
//!   `grpc.aio` servicers), whose methods return `Send` futures, so that
//!   implementations write `async fn` (no `async_trait`); they also
//!   default to `UNIMPLEMENTED`;
//! - `pub fn add_async_greeter_servicer_to_server`: registers an async
//!   servicer (its handlers run as tasks); both kinds mount on one server.
//!
//! The stub serves the blocking and the async face alike (`call` and
//! `call_async` on the same callable). [`Face`] chooses the servicers:
//! both by default, or only one of them.
//!
//! With [`DescriptorSet::Embed`], each package file also holds
//! `pub const FILE_DESCRIPTOR_SET: &[u8]`, the encoded descriptors of its
//! proto files and their imports, for server reflection.
//!
//! One file is written per proto package (`pkg.rs`, `_.rs` for files
//! without a package), and optionally an include file that nests them in
//! `pub mod`s by package ([`CodegenOptions::include_file`]).
//!
//! Three ways in, one code path: the [`Builder`] (build.rs), the
//! `protoc-gen-rustgrpc` plugin ([`plugin::run`]) and buf (which runs the
//! plugin) all hand protoc's descriptors to the same generator with the same
//! [`CodegenOptions`], so their files are byte-identical.
//!
//! # Naming
//!
//! - Method names are the snake_case of the proto names; Rust keywords
//!   become raw identifiers (`r#type`), or get a `_` suffix where Rust has
//!   no raw form (`self_`). A method that would be called `new` or `clone`
//!   is named `new_` or `clone_`, and a path constant that would be called
//!   `NAME` is named `NAME_`.
//! - Two methods whose snake_case names collide (`GetFoo` and `get_foo`)
//!   are both generated: the first in the `.proto` file keeps the name, each
//!   later one gets the first free suffix (`get_foo_2`, `get_foo_3`, ...).
//! - A service item whose name is taken in its module (a message
//!   `ThingStub` next to a service `Thing`, or two services that spell the
//!   same in Rust) gets the first free numeric suffix: `ThingStub2`,
//!   `thing_service_2`, `add_thing_servicer_to_server_2`.
//!
//! Every renamed item says so, and why, in its rustdoc.
//!
//! # Documentation
//!
//! Proto comments become rustdoc on messages, fields, stubs, servicers and
//! methods. They are rewritten so that rustdoc and clippy accept them (no
//! accidental doctests, no broken intra-doc links, no stray HTML, no lazy
//! list continuations); see the crate's `docs` module for the rules.
//! `deprecated` services and methods become `#[deprecated]`.
//!
//! # Server-streaming methods
//!
//! Blocking ones return
//! `Result<impl Iterator<Item = Result<Reply, Status>> + Send + 'static, Status>`,
//! async ones (a future of)
//! `Result<impl grpc_core::Stream<Item = Result<Reply, Status>> + Send + 'static, Status>`;
//! the registration functions box that iterator or stream before handing
//! it to `grpc_core`, because a trait method's `impl Trait` return type
//! captures the call's argument lifetimes and so is a different type for
//! every call.
//!
//! # Async servicers
//!
//! ```text
//! impl AsyncGreeterServicer for Greeter {
//!     async fn say_hello(&self, request: HelloRequest, context: &ServicerContext)
//!         -> Result<HelloReply, Status> { ... }
//!     async fn lots(&self, request: HelloRequest, context: &ServicerContext)
//!         -> Result<impl Stream<Item = Result<HelloReply, Status>> + Send + 'static, Status> { ... }
//!     async fn gather(&self, requests: RequestStream<HelloRequest>, context: &ServicerContext)
//!         -> Result<HelloReply, Status> { ... }
//! }
//! ```
//!
//! `Stream` is `grpc_core::Stream` (`futures_core::Stream`). Client
//! streams arrive as a `grpc_core::RequestStream`, a `Stream` only (read it
//! with `StreamExt::next`/`map` or `read().await`); blocking servicers get
//! `grpc_core::Requests`, an `Iterator` only.
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
//! The `protoc-gen-rustgrpc` binary wraps [`plugin::run`]; its parameters
//! (`--rustgrpc_opt=emit=client,include_file=mod.rs`) are listed in
//! [`PARAMETERS`] and parsed by [`CodegenOptions::from_plugin_parameter`].
//!
//! # With a custom prost-build setup
//!
//! [`ServiceGenerator`] plugs into [`prost_build::Config::service_generator`];
//! [`generate_service`] renders a single service.

use std::collections::HashMap;
use std::fmt;

mod builder;
mod descriptors;
mod docs;
mod emit;
mod generate;
mod ir;
mod naming;
mod options;
pub mod plugin;

pub use builder::{Builder, compile_protos, configure};
pub use options::{CodegenOptions, DescriptorSet, Emit, Face, PARAMETERS, WellKnownTypes};

use naming::Scope;

/// Why code could not be generated: bad options, a protoc failure, or
/// descriptors that prost-build rejects. The message says which, and is
/// what the plugin reports to protoc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message, without any prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error.message)
    }
}

/// Renders the rustgrpc code for one service as formatted Rust source.
///
/// This is the function that turns a [`prost_build::Service`] into text;
/// [`ServiceGenerator`], the [`Builder`] and the protoc plugin all go
/// through it. The output is deterministic. Alone, it knows nothing of the
/// other items of the service's module; the [`Builder`] and the plugin
/// rename service items that would clash with messages or other services.
/// Problems that make correct code impossible (an unparsable message type)
/// are rendered as a `compile_error!` rather than reported here.
pub fn generate_service(service: &prost_build::Service, options: &CodegenOptions) -> String {
    emit::render(
        &ir::Service::from_prost(service),
        options,
        &mut Scope::default(),
    )
}

/// The rustgrpc [`prost_build::ServiceGenerator`].
///
/// ```no_run
/// let mut config = prost_build::Config::new();
/// config.service_generator(Box::new(grpc_codegen::ServiceGenerator::default()));
/// config.compile_protos(&["proto/helloworld.proto"], &["proto"])?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Services of one package are named so that they do not clash with each
/// other; used on its own it does not see the package's messages, so prefer
/// the [`Builder`], which also makes every doc comment rustdoc-safe.
#[derive(Clone, Debug, Default)]
pub struct ServiceGenerator {
    options: CodegenOptions,
    /// Names taken in each package before any service is rendered.
    reserved: HashMap<String, Scope>,
    /// Names taken so far in each package being generated.
    scopes: HashMap<String, Scope>,
}

impl ServiceGenerator {
    /// A generator using `options`.
    pub fn new(options: CodegenOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// A generator that also avoids the names in `reserved` (per package).
    pub(crate) fn with_scopes(options: CodegenOptions, reserved: HashMap<String, Scope>) -> Self {
        Self {
            options,
            reserved,
            scopes: HashMap::new(),
        }
    }
}

impl prost_build::ServiceGenerator for ServiceGenerator {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let scope = self
            .scopes
            .entry(service.package.clone())
            .or_insert_with(|| {
                self.reserved
                    .get(&service.package)
                    .cloned()
                    .unwrap_or_default()
            });
        buf.push_str(&emit::render(
            &ir::Service::from_prost(&service),
            &self.options,
            scope,
        ));
    }

    fn finalize_package(&mut self, package: &str, _buf: &mut String) {
        // A later run of the same generator starts afresh.
        self.scopes.remove(package);
    }
}
