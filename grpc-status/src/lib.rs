//! Rich gRPC errors: `google.rpc.Status` and the standard error details,
//! carried in the `grpc-status-details-bin` trailer — grpcio-status's
//! `rpc_status` module for rustgrpc.
//!
//! A server builds a [`RichStatus`] (code, message and details such as
//! [`ErrorInfo`] or [`BadRequest`]) and returns it as a
//! [`grpc_core::Status`]; a client reads it back from the
//! [`RpcError`](grpc_core::RpcError) with [`from_call`], which checks, as
//! grpcio does, that the code and message inside the `google.rpc.Status`
//! match the call's `grpc-status` and `grpc-message`.
//!
//! ```
//! use grpc_core::{Code, RpcError, Status};
//! use grpc_status::{BadRequest, ErrorInfo, RichStatus, bad_request};
//!
//! // Server side: a handler returns `Err(status)`.
//! let status: Status = RichStatus::new(Code::InvalidArgument, "bad name")
//!     .with_error_info(ErrorInfo {
//!         reason: "NAME_EMPTY".into(),
//!         domain: "greeter.example.com".into(),
//!         ..Default::default()
//!     })
//!     .with_bad_request(BadRequest {
//!         field_violations: vec![bad_request::FieldViolation {
//!             field: "name".into(),
//!             description: "must not be empty".into(),
//!             ..Default::default()
//!         }],
//!     })
//!     .to_status();
//!
//! // Client side: the call failed with an `RpcError`.
//! let error = RpcError::from(status);
//! let rich = grpc_status::from_call(&error)?.expect("the server sent details");
//! assert_eq!(rich.code(), Code::InvalidArgument);
//! assert_eq!(rich.error_info().map(|info| info.reason.as_str()), Some("NAME_EMPTY"));
//! assert_eq!(rich.bad_request().map(|b| b.field_violations.len()), Some(1));
//! # Ok::<(), grpc_status::RichStatusError>(())
//! ```

mod call;
mod detail;
mod error;
mod retry;
mod rich;

/// The `google.rpc` messages generated from `proto/google/rpc/status.proto`
/// and `proto/google/rpc/error_details.proto`.
///
/// Each message implements [`prost::Name`], so
/// [`prost_types::Any::from_msg`] packs it with its
/// `type.googleapis.com/google.rpc.*` URL.
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
}

pub use call::{RichStatusExt, from_call, from_status, to_status};
pub use detail::{Detail, DetailError};
pub use error::RichStatusError;
pub use pb::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo, bad_request, help, precondition_failure, quota_failure,
};
pub use prost_types::{Any, Duration};
pub use rich::RichStatus;

/// The trailer that carries the encoded `google.rpc.Status`, as grpcio's
/// `rpc_status` names it (`GRPC_DETAILS_METADATA_KEY`).
pub const GRPC_DETAILS_METADATA_KEY: &str = "grpc-status-details-bin";
