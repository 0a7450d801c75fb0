//! grpc-core's channelz records as `grpc.channelz.v1` messages.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use grpc_core::ChannelConnectivity;
use grpc_core::channelz::{CallCounts, ChannelStats, ServerStats, SocketStats};

use crate::v1::channel_connectivity_state::State;
use crate::v1::{
    Address, Channel, ChannelConnectivityState, ChannelData, ChannelRef, Server, ServerData,
    ServerRef, Socket, SocketData, SocketRef, address,
};

/// Saturating `u64` to the protocol's `int64`.
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn timestamp(time: Option<SystemTime>) -> Option<prost_types::Timestamp> {
    let since = time?.duration_since(UNIX_EPOCH).ok()?;
    Some(prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    })
}

fn state(connectivity: ChannelConnectivity) -> State {
    match connectivity {
        ChannelConnectivity::Idle => State::Idle,
        ChannelConnectivity::Connecting => State::Connecting,
        ChannelConnectivity::Ready => State::Ready,
        ChannelConnectivity::TransientFailure => State::TransientFailure,
        ChannelConnectivity::Shutdown => State::Shutdown,
    }
}

/// A channel; `None` once every handle to it was dropped.
pub(crate) fn channel(stats: &ChannelStats) -> Option<Channel> {
    let channel = stats.channel()?;
    let CallCounts {
        started,
        succeeded,
        failed,
        last_started,
    } = stats.calls();
    Some(Channel {
        r#ref: Some(ChannelRef {
            channel_id: stats.id(),
            name: channel.target().to_owned(),
        }),
        data: Some(ChannelData {
            state: Some(ChannelConnectivityState {
                state: state(channel.connectivity()) as i32,
            }),
            target: channel.target().to_owned(),
            trace: None,
            calls_started: count(started),
            calls_succeeded: count(succeeded),
            calls_failed: count(failed),
            last_call_started_timestamp: timestamp(last_started),
            max_connections_per_subchannel: 0,
        }),
        ..Channel::default()
    })
}

pub(crate) fn server_ref(stats: &ServerStats) -> ServerRef {
    ServerRef {
        server_id: stats.id(),
        name: format!("server {}", stats.id()),
    }
}

pub(crate) fn server(stats: &ServerStats) -> Server {
    let CallCounts {
        started,
        succeeded,
        failed,
        last_started,
    } = stats.calls();
    Server {
        r#ref: Some(server_ref(stats)),
        data: Some(ServerData {
            trace: None,
            calls_started: count(started),
            calls_succeeded: count(succeeded),
            calls_failed: count(failed),
            last_call_started_timestamp: timestamp(last_started),
        }),
        listen_socket: Vec::new(),
    }
}

pub(crate) fn socket_ref(stats: &SocketStats) -> SocketRef {
    SocketRef {
        socket_id: stats.id(),
        name: stats.remote_name().to_owned(),
    }
}

fn address(addr: Option<SocketAddr>, name: &str) -> Option<Address> {
    let address = match addr {
        Some(addr) => address::Address::TcpipAddress(address::TcpIpAddress {
            ip_address: match addr {
                SocketAddr::V4(v4) => v4.ip().octets().to_vec(),
                SocketAddr::V6(v6) => v6.ip().octets().to_vec(),
            },
            port: i32::from(addr.port()),
        }),
        None => match name.strip_prefix("unix:") {
            Some(path) => address::Address::UdsAddress(address::UdsAddress {
                filename: path.to_owned(),
            }),
            None => address::Address::OtherAddress(address::OtherAddress {
                name: name.to_owned(),
                value: None,
            }),
        },
    };
    Some(Address {
        address: Some(address),
    })
}

/// A socket; a Unix socket's local address is the listener's path, which
/// is also how its peer is named.
pub(crate) fn socket(stats: &SocketStats) -> Socket {
    let streams = stats.streams();
    Socket {
        r#ref: Some(socket_ref(stats)),
        data: Some(SocketData {
            streams_started: count(streams.started),
            streams_succeeded: count(streams.succeeded),
            streams_failed: count(streams.failed),
            messages_sent: count(stats.messages_sent()),
            messages_received: count(stats.messages_received()),
            last_remote_stream_created_timestamp: timestamp(streams.last_started),
            last_message_sent_timestamp: timestamp(stats.last_message_sent()),
            last_message_received_timestamp: timestamp(stats.last_message_received()),
            ..SocketData::default()
        }),
        local: address(stats.local(), stats.remote_name()),
        remote: address(stats.remote(), stats.remote_name()),
        security: None,
        remote_name: String::new(),
    }
}
