"""connect-python (the `connectrpc` package) as a server for our client.

    python connect_server.py [--tls CERT_PEM KEY_PEM]

Serves rustgrpc.testing.TestService (the same EchoRequest conventions as
the Rust test servicer) as connect-python's ASGI application on hypercorn,
which speaks HTTP/1.1 and HTTP/2 (h2c, prior knowledge) on one port; with
--tls, over TLS (ALPN h2 and http/1.1).
Prints "ports PORT PORT" once listening; runs until stdin closes.
"""

import asyncio
import base64
import os
import socket
import sys

sys.path.insert(0, os.environ["INTEROP_PROTO_GEN"])

import testing_pb2  # noqa: E402
from hypercorn.asyncio import serve  # noqa: E402
from hypercorn.config import Config  # noqa: E402
from protobuf.wkt import Any  # noqa: E402 (connect-python's own protobuf runtime)

from connectrpc.code import Code  # noqa: E402
from connectrpc.compat import google_protobuf_codecs  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType  # noqa: E402
from connectrpc.server import ConnectASGIApplication, Endpoint  # noqa: E402

SERVICE = "rustgrpc.testing.TestService"

# gRPC's numeric codes in order (1 = CANCELED ... 16 = UNAUTHENTICATED).
CODES = [
    None, Code.CANCELED, Code.UNKNOWN, Code.INVALID_ARGUMENT, Code.DEADLINE_EXCEEDED,
    Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED,
    Code.FAILED_PRECONDITION, Code.ABORTED, Code.OUT_OF_RANGE, Code.UNIMPLEMENTED,
    Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS, Code.UNAUTHENTICATED,
]


def method(name, stream_type):
    return MethodInfo(
        name=name,
        service_name=SERVICE,
        input=testing_pb2.EchoRequest,
        output=testing_pb2.EchoResponse,
        idempotency_level=IdempotencyLevel.UNKNOWN,
        stream_type=stream_type,
    )


def protocol_of(ctx):
    content_type = ctx.request_headers.get("content-type", "")
    if content_type.startswith("application/grpc-web"):
        return "grpc-web"
    if content_type.startswith("application/grpc"):
        return "grpc"
    return "connect"


def header_value(entry):
    if entry.key.endswith("-bin"):
        return base64.b64encode(entry.value).decode()
    return entry.value.decode()


def details_of(status_bytes):
    """The Any details of an encoded google.rpc.Status (field 3)."""
    from google.rpc import status_pb2  # grpcio-status brings googleapis-common-protos

    status = status_pb2.Status.FromString(status_bytes)
    return [Any(type_url=d.type_url, value=d.value) for d in status.details]


async def handle(req, ctx):
    """Metadata, sleep and failure, as the request asks; the response."""
    for entry in req.initial_metadata:
        ctx.response_headers.add(entry.key, header_value(entry))
    for entry in req.trailing_metadata:
        ctx.response_trailers.add(entry.key, header_value(entry))
    if req.sleep_ms:
        remaining = ctx.timeout_ms
        if remaining is not None and remaining < req.sleep_ms:
            await asyncio.sleep(max(remaining, 0) / 1000.0)
            raise ConnectError(Code.DEADLINE_EXCEEDED, "deadline exceeded")
        await asyncio.sleep(req.sleep_ms / 1000.0)
    if req.fail_code:
        raise ConnectError(
            CODES[req.fail_code], req.fail_message, details=details_of(req.fail_binary_details)
        )
    metadata = []
    for key, value in ctx.request_headers.allitems():
        raw = base64.b64decode(value + "==") if key.endswith("-bin") else value.encode()
        metadata.append(testing_pb2.MetadataEntry(key=key, value=raw))
    remaining = ctx.timeout_ms
    return testing_pb2.EchoResponse(
        message=req.message,
        payload=b"r" * req.response_size,
        has_deadline=remaining is not None,
        time_remaining_ms=int(max(remaining or 0, 0)),
        invocation_metadata=metadata,
        protocol=protocol_of(ctx),
    )


class Service:
    async def unary_call(self, req, ctx):
        return await handle(req, ctx)

    async def streaming_output_call(self, req, ctx):
        response = await handle(req, ctx)
        for index in range(req.response_count):
            reply = testing_pb2.EchoResponse()
            reply.CopyFrom(response)
            reply.index = index
            yield reply

    async def streaming_input_call(self, requests, ctx):
        messages = []
        total = 0
        async for req in requests:
            messages.append(req.message)
            total += len(req.payload)
        return testing_pb2.EchoResponse(
            message=",".join(messages), request_count=len(messages), total_bytes=total,
            protocol=protocol_of(ctx),
        )

    async def full_duplex_call(self, requests, ctx):
        async for req in requests:
            yield testing_pb2.EchoResponse(message=req.message, protocol=protocol_of(ctx))


def endpoints(service):
    prefix = f"/{SERVICE}/"
    return {
        prefix + "UnaryCall": Endpoint.unary(
            method("UnaryCall", StreamType.UNARY), service.unary_call),
        prefix + "StreamingOutputCall": Endpoint.server_stream(
            method("StreamingOutputCall", StreamType.SERVER_STREAM), service.streaming_output_call),
        prefix + "StreamingInputCall": Endpoint.client_stream(
            method("StreamingInputCall", StreamType.CLIENT_STREAM), service.streaming_input_call),
        prefix + "FullDuplexCall": Endpoint.bidi_stream(
            method("FullDuplexCall", StreamType.BIDI_STREAM), service.full_duplex_call),
    }


class TestServiceApplication(ConnectASGIApplication):
    @property
    def path(self):
        return f"/{SERVICE}"


async def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = None
    config.errorlog = "-"
    if "--tls" in sys.argv:
        at = sys.argv.index("--tls")
        config.certfile, config.keyfile = sys.argv[at + 1], sys.argv[at + 2]
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or shutdown.set())
    app = TestServiceApplication(
        service=Service(), endpoints=endpoints, codecs=google_protobuf_codecs())
    server = asyncio.ensure_future(serve(app, config, shutdown_trigger=shutdown.wait))
    await asyncio.sleep(0.2)
    print(f"ports {port} {port}", flush=True)
    await server


asyncio.run(main())
