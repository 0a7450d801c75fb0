"""A grpcio client that behaves like real long-lived traffic, for the
reliability tests: streams that only receive (grpcio sends BDP pings while
data arrives) and uploads whose request iterators have not ended yet.

Prints one line per result, `NAME VALUE...`, read by tests/tests/interop.
"""

import argparse
import sys
import threading
import time

import grpc

from interop_common import empty_pb2, messages_pb2, test_pb2_grpc


def receiving_streams(target, streams, messages, interval_ms):
    """Many server-streaming calls on one channel, each paced by the
    server; then a unary call on the same channel."""
    channel = grpc.insecure_channel(target)
    stub = test_pb2_grpc.TestServiceStub(channel)
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[
            messages_pb2.ResponseParameters(size=64, interval_us=interval_ms * 1000)
            for _ in range(messages)
        ]
    )
    received = [0] * streams
    errors = []

    def consume(index):
        try:
            for _ in stub.StreamingOutputCall(request, timeout=120):
                received[index] += 1
        except grpc.RpcError as error:
            errors.append(f"{error.code().name}: {error.details()}")

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    complete = sum(1 for count in received if count == messages)
    print(f"streams_complete {complete}", flush=True)
    for error in errors[:3]:
        print(f"stream_error {error}", flush=True)
    print(f"unary {unary(stub)}", flush=True)
    channel.close()


def stalled_uploads(target, streams):
    """Client-streaming calls whose request iterators block until told to
    end, then a unary call from another channel while they are open."""
    channel = grpc.insecure_channel(target)
    stub = test_pb2_grpc.TestServiceStub(channel)
    release = threading.Event()
    first_sent = threading.Semaphore(0)

    def requests():
        yield messages_pb2.StreamingInputCallRequest(
            payload=messages_pb2.Payload(body=b"x" * 10)
        )
        first_sent.release()
        release.wait()
        yield messages_pb2.StreamingInputCallRequest(
            payload=messages_pb2.Payload(body=b"y" * 5)
        )

    futures = [stub.StreamingInputCall.future(requests(), timeout=120) for _ in range(streams)]
    for _ in range(streams):
        first_sent.acquire()
    # Give the server time to hand every upload to a handler.
    time.sleep(0.5)
    other = grpc.insecure_channel(target)
    other_stub = test_pb2_grpc.TestServiceStub(other)
    started = time.monotonic()
    outcome = unary(other_stub)
    took_ms = (time.monotonic() - started) * 1000
    print(f"unary_while_stalled {outcome} {took_ms:.1f}", flush=True)
    release.set()
    complete = 0
    for future in futures:
        try:
            if future.result().aggregated_payload_size == 15:
                complete += 1
        except grpc.RpcError as error:
            print(f"upload_error {error.code().name}: {error.details()}", flush=True)
    print(f"uploads_complete {complete}", flush=True)
    other.close()
    channel.close()


def unary(stub):
    try:
        stub.EmptyCall(empty_pb2.Empty(), timeout=20)
        return "OK"
    except grpc.RpcError as error:
        return f"{error.code().name}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["receiving_streams", "stalled_uploads"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--interval_ms", type=int, default=300)
    args = parser.parse_args()
    if args.scenario == "receiving_streams":
        receiving_streams(args.target, args.streams, args.messages, args.interval_ms)
    else:
        stalled_uploads(args.target, args.streams)
    return 0


if __name__ == "__main__":
    sys.exit(main())
