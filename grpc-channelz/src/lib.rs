//! The gRPC channelz service (`grpc.channelz.v1.Channelz`) for rustgrpc
//! servers: what a server and each of its connections have done (calls
//! started, succeeded and failed, the last call's time, streams, messages
//! sent and received), for operators and tools such as grpcdebug or
//! grpcio-channelz's stubs.
//!
//! One line serves the server's own counters
//! ([`Server::channelz`](grpc_core::Server::channelz)); more servers of
//! the process can be added with [`ChannelzServicer::track`]:
//!
//! ```
//! let server = grpc_core::Server::builder().build();
//! let channelz = grpc_channelz::add_channelz_servicer_to_server(&server);
//! let other = grpc_core::Server::builder().build();
//! channelz.track(&other);
//! assert_eq!(channelz.servers().len(), 2);
//! ```
//!
//! Served: `GetServers`, `GetServer`, `GetServerSockets` and `GetSocket`
//! (paged by id as the protocol says), and `GetTopChannels` and
//! `GetChannel` for the client channels given to
//! [`ChannelzServicer::track_channel`] (their calls and connectivity).
//! Subchannels are not tracked: `GetSubchannel` answers `NOT_FOUND`.

mod convert;
mod servicer;

pub use servicer::ChannelzServicer;

/// The generated code of the proto package `grpc.channelz.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/grpc.channelz.v1.rs"));
}

/// Registers a [`ChannelzServicer`] that tracks `server` on `server`, and
/// returns it (to [`track`](ChannelzServicer::track) more servers).
pub fn add_channelz_servicer_to_server(server: &grpc_core::Server) -> ChannelzServicer {
    let channelz = ChannelzServicer::new();
    channelz.track(server);
    v1::add_async_channelz_servicer_to_server(channelz.clone(), server);
    channelz
}
