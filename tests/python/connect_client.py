"""connect-python (the `connectrpc` package) as a client of a rustgrpc server.

    python connect_client.py PORT HTTP_VERSION(1|2) MODE(sync|async) PROTOCOL(connect|connect-json|grpc)

Runs every case against rustgrpc.testing.TestService and prints one line per
case, "ok NAME" or "FAIL NAME: why"; exits 1 if any case failed.
"""

import asyncio
import os
import sys
import traceback

sys.path.insert(0, os.environ["INTEROP_PROTO_GEN"])

import testing_pb2  # noqa: E402
from google.protobuf import any_pb2, wrappers_pb2  # noqa: E402
from pyqwest import Client, HTTPTransport, HTTPVersion, SyncClient, SyncHTTPTransport  # noqa: E402

from connectrpc.client import ConnectClient, ConnectClientSync  # noqa: E402
from connectrpc.code import Code  # noqa: E402
from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402

SERVICE = "rustgrpc.testing.TestService"


def method(name, stream_type):
    return MethodInfo(
        name=name,
        service_name=SERVICE,
        input=testing_pb2.EchoRequest,
        output=testing_pb2.EchoResponse,
        idempotency_level=IdempotencyLevel.UNKNOWN,
        stream_type=stream_type,
    )


UNARY = method("UnaryCall", StreamType.UNARY)
SERVER_STREAM = method("StreamingOutputCall", StreamType.SERVER_STREAM)
CLIENT_STREAM = method("StreamingInputCall", StreamType.CLIENT_STREAM)
BIDI = method("FullDuplexCall", StreamType.BIDI_STREAM)


def rpc_status_with_detail(code, message, detail):
    """A google.rpc.Status (encoded by hand: code, message, one Any)."""
    any_bytes = any_pb2.Any()
    any_bytes.Pack(detail)
    packed = any_bytes.SerializeToString()

    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    msg = message.encode()
    return (
        b"\x08" + varint(code)
        + b"\x12" + varint(len(msg)) + msg
        + b"\x1a" + varint(len(packed)) + packed
    )


def error_request():
    detail = wrappers_pb2.StringValue(value="more about it")
    return testing_pb2.EchoRequest(
        message="x",
        fail_code=5,
        fail_message="no such thing",
        fail_binary_details=rpc_status_with_detail(5, "no such thing", detail),
        fail_mode=testing_pb2.FAIL_MODE_ABORT_WITH_STATUS,
    )


def check_error(error):
    assert error.code == Code.NOT_FOUND, error.code
    assert error.message == "no such thing", error.message
    assert len(error.details) == 1, error.details
    assert error.details[0].type_name == "google.protobuf.StringValue", error.details[0].type_name
    value = wrappers_pb2.StringValue.FromString(error.details[0].message_bytes)
    assert value.value == "more about it", value


def sync_cases(client, http2):
    def unary():
        reply = client.execute_unary(
            request=testing_pb2.EchoRequest(message="hello"), method=UNARY,
            headers={"x-custom": "from-python"},
        )
        assert reply.message == "hello", reply
        keys = [e.key for e in reply.invocation_metadata]
        assert "x-custom" in keys, keys

    def gzip_both_ways():
        reply = client.execute_unary(
            request=testing_pb2.EchoRequest(message="z", response_compression="gzip", response_size=4096),
            method=UNARY,
        )
        assert reply.message == "z" and len(reply.payload) == 4096

    def server_stream():
        replies = list(client.execute_server_stream(
            request=testing_pb2.EchoRequest(message="s", response_count=3), method=SERVER_STREAM))
        assert [r.index for r in replies] == [0, 1, 2], replies

    def client_stream():
        requests = iter([testing_pb2.EchoRequest(message=m) for m in ("a", "b", "c")])
        reply = client.execute_client_stream(request=requests, method=CLIENT_STREAM)
        assert reply.message == "a,b,c" and reply.request_count == 3, reply

    def error_with_details():
        try:
            client.execute_unary(request=error_request(), method=UNARY)
        except ConnectError as error:
            check_error(error)
            return
        raise AssertionError("no error")

    def timeout():
        try:
            client.execute_unary(
                request=testing_pb2.EchoRequest(message="slow", sleep_ms=30000),
                method=UNARY, timeout_ms=200)
        except ConnectError as error:
            assert error.code == Code.DEADLINE_EXCEEDED, error.code
            return
        raise AssertionError("no timeout")

    def server_stream_error():
        replies = []
        try:
            for reply in client.execute_server_stream(
                request=testing_pb2.EchoRequest(message="s", response_count=2, fail_code=10,
                                                fail_message="stop"),
                method=SERVER_STREAM,
            ):
                replies.append(reply)
        except ConnectError as error:
            assert error.code == Code.ABORTED and error.message == "stop", error
            assert len(replies) == 2
            return
        raise AssertionError("no error")

    cases = [unary, gzip_both_ways, server_stream, client_stream, error_with_details,
             timeout, server_stream_error]
    if http2:
        def bidi():
            requests = iter([testing_pb2.EchoRequest(message=m) for m in ("p", "q")])
            replies = list(client.execute_bidi_stream(request=requests, method=BIDI))
            assert [r.message for r in replies] == ["p", "q"], replies
        cases.append(bidi)
    return cases


def async_cases(client, http2):
    async def unary():
        reply = await client.execute_unary(
            request=testing_pb2.EchoRequest(message="hello"), method=UNARY)
        assert reply.message == "hello", reply

    async def server_stream():
        replies = [r async for r in client.execute_server_stream(
            request=testing_pb2.EchoRequest(message="s", response_count=3), method=SERVER_STREAM)]
        assert [r.index for r in replies] == [0, 1, 2], replies

    async def client_stream():
        async def requests():
            for m in ("a", "b", "c"):
                yield testing_pb2.EchoRequest(message=m)
        reply = await client.execute_client_stream(request=requests(), method=CLIENT_STREAM)
        assert reply.message == "a,b,c", reply

    async def error_with_details():
        try:
            await client.execute_unary(request=error_request(), method=UNARY)
        except ConnectError as error:
            check_error(error)
            return
        raise AssertionError("no error")

    async def timeout():
        try:
            await client.execute_unary(
                request=testing_pb2.EchoRequest(message="slow", sleep_ms=30000),
                method=UNARY, timeout_ms=200)
        except ConnectError as error:
            assert error.code == Code.DEADLINE_EXCEEDED, error.code
            return
        raise AssertionError("no timeout")

    cases = [unary, server_stream, client_stream, error_with_details, timeout]
    if http2:
        async def bidi():
            async def requests():
                for m in ("p", "q"):
                    yield testing_pb2.EchoRequest(message=m)
            replies = [r async for r in client.execute_bidi_stream(request=requests(), method=BIDI)]
            assert [r.message for r in replies] == ["p", "q"], replies
        cases.append(bidi)
    return cases


def report(name, error):
    if error is None:
        print(f"ok {name}", flush=True)
        return True
    print(f"FAIL {name}: {error!r}", flush=True)
    traceback.print_exc()
    return False


def main():
    port, version, mode, protocol = sys.argv[1:5]
    http2 = version == "2"
    address = f"http://127.0.0.1:{port}"
    kind = ProtocolType.GRPC if protocol == "grpc" else ProtocolType.CONNECT
    http_version = HTTPVersion.HTTP2 if http2 else HTTPVersion.HTTP1
    codec = google_protobuf_json_codec() if protocol == "connect-json" else google_protobuf_binary_codec()
    ok = True
    if mode == "sync":
        http = SyncClient(SyncHTTPTransport(http_version=http_version))
        with ConnectClientSync(address, codec=codec, protocol=kind, http_client=http) as client:
            for case in sync_cases(client, http2):
                try:
                    case()
                    ok &= report(case.__name__, None)
                except Exception as error:  # noqa: BLE001
                    ok &= report(case.__name__, error)
    else:
        async def run():
            nonlocal ok
            http = Client(HTTPTransport(http_version=http_version))
            client = ConnectClient(address, codec=codec, protocol=kind, http_client=http)
            for case in async_cases(client, http2):
                try:
                    await case()
                    ok &= report(case.__name__, None)
                except Exception as error:  # noqa: BLE001
                    ok &= report(case.__name__, error)
            await client.close()
        asyncio.run(run())
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: pyqwest's async runtime sometimes aborts
    # (SIGABRT) while Python finalizes, after every case has finished.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
