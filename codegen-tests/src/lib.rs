//! The code that grpc-codegen generates for its hard protos
//! (`grpc-codegen/tests/protos/hard`), compiled with the workspace lints,
//! clippy and rustdoc (`RUSTDOCFLAGS="-D warnings" cargo doc`), and called
//! over loopback in `tests/`.
//!
//! Nothing here is written by hand but this comment: [`generated`] is the
//! include file of the build.rs output, which nests one module per proto
//! package (`generated::hard::common`, `generated::hard::r#type::self_`, ...;
//! the package-less file lands in `generated` itself).

/// The generated code, one module per proto package.
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/_includes.rs"));
}
