"""The grpcio-status peer of tests/tests/rich_status.rs.

  rich_status_peer.py server
      Serves grpc.testing.TestService.UnaryCall on a free port and prints
      "listening on port N"; stops when stdin closes. UnaryCall takes an
      encoded google.rpc.Status from request.payload.body, rebuilds it in
      Python (each standard detail unpacked into its error_details_pb2
      class and packed again, other details copied) and fails the call with
      rpc_status.to_status(...). With response_status.message == "mismatch"
      it instead sends a google.rpc.Status whose message differs from the
      call's details (set by hand in the trailing metadata).

  rich_status_peer.py client PORT CASE
      Calls UnaryCall on 127.0.0.1:PORT with response_status.message = CASE,
      and reads the error with rpc_status.from_call. Prints
        STATUS <code> <message as JSON>
        DETAIL <full type name> <base64 of the message serialized by Python>
        OTHER <type url> <base64 of the packed value>
      or NONE (no details), ERROR <exception class> <text>, or OK.
"""

import base64
import json
import sys
from concurrent import futures

import grpc
import interop_common as common
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

STANDARD = {
    "google.rpc." + name: getattr(error_details_pb2, name)
    for name in (
        "ErrorInfo",
        "RetryInfo",
        "DebugInfo",
        "QuotaFailure",
        "PreconditionFailure",
        "BadRequest",
        "RequestInfo",
        "ResourceInfo",
        "Help",
        "LocalizedMessage",
    )
}


def rebuild(incoming):
    """A google.rpc.Status built in Python from the one the client sent."""
    status = status_pb2.Status(code=incoming.code, message=incoming.message)
    for detail in incoming.details:
        cls = STANDARD.get(detail.TypeName())
        if cls is None:
            status.details.add().CopyFrom(detail)
            continue
        message = cls()
        if not detail.Unpack(message):
            raise ValueError("cannot unpack " + detail.type_url)
        packed = any_pb2.Any()
        packed.Pack(message)
        status.details.append(packed)
    return status


class Servicer(common.test_pb2_grpc.TestServiceServicer):
    def UnaryCall(self, request, context):
        if request.response_status.message == "mismatch":
            proto = status_pb2.Status(
                code=grpc.StatusCode.NOT_FOUND.value[0], message="proto message"
            )
            context.set_trailing_metadata(
                ((rpc_status.GRPC_DETAILS_METADATA_KEY, proto.SerializeToString()),)
            )
            context.abort(grpc.StatusCode.NOT_FOUND, "call message")
        incoming = status_pb2.Status.FromString(request.payload.body)
        context.abort_with_status(rpc_status.to_status(rebuild(incoming)))


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    common.test_pb2_grpc.add_TestServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening on port {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop(None)


def describe(status):
    print("STATUS", status.code, json.dumps(status.message, ensure_ascii=False))
    for detail in status.details:
        cls = STANDARD.get(detail.TypeName())
        if cls is None:
            print("OTHER", detail.type_url, base64.b64encode(detail.value).decode())
            continue
        message = cls()
        if not detail.Unpack(message):
            print("ERROR Unpack", detail.type_url)
            continue
        encoded = base64.b64encode(message.SerializeToString()).decode()
        print("DETAIL", cls.DESCRIPTOR.full_name, encoded)


def call(port, case):
    # grpcio rejects trailers between its soft (8 KiB) and hard (16 KiB)
    # metadata limits at random; the long case's details run to ~10 KiB.
    options = [
        ("grpc.max_metadata_size", 64 << 10),
        ("grpc.absolute_max_metadata_size", 64 << 10),
    ]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    stub = common.test_pb2_grpc.TestServiceStub(channel)
    request = common.messages_pb2.SimpleRequest(
        response_status=common.messages_pb2.EchoStatus(code=0, message=case)
    )
    try:
        stub.UnaryCall(request, timeout=30)
    except grpc.RpcError as error:
        report(error)
        return
    print("OK")


def report(error):
    try:
        status = rpc_status.from_call(error)
    except Exception as exception:  # noqa: BLE001 - reported to the test
        print("ERROR", type(exception).__name__, exception)
        return
    if status is None:
        print("NONE", error.code().name, json.dumps(error.details(), ensure_ascii=False))
    else:
        describe(status)


def main():
    if sys.argv[1:2] == ["server"]:
        serve()
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        call(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
