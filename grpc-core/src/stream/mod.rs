//! The stream layer: everything between one HTTP/2 stream (the transport)
//! and the RPC core, written once.
//!
//! - [`head`]: typed request heads and the one encoding-header parser.
//! - [`inbox`]: received messages handed from the stream's reader to
//!   their consumer in batches.
//! - [`reader`]: messages off a body (deframe, bound, decompress, decode,
//!   map errors).
//! - [`outbox`]: the send buffer a handler encodes its responses into.
//! - [`writer`]: the response writer (batches from the outbox, flow
//!   control, headers and trailers).
//! - [`responder`]: the response half of a server stream (heads, trailers,
//!   Trailers-Only, resets).

pub(crate) mod head;
pub(crate) mod inbox;
pub(crate) mod outbox;
pub(crate) mod reader;
pub(crate) mod responder;
pub(crate) mod writer;
