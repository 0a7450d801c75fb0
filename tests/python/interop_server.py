"""The Python grpcio interop server: grpc.testing.TestService with the
standard server features, for rustgrpc's interop tests.

    python interop_server.py --port 0

Prints "listening on port N" once serving; stops when stdin closes (so a
test harness that dies takes the server with it).
"""

import argparse
import sys
import threading
import time
from concurrent import futures

import grpc

from interop_common import (
    NO_DECOMPRESSION,
    STATUS_BY_CODE,
    empty_pb2,
    messages_pb2,
    unpack,
)

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"

# The algorithms used for responses that ask for compression (as the
# rustgrpc server does): gzip for unary, deflate for streams.
UNARY_RESPONSE_COMPRESSION = grpc.Compression.Gzip
STREAM_RESPONSE_COMPRESSION = grpc.Compression.Deflate


class Received:
    """A request message and whether it arrived compressed."""

    def __init__(self, message, compressed):
        self.message = message
        self.compressed = compressed


def _decoder(message_type):
    def decode(data):
        payload, compressed = unpack(data)
        return Received(message_type.FromString(payload), compressed)

    return decode


def _zeros(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def _echo_metadata(context):
    initial, trailing = [], []
    for key, value in context.invocation_metadata():
        if key == ECHO_INITIAL_KEY:
            initial.append((key, value))
        elif key == ECHO_TRAILING_KEY:
            trailing.append((key, value))
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def _echo_status(status, context):
    if status is not None and status.code != 0:
        context.abort(STATUS_BY_CODE[status.code], status.message)


def _check_expect_compressed(message, compressed, context):
    if not message.HasField("expect_compressed"):
        return
    expected = message.expect_compressed.value
    if expected and not compressed:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected compressed request, but the request was not compressed",
        )
    if compressed and not expected:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected an uncompressed request, but the request was compressed",
        )


def _compress_stream_if_asked(parameters, context):
    if any(p.HasField("compressed") and p.compressed.value for p in parameters):
        context.set_compression(STREAM_RESPONSE_COMPRESSION)


def _streamed_response(parameters, context):
    if parameters.interval_us > 0:
        time.sleep(parameters.interval_us / 1e6)
    if not (parameters.HasField("compressed") and parameters.compressed.value):
        context.disable_next_message_compression()
    return messages_pb2.StreamingOutputCallResponse(payload=_zeros(parameters.size))


def empty_call(received, context):
    _echo_metadata(context)
    return empty_pb2.Empty()


def unary_call(received, context):
    request = received.message
    _check_expect_compressed(request, received.compressed, context)
    if request.HasField("response_compressed"):
        context.set_compression(
            UNARY_RESPONSE_COMPRESSION
            if request.response_compressed.value
            else grpc.Compression.NoCompression
        )
    _echo_metadata(context)
    if request.HasField("response_status"):
        _echo_status(request.response_status, context)
    return messages_pb2.SimpleResponse(payload=_zeros(request.response_size))


def streaming_output_call(received, context):
    request = received.message
    _compress_stream_if_asked(request.response_parameters, context)
    _echo_metadata(context)
    for parameters in request.response_parameters:
        yield _streamed_response(parameters, context)
    if request.HasField("response_status"):
        _echo_status(request.response_status, context)


def streaming_input_call(requests, context):
    _echo_metadata(context)
    total = 0
    for received in requests:
        _check_expect_compressed(received.message, received.compressed, context)
        total += len(received.message.payload.body)
    return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)


def full_duplex_call(requests, context):
    _echo_metadata(context)
    for received in requests:
        request = received.message
        if request.HasField("response_status"):
            _echo_status(request.response_status, context)
        _compress_stream_if_asked(request.response_parameters, context)
        for parameters in request.response_parameters:
            yield _streamed_response(parameters, context)


def half_duplex_call(requests, context):
    _echo_metadata(context)
    buffered = [received.message for received in requests]
    for request in buffered:
        if request.HasField("response_status"):
            _echo_status(request.response_status, context)
    parameters = [p for request in buffered for p in request.response_parameters]
    _compress_stream_if_asked(parameters, context)
    for p in parameters:
        yield _streamed_response(p, context)


def _handlers():
    serialize = lambda message: message.SerializeToString()  # noqa: E731
    simple = _decoder(messages_pb2.SimpleRequest)
    output = _decoder(messages_pb2.StreamingOutputCallRequest)
    return grpc.method_handlers_generic_handler(
        "grpc.testing.TestService",
        {
            "EmptyCall": grpc.unary_unary_rpc_method_handler(
                empty_call, _decoder(empty_pb2.Empty), serialize
            ),
            "UnaryCall": grpc.unary_unary_rpc_method_handler(unary_call, simple, serialize),
            "CacheableUnaryCall": grpc.unary_unary_rpc_method_handler(
                unary_call, simple, serialize
            ),
            "StreamingOutputCall": grpc.unary_stream_rpc_method_handler(
                streaming_output_call, output, serialize
            ),
            "StreamingInputCall": grpc.stream_unary_rpc_method_handler(
                streaming_input_call,
                _decoder(messages_pb2.StreamingInputCallRequest),
                serialize,
            ),
            "FullDuplexCall": grpc.stream_stream_rpc_method_handler(
                full_duplex_call, output, serialize
            ),
            "HalfDuplexCall": grpc.stream_stream_rpc_method_handler(
                half_duplex_call, output, serialize
            ),
            # UnimplementedCall is left out: grpcio answers UNIMPLEMENTED.
        },
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=10000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--use_tls", default="false", choices=["true", "false"])
    parser.add_argument("--tls_cert_file")
    parser.add_argument("--tls_key_file")
    parser.add_argument("--client_ca_file", help="require client certificates from these CAs")
    parser.add_argument(
        "--inspect_compression",
        default="true",
        choices=["true", "false"],
        help="see requests as they came, to check expect_compressed (default true)",
    )
    args = parser.parse_args()

    options = [NO_DECOMPRESSION] if args.inspect_compression == "true" else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=options)
    server.add_generic_rpc_handlers((_handlers(),))
    address = f"{args.host}:{args.port}"
    if args.use_tls == "true":
        def read(path):
            with open(path, "rb") as handle:
                return handle.read()

        client_ca = read(args.client_ca_file) if args.client_ca_file else None
        credentials = grpc.ssl_server_credentials(
            [(read(args.tls_key_file), read(args.tls_cert_file))],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    server.start()
    print(f"listening on port {port}", flush=True)

    def stop_on_eof():
        sys.stdin.read()
        server.stop(1)

    threading.Thread(target=stop_on_eof, daemon=True).start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
