//! [`ChannelzServicer`]: the tracked servers, and the queries.

use std::sync::{Arc, Mutex, MutexGuard};

use grpc_core::channelz::{ChannelStats, ServerStats};
use grpc_core::{Channel, Server, ServicerContext, Status};

use crate::convert;
use crate::v1::{
    AsyncChannelzServicer, GetChannelRequest, GetChannelResponse, GetServerRequest,
    GetServerResponse, GetServerSocketsRequest, GetServerSocketsResponse, GetServersRequest,
    GetServersResponse, GetSocketRequest, GetSocketResponse, GetSubchannelRequest,
    GetSubchannelResponse, GetTopChannelsRequest, GetTopChannelsResponse,
};

/// Results per page when the request asks for 0 (or fewer).
const DEFAULT_PAGE: usize = 100;
/// Results per page at most.
const MAX_PAGE: usize = 1000;

/// The channelz service: answers for the servers it tracks. Cheap to
/// clone; clones share the list. Holds only the servers' counters, never
/// the servers, so it keeps none of them alive.
#[derive(Clone, Debug, Default)]
pub struct ChannelzServicer {
    servers: Arc<Mutex<Vec<ServerStats>>>,
    channels: Arc<Mutex<Vec<ChannelStats>>>,
}

impl ChannelzServicer {
    /// A servicer that tracks no server yet.
    pub fn new() -> ChannelzServicer {
        ChannelzServicer::default()
    }

    /// Reports `server` too (once, however often it is tracked).
    pub fn track(&self, server: &Server) {
        let stats = server.channelz();
        let mut servers = self.lock();
        if servers.iter().all(|known| known.id() != stats.id()) {
            servers.push(stats);
            servers.sort_by_key(ServerStats::id);
        }
    }

    /// The tracked servers' counters, by id.
    pub fn servers(&self) -> Vec<ServerStats> {
        self.lock().clone()
    }

    /// Reports the client channel `channel` as a top channel (once);
    /// it is reported until every handle to it is dropped.
    pub fn track_channel(&self, channel: &Channel) {
        let stats = channel.channelz();
        let mut channels = self.lock_channels();
        channels.retain(|known| known.channel().is_some());
        if channels.iter().all(|known| known.id() != stats.id()) {
            channels.push(stats);
            channels.sort_by_key(ChannelStats::id);
        }
    }

    /// The tracked channels' counters, by id (dropped channels left out).
    pub fn channels(&self) -> Vec<ChannelStats> {
        let mut channels = self.lock_channels();
        channels.retain(|known| known.channel().is_some());
        channels.clone()
    }

    fn lock_channels(&self) -> MutexGuard<'_, Vec<ChannelStats>> {
        self.channels
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<ServerStats>> {
        self.servers
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn server(&self, id: i64) -> Result<ServerStats, Status> {
        self.lock()
            .iter()
            .find(|server| server.id() == id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no server with channelz id {id}")))
    }
}

/// The page size a request asks for.
fn page_size(max_results: i64) -> usize {
    match usize::try_from(max_results) {
        Ok(0) | Err(_) => DEFAULT_PAGE,
        Ok(wanted) => wanted.min(MAX_PAGE),
    }
}

/// Up to `size` of `items` whose id is at least `start`, and whether
/// they are the last.
fn page<T>(items: Vec<T>, id: impl Fn(&T) -> i64, start: i64, size: usize) -> (Vec<T>, bool) {
    let mut from_start: Vec<T> = items.into_iter().filter(|item| id(item) >= start).collect();
    let end = from_start.len() <= size;
    from_start.truncate(size);
    (from_start, end)
}

impl AsyncChannelzServicer for ChannelzServicer {
    async fn get_top_channels(
        &self,
        request: GetTopChannelsRequest,
        _context: &ServicerContext,
    ) -> Result<GetTopChannelsResponse, Status> {
        let (channels, end) = page(
            self.channels(),
            ChannelStats::id,
            request.start_channel_id,
            page_size(request.max_results),
        );
        Ok(GetTopChannelsResponse {
            channel: channels.iter().filter_map(convert::channel).collect(),
            end,
        })
    }

    async fn get_servers(
        &self,
        request: GetServersRequest,
        _context: &ServicerContext,
    ) -> Result<GetServersResponse, Status> {
        let (servers, end) = page(
            self.servers(),
            ServerStats::id,
            request.start_server_id,
            page_size(request.max_results),
        );
        Ok(GetServersResponse {
            server: servers.iter().map(convert::server).collect(),
            end,
        })
    }

    async fn get_server(
        &self,
        request: GetServerRequest,
        _context: &ServicerContext,
    ) -> Result<GetServerResponse, Status> {
        let server = self.server(request.server_id)?;
        Ok(GetServerResponse {
            server: Some(convert::server(&server)),
        })
    }

    async fn get_server_sockets(
        &self,
        request: GetServerSocketsRequest,
        _context: &ServicerContext,
    ) -> Result<GetServerSocketsResponse, Status> {
        let server = self.server(request.server_id)?;
        let (sockets, end) = page(
            server.sockets(),
            |socket| socket.id(),
            request.start_socket_id,
            page_size(request.max_results),
        );
        Ok(GetServerSocketsResponse {
            socket_ref: sockets.iter().map(convert::socket_ref).collect(),
            end,
        })
    }

    async fn get_channel(
        &self,
        request: GetChannelRequest,
        _context: &ServicerContext,
    ) -> Result<GetChannelResponse, Status> {
        self.channels()
            .iter()
            .find(|channel| channel.id() == request.channel_id)
            .and_then(convert::channel)
            .map(|channel| GetChannelResponse {
                channel: Some(channel),
            })
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no tracked channel with channelz id {}",
                    request.channel_id
                ))
            })
    }

    async fn get_subchannel(
        &self,
        request: GetSubchannelRequest,
        _context: &ServicerContext,
    ) -> Result<GetSubchannelResponse, Status> {
        Err(Status::not_found(format!(
            "no subchannel with channelz id {} (subchannels are not tracked)",
            request.subchannel_id
        )))
    }

    async fn get_socket(
        &self,
        request: GetSocketRequest,
        _context: &ServicerContext,
    ) -> Result<GetSocketResponse, Status> {
        let socket = self
            .servers()
            .iter()
            .find_map(|server| server.socket(request.socket_id))
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no open socket with channelz id {}",
                    request.socket_id
                ))
            })?;
        Ok(GetSocketResponse {
            socket: Some(convert::socket(&socket)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_start_at_an_id_and_say_whether_they_end() {
        let ids = vec![1, 3, 5, 7];
        assert_eq!(page(ids.clone(), |i| *i, 0, 10), (vec![1, 3, 5, 7], true));
        assert_eq!(page(ids.clone(), |i| *i, 3, 2), (vec![3, 5], false));
        assert_eq!(page(ids.clone(), |i| *i, 5, 2), (vec![5, 7], true));
        assert_eq!(page(ids, |i| *i, 8, 2), (vec![], true));
        assert_eq!(page_size(0), DEFAULT_PAGE);
        assert_eq!(page_size(-5), DEFAULT_PAGE);
        assert_eq!(page_size(3), 3);
        assert_eq!(page_size(i64::MAX), MAX_PAGE);
    }
}
