"""grpcio-channelz's stubs against a server (the Rust channelz test):
prints what channelz says about the server with the given id.

    channelz_client.py TARGET SERVER_ID
"""

import sys

import grpc
from grpc_channelz.v1 import channelz_pb2, channelz_pb2_grpc


def main():
    target, server_id = sys.argv[1], int(sys.argv[2])
    stub = channelz_pb2_grpc.ChannelzStub(grpc.insecure_channel(target))
    servers = stub.GetServers(channelz_pb2.GetServersRequest(start_server_id=0), timeout=60)
    print("SERVERS", len(servers.server), servers.end,
          server_id in [s.ref.server_id for s in servers.server], flush=True)

    server = stub.GetServer(channelz_pb2.GetServerRequest(server_id=server_id), timeout=60).server
    data = server.data
    print("CALLS", data.calls_started, data.calls_succeeded, data.calls_failed,
          data.last_call_started_timestamp.seconds > 0, flush=True)

    sockets = stub.GetServerSockets(
        channelz_pb2.GetServerSocketsRequest(server_id=server_id), timeout=60)
    print("SOCKETS", len(sockets.socket_ref), sockets.end, flush=True)
    for ref in sockets.socket_ref:
        socket = stub.GetSocket(channelz_pb2.GetSocketRequest(socket_id=ref.socket_id),
                                timeout=60).socket
        d = socket.data
        print("SOCKET", d.streams_started, d.streams_succeeded, d.streams_failed,
              d.messages_sent, d.messages_received,
              d.last_message_received_timestamp.seconds > 0,
              len(socket.remote.tcpip_address.ip_address), socket.remote.tcpip_address.port,
              flush=True)

    for name, call in [
        ("server", lambda: stub.GetServer(channelz_pb2.GetServerRequest(server_id=-1))),
        ("socket", lambda: stub.GetSocket(channelz_pb2.GetSocketRequest(socket_id=-1))),
        ("channel", lambda: stub.GetChannel(channelz_pb2.GetChannelRequest(channel_id=-1))),
    ]:
        try:
            call()
            print("FOUND", name, flush=True)
        except grpc.RpcError as error:
            print("MISSING", name, error.code().name, flush=True)
    top = stub.GetTopChannels(channelz_pb2.GetTopChannelsRequest(), timeout=60)
    print("TOP_CHANNELS", len(top.channel), top.end, flush=True)
    for listed in top.channel:
        channel = stub.GetChannel(
            channelz_pb2.GetChannelRequest(channel_id=listed.ref.channel_id), timeout=60).channel
        d = channel.data
        print("CHANNEL", d.calls_started, d.calls_succeeded, d.calls_failed,
              d.last_call_started_timestamp.seconds > 0,
              channelz_pb2.ChannelConnectivityState.State.Name(d.state.state), d.target,
              flush=True)


if __name__ == "__main__":
    main()
