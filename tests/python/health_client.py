"""grpcio-health-checking's stub against a server (the Rust health tests).

    health_client.py TARGET check SERVICE...   prints `CHECK SERVICE STATUS|CODE` per service
    health_client.py TARGET watch SERVICE      prints `STATUS NAME` per update, then `END CODE DETAILS`
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def status_name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def main():
    target, mode = sys.argv[1], sys.argv[2]
    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(target))
    if mode == "check":
        for service in sys.argv[3:]:
            request = health_pb2.HealthCheckRequest(service=service)
            try:
                reply = stub.Check(request, timeout=60)
                print("CHECK", repr(service), status_name(reply.status), flush=True)
            except grpc.RpcError as error:
                print("CHECK", repr(service), error.code().name, flush=True)
    elif mode == "watch":
        request = health_pb2.HealthCheckRequest(service=sys.argv[3])
        try:
            for reply in stub.Watch(request, timeout=300):
                print("STATUS", status_name(reply.status), flush=True)
            print("END OK", flush=True)
        except grpc.RpcError as error:
            print("END", error.code().name, error.details(), flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
