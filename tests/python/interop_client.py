"""The Python grpcio interop client: the standard interop cases against a
grpc.testing.TestService server, one line per case ("PASS name" or
"FAIL name: reason"), for rustgrpc's interop tests.

    python interop_client.py --server_host 127.0.0.1 --server_port N --test_case all

Exits 0 only when every case run passed.
"""

import argparse
import asyncio
import queue
import sys

import grpc

from interop_common import (
    NO_DECOMPRESSION,
    empty_pb2,
    messages_pb2,
    test_pb2_grpc,
    unpack,
)

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
SPECIAL_STATUS_MESSAGE = (
    "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
)
TIMEOUT = 20  # seconds, for every call that does not test deadlines

# As the rustgrpc client: gzip for unary requests (per call), deflate for
# streamed ones.
UNARY_REQUEST_COMPRESSION = grpc.Compression.Gzip
STREAM_REQUEST_COMPRESSION = grpc.Compression.Deflate

SERVICE = "/grpc.testing.TestService/"


class CaseFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CaseFailed(message)


def zeros(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def check_payload(what, payload, size):
    check(len(payload.body) == size, f"{what}: payload of {len(payload.body)} bytes, want {size}")
    check(payload.body == b"\x00" * size, f"{what}: payload is not all zeros")


def large_request(**fields):
    return messages_pb2.SimpleRequest(response_size=314159, payload=zeros(271828), **fields)


def expect_code(call, code, what):
    """Runs call(), which must raise an RpcError with `code`."""
    try:
        call()
    except grpc.RpcError as error:
        check(
            error.code() == code,
            f"{what} ended with {error.code()} {error.details()!r}; want {code}",
        )
        return error
    raise CaseFailed(f"{what} succeeded; want {code}")


class Pipe:
    """A request iterator fed from the test, as a queue."""

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, request):
        self._queue.put(request)

    def close(self):
        self._queue.put(None)

    def __iter__(self):
        return iter(self._queue.get, None)


def _read(path):
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()


class Security:
    """Plaintext, or TLS from the interop flags (grpc-go's names)."""

    def __init__(self, args):
        self.tls = args.use_tls == "true"
        self.options = []
        if self.tls:
            self.credentials = grpc.ssl_channel_credentials(
                _read(args.ca_file),
                _read(args.client_key_file),
                _read(args.client_cert_file),
            )
            if args.server_host_override:
                self.options.append(
                    ("grpc.ssl_target_name_override", args.server_host_override)
                )

    def channel(self, target, options=(), aio=False):
        module = grpc.aio if aio else grpc
        options = list(options) + self.options
        if self.tls:
            return module.secure_channel(target, self.credentials, options=options)
        return module.insecure_channel(target, options=options)


class Client:
    def __init__(self, target, security):
        self.target = target
        self.security = security
        self.channel = security.channel(target)
        self.stub = test_pb2_grpc.TestServiceStub(self.channel)
        # A channel that hands compressed responses over undecompressed,
        # so the compressed flag of each can be checked.
        self.raw_channel = security.channel(target, options=[NO_DECOMPRESSION])

    def close(self):
        self.channel.close()
        self.raw_channel.close()

    # The cases.

    def empty_unary(self):
        response = self.stub.EmptyCall(empty_pb2.Empty(), timeout=TIMEOUT)
        check(isinstance(response, empty_pb2.Empty), "response is not an Empty")

    def large_unary(self):
        response = self.stub.UnaryCall(large_request(), timeout=TIMEOUT)
        check_payload("response", response.payload, 314159)

    def client_compressed_unary(self):
        def request(expect):
            return large_request(expect_compressed=messages_pb2.BoolValue(value=expect))

        expect_code(
            lambda: self.stub.UnaryCall(request(True), timeout=TIMEOUT),
            grpc.StatusCode.INVALID_ARGUMENT,
            "the probe",
        )
        response = self.stub.UnaryCall(
            request(True), timeout=TIMEOUT, compression=UNARY_REQUEST_COMPRESSION
        )
        check_payload("compressed call", response.payload, 314159)
        response = self.stub.UnaryCall(request(False), timeout=TIMEOUT)
        check_payload("uncompressed call", response.payload, 314159)

    def server_compressed_unary(self):
        unary = self.raw_channel.unary_unary(
            SERVICE + "UnaryCall",
            request_serializer=messages_pb2.SimpleRequest.SerializeToString,
            response_deserializer=None,
        )
        for compressed in (True, False):
            request = large_request(
                response_compressed=messages_pb2.BoolValue(value=compressed)
            )
            data, was_compressed = unpack(unary(request, timeout=TIMEOUT))
            check(
                was_compressed == compressed,
                f"response_compressed {compressed}: the response's compressed flag is {was_compressed}",
            )
            response = messages_pb2.SimpleResponse.FromString(data)
            check_payload(f"response_compressed {compressed}", response.payload, 314159)

    def client_streaming(self):
        requests = [
            messages_pb2.StreamingInputCallRequest(payload=zeros(size))
            for size in (27182, 8, 1828, 45904)
        ]
        response = self.stub.StreamingInputCall(iter(requests), timeout=TIMEOUT)
        check(
            response.aggregated_payload_size == 74922,
            f"aggregated_payload_size {response.aggregated_payload_size}, want 74922",
        )

    def client_compressed_streaming(self):
        def request(expect, size):
            return messages_pb2.StreamingInputCallRequest(
                payload=zeros(size), expect_compressed=messages_pb2.BoolValue(value=expect)
            )

        expect_code(
            lambda: self.stub.StreamingInputCall(iter([request(True, 27182)]), timeout=TIMEOUT),
            grpc.StatusCode.INVALID_ARGUMENT,
            "the probe",
        )
        response = asyncio.run(self._compressed_then_plain(request(True, 27182), request(False, 45904)))
        check(
            response.aggregated_payload_size == 73086,
            f"aggregated_payload_size {response.aggregated_payload_size}, want 73086",
        )

    async def _compressed_then_plain(self, first, second):
        # grpcio has no public per-message compression switch on the client
        # (C++ has WriteOptions::set_no_compression); grpc.aio's core write
        # takes the flag, so the second message goes out through it with
        # WriteFlag.no_compress.
        from grpc._cython import cygrpc

        async with self.security.channel(self.target, aio=True) as channel:
            stub = test_pb2_grpc.TestServiceStub(channel)
            call = stub.StreamingInputCall(
                timeout=TIMEOUT, compression=STREAM_REQUEST_COMPRESSION
            )
            await call.write(first)
            await cygrpc._send_message(
                call._cython_call,
                second.SerializeToString(),
                None,
                cygrpc.WriteFlag.no_compress,
                asyncio.get_running_loop(),
            )
            await call.done_writing()
            return await call

    def server_streaming(self):
        sizes = (31415, 9, 2653, 58979)
        request = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes]
        )
        responses = list(self.stub.StreamingOutputCall(request, timeout=TIMEOUT))
        check(len(responses) == len(sizes), f"{len(responses)} responses, want {len(sizes)}")
        for index, (response, size) in enumerate(zip(responses, sizes)):
            check_payload(f"response {index}", response.payload, size)

    def server_compressed_streaming(self):
        stream = self.raw_channel.unary_stream(
            SERVICE + "StreamingOutputCall",
            request_serializer=messages_pb2.StreamingOutputCallRequest.SerializeToString,
            response_deserializer=None,
        )
        expected = ((31415, True), (92653, False))
        request = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[
                messages_pb2.ResponseParameters(
                    size=size, compressed=messages_pb2.BoolValue(value=compressed)
                )
                for size, compressed in expected
            ]
        )
        responses = list(stream(request, timeout=TIMEOUT))
        check(len(responses) == 2, f"{len(responses)} responses, want 2")
        for index, (data, (size, compressed)) in enumerate(zip(responses, expected)):
            data, was_compressed = unpack(data)
            check(
                was_compressed == compressed,
                f"response {index}: compressed flag {was_compressed}, want {compressed}",
            )
            response = messages_pb2.StreamingOutputCallResponse.FromString(data)
            check_payload(f"response {index}", response.payload, size)

    def ping_pong(self):
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(iter(pipe), timeout=TIMEOUT)
        try:
            for response_size, payload_size in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
                pipe.add(
                    messages_pb2.StreamingOutputCallRequest(
                        response_parameters=[messages_pb2.ResponseParameters(size=response_size)],
                        payload=zeros(payload_size),
                    )
                )
                response = next(responses)
                check_payload("response", response.payload, response_size)
        finally:
            pipe.close()
        check(next(responses, None) is None, "a fifth response arrived")

    def empty_stream(self):
        responses = list(self.stub.FullDuplexCall(iter([]), timeout=TIMEOUT))
        check(responses == [], f"{len(responses)} responses, want none")

    def custom_metadata(self):
        initial_value = "test_initial_metadata_value"
        trailing_value = b"\xab\xab\xab"
        metadata = ((ECHO_INITIAL_KEY, initial_value), (ECHO_TRAILING_KEY, trailing_value))

        def check_metadata(what, call):
            initial = dict(call.initial_metadata())
            trailing = dict(call.trailing_metadata())
            check(
                initial.get(ECHO_INITIAL_KEY) == initial_value,
                f"{what}: initial metadata {initial!r}",
            )
            check(
                trailing.get(ECHO_TRAILING_KEY) == trailing_value,
                f"{what}: trailing metadata {trailing!r}",
            )

        response, call = self.stub.UnaryCall.with_call(
            large_request(), metadata=metadata, timeout=TIMEOUT
        )
        check_payload("UnaryCall", response.payload, 314159)
        check_metadata("UnaryCall", call)

        request = messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=314159)],
            payload=zeros(271828),
        )
        call = self.stub.FullDuplexCall(iter([request]), metadata=metadata, timeout=TIMEOUT)
        responses = list(call)
        check(len(responses) == 1, f"FullDuplexCall: {len(responses)} responses")
        check_payload("FullDuplexCall", responses[0].payload, 314159)
        check_metadata("FullDuplexCall", call)

    def _echo_status(self, message, duplex):
        status = messages_pb2.EchoStatus(code=2, message=message)

        def check_status(error, what):
            check(
                error.details() == message,
                f"{what}: details {error.details()!r}, want {message!r}",
            )

        error = expect_code(
            lambda: self.stub.UnaryCall(
                messages_pb2.SimpleRequest(response_status=status), timeout=TIMEOUT
            ),
            grpc.StatusCode.UNKNOWN,
            "UnaryCall",
        )
        check_status(error, "UnaryCall")
        if duplex:
            request = messages_pb2.StreamingOutputCallRequest(response_status=status)
            error = expect_code(
                lambda: list(self.stub.FullDuplexCall(iter([request]), timeout=TIMEOUT)),
                grpc.StatusCode.UNKNOWN,
                "FullDuplexCall",
            )
            check_status(error, "FullDuplexCall")

    def status_code_and_message(self):
        self._echo_status("test status message", duplex=True)

    def special_status_message(self):
        self._echo_status(SPECIAL_STATUS_MESSAGE, duplex=False)

    def unimplemented_method(self):
        expect_code(
            lambda: self.stub.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT),
            grpc.StatusCode.UNIMPLEMENTED,
            "UnimplementedCall",
        )

    def unimplemented_service(self):
        stub = test_pb2_grpc.UnimplementedServiceStub(self.channel)
        expect_code(
            lambda: stub.UnimplementedCall(empty_pb2.Empty(), timeout=TIMEOUT),
            grpc.StatusCode.UNIMPLEMENTED,
            "UnimplementedService",
        )

    def cancel_after_begin(self):
        pipe = Pipe()
        future = self.stub.StreamingInputCall.future(iter(pipe), timeout=TIMEOUT)
        future.cancel()
        pipe.close()
        check(future.cancelled(), "the future does not say it was cancelled")
        check(
            future.code() == grpc.StatusCode.CANCELLED,
            f"code {future.code()}, want CANCELLED",
        )

    def cancel_after_first_response(self):
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(iter(pipe), timeout=TIMEOUT)
        try:
            pipe.add(
                messages_pb2.StreamingOutputCallRequest(
                    response_parameters=[messages_pb2.ResponseParameters(size=31415)],
                    payload=zeros(27182),
                )
            )
            response = next(responses)
            check_payload("the first response", response.payload, 31415)
            responses.cancel()
            expect_code(lambda: next(responses), grpc.StatusCode.CANCELLED, "after cancel")
        finally:
            pipe.close()

    def timeout_on_sleeping_server(self):
        pipe = Pipe()
        responses = self.stub.FullDuplexCall(iter(pipe), timeout=0.001)
        try:
            pipe.add(messages_pb2.StreamingOutputCallRequest(payload=zeros(27182)))
            expect_code(
                lambda: next(responses),
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "FullDuplexCall",
            )
        finally:
            pipe.close()


CASES = [
    "empty_unary",
    "large_unary",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_streaming",
    "client_compressed_streaming",
    "server_streaming",
    "server_compressed_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server_host", default="localhost")
    parser.add_argument("--server_port", type=int, default=10000)
    parser.add_argument("--test_case", default="large_unary", choices=["all"] + CASES)
    parser.add_argument("--use_tls", default="false", choices=["true", "false"])
    parser.add_argument("--ca_file")
    parser.add_argument("--server_host_override")
    parser.add_argument("--client_cert_file")
    parser.add_argument("--client_key_file")
    args = parser.parse_args()

    cases = CASES if args.test_case == "all" else [args.test_case]
    client = Client(f"{args.server_host}:{args.server_port}", Security(args))
    failed = 0
    for case in cases:
        try:
            getattr(client, case)()
            print(f"PASS {case}", flush=True)
        except (CaseFailed, grpc.RpcError) as error:
            failed += 1
            if isinstance(error, grpc.RpcError):
                reason = f"{error.code()} {error.details()!r}"
            else:
                reason = str(error)
            print(f"FAIL {case}: {reason}", flush=True)
        except Exception as error:  # a bug in the case itself still fails it
            failed += 1
            print(f"FAIL {case}: {type(error).__name__}: {error}", flush=True)
    client.close()
    if failed:
        print(f"{failed} of {len(cases)} cases failed", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
