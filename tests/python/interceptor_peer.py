"""The grpcio peer of tests/tests/client_interceptors.rs: grpcio's own
interceptor example code (examples/python/interceptors/headers) on the
Python side, rustgrpc's interceptors on the other.

  interceptor_peer.py server
      Serves grpc.testing.TestService.UnaryCall on a free port behind
      grpcio's RequestHeaderValidatorInterceptor("one-time-password", "42",
      UNAUTHENTICATED, "Access denied!") and prints "listening on port N";
      stops when stdin closes. UnaryCall answers with username = the
      "x-trace" metadata value and oauth_scope = "deadline" when the call
      has one (else "none").

  interceptor_peer.py client PORT
      Calls UnaryCall on 127.0.0.1:PORT through grpc.intercept_channel with
      grpcio's header_adder_interceptor("one-time-password", "42"), then
      without it. Prints, per call, "OK <username>" or
      "ERROR <code name> <details>".
"""

import collections
import sys
from concurrent import futures

import grpc
import interop_common as common


# grpcio's examples/python/interceptors/headers/generic_client_interceptor.py
class _GenericClientInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, interceptor_function):
        self._fn = interceptor_function

    def intercept_unary_unary(self, continuation, client_call_details, request):
        new_details, new_request_iterator, postprocess = self._fn(
            client_call_details, iter((request,)), False, False
        )
        response = continuation(new_details, next(new_request_iterator))
        return postprocess(response) if postprocess else response

    def intercept_unary_stream(self, continuation, client_call_details, request):
        new_details, new_request_iterator, postprocess = self._fn(
            client_call_details, iter((request,)), False, True
        )
        response_it = continuation(new_details, next(new_request_iterator))
        return postprocess(response_it) if postprocess else response_it

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        new_details, new_request_iterator, postprocess = self._fn(
            client_call_details, request_iterator, True, False
        )
        response = continuation(new_details, new_request_iterator)
        return postprocess(response) if postprocess else response

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        new_details, new_request_iterator, postprocess = self._fn(
            client_call_details, request_iterator, True, True
        )
        response_it = continuation(new_details, new_request_iterator)
        return postprocess(response_it) if postprocess else response_it


# grpcio's header_manipulator_client_interceptor.py
class _ClientCallDetails(
    collections.namedtuple(
        "_ClientCallDetails", ("method", "timeout", "metadata", "credentials")
    ),
    grpc.ClientCallDetails,
):
    pass


def header_adder_interceptor(header, value):
    def intercept_call(
        client_call_details, request_iterator, request_streaming, response_streaming
    ):
        metadata = []
        if client_call_details.metadata is not None:
            metadata = list(client_call_details.metadata)
        metadata.append((header, value))
        client_call_details = _ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
        )
        return client_call_details, request_iterator, None

    return _GenericClientInterceptor(intercept_call)


# grpcio's request_header_validator_interceptor.py
def _unary_unary_rpc_terminator(code, details):
    def terminate(ignored_request, context):
        context.abort(code, details)

    return grpc.unary_unary_rpc_method_handler(terminate)


class RequestHeaderValidatorInterceptor(grpc.ServerInterceptor):
    def __init__(self, header, value, code, details):
        self._header = header
        self._value = value
        self._terminator = _unary_unary_rpc_terminator(code, details)

    def intercept_service(self, continuation, handler_call_details):
        if (
            self._header,
            self._value,
        ) in handler_call_details.invocation_metadata:
            return continuation(handler_call_details)
        else:
            return self._terminator


class Servicer(common.test_pb2_grpc.TestServiceServicer):
    def UnaryCall(self, request, context):
        metadata = dict(context.invocation_metadata())
        deadline = "deadline" if context.time_remaining() is not None else "none"
        return common.messages_pb2.SimpleResponse(
            username=metadata.get("x-trace", ""), oauth_scope=deadline
        )


def serve():
    validator = RequestHeaderValidatorInterceptor(
        "one-time-password", "42", grpc.StatusCode.UNAUTHENTICATED, "Access denied!"
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=(validator,)
    )
    common.test_pb2_grpc.add_TestServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening on port {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop(None)


def call(stub):
    try:
        response = stub.UnaryCall(common.messages_pb2.SimpleRequest(), timeout=30)
        print("OK", response.username, flush=True)
    except grpc.RpcError as error:
        print("ERROR", error.code().name, error.details(), flush=True)


def client(port):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        interceptor = header_adder_interceptor("one-time-password", "42")
        intercepted = grpc.intercept_channel(channel, interceptor)
        call(common.test_pb2_grpc.TestServiceStub(intercepted))
        call(common.test_pb2_grpc.TestServiceStub(channel))


def main():
    if sys.argv[1:2] == ["server"]:
        serve()
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 3:
        client(int(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
