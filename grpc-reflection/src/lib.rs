//! gRPC server reflection (`grpc.reflection.v1` and `grpc.reflection.v1alpha`)
//! for rustgrpc servers: what `grpcurl`, `buf curl --reflect`, Postman and
//! grpcio-reflection's `ProtoReflectionDescriptorDatabase` use to find a
//! server's services and messages without their `.proto` files.
//!
//! Reflection serves the descriptors that grpc-codegen embeds with
//! [`DescriptorSet::Embed`](https://docs.rs/grpc-codegen) (each package's
//! `FILE_DESCRIPTOR_SET`); one line adds it to a server:
//!
//! ```
//! # mod helloworld { pub const FILE_DESCRIPTOR_SET: &[u8] = &[]; }
//! let server = grpc_core::Server::builder().build();
//! // helloworld::add_greeter_servicer_to_server(Greeter, &server);
//! grpc_reflection::Builder::new()
//!     .register(helloworld::FILE_DESCRIPTOR_SET)
//!     .serve(&server)?;
//! # Ok::<(), grpc_reflection::Error>(())
//! ```
//!
//! with, in `build.rs`:
//!
//! ```no_run
//! grpc_codegen::configure()
//!     .descriptor_set(grpc_codegen::DescriptorSet::Embed)
//!     .compile_protos(&["proto/helloworld.proto"], &["proto"])
//! # .unwrap();
//! ```
//!
//! - `list_services` lists every service registered on the server (asked
//!   at request time, so services added later are listed too);
//! - `file_by_filename`, `file_containing_symbol` (services, methods,
//!   messages, fields, enums, enum values, extensions, nested ones too) and
//!   `file_containing_extension` answer the file and those of its
//!   transitive imports not yet sent on the stream, file asked for first;
//! - `all_extension_numbers_of_type` lists a message's extension numbers;
//! - an unknown name gets an `error_response` with `NOT_FOUND`, and the
//!   stream goes on.
//!
//! The reflection protos themselves are always registered, so clients can
//! describe the reflection service too.

mod builder;
mod error;
mod index;
mod service;

pub use builder::Builder;
pub use error::Error;

/// The generated code of `grpc.reflection.v1`: messages, the client stub
/// and the descriptors.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/grpc.reflection.v1.rs"));
}

/// The generated code of `grpc.reflection.v1alpha` (wire-identical to
/// [`v1`], for older clients).
pub mod v1alpha {
    include!(concat!(env!("OUT_DIR"), "/grpc.reflection.v1alpha.rs"));
}
