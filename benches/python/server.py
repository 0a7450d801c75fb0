"""grpcio's server for the benchmark's unary rows (and idle memory).

Same handlers as the Rust servers: Unary echoes the request, ServerStream
sends `count` messages of `size` zero bytes, PingPong echoes each message.
The sync server with its default thread pool: what rustgrpc's users come
from. Prints `PORT n` once listening, serves until stdin closes.
"""

import argparse
import sys
import tempfile
from concurrent import futures

import grpc
from grpc_tools import protoc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--proto-dir", required=True)
    args = parser.parse_args()

    out = tempfile.mkdtemp(prefix="bench-py-")
    status = protoc.main(
        [
            "protoc",
            f"-I{args.proto_dir}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            "bench.proto",
        ]
    )
    if status != 0:
        sys.exit(f"protoc failed: {status}")
    sys.path.insert(0, out)
    import bench_pb2
    import bench_pb2_grpc

    class Bench(bench_pb2_grpc.BenchServicer):
        def Unary(self, request, context):
            return request

        def ServerStream(self, request, context):
            for _ in range(request.count):
                yield bench_pb2.Payload(body=bytes(request.size))

        def PingPong(self, request_iterator, context):
            for request in request_iterator:
                yield request

    server = grpc.server(futures.ThreadPoolExecutor())
    bench_pb2_grpc.add_BenchServicer_to_server(Bench(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.stop(None)


if __name__ == "__main__":
    main()
