"""grpcio's client retries against the Rust channel tests' backend: makes
one `/demo.Lb/Who` call per plan item, with the service config given,
and prints each call's final status.

    retry_client.py TARGET SERVICE_CONFIG_JSON PLAN

PLAN is `id:K,id:K,...`: the call `id` asks the backend to fail its first
K attempts (`fail-first` metadata; K = -1: every attempt).
Prints `RESULT <id> <code name>` per call.
"""

import sys

import grpc


def main():
    target, config, plan = sys.argv[1], sys.argv[2], sys.argv[3]
    channel = grpc.insecure_channel(
        target,
        options=[("grpc.service_config", config), ("grpc.enable_retries", 1)],
    )
    who = channel.unary_unary("/demo.Lb/Who")
    for item in plan.split(","):
        call_id, fail_first = item.split(":")
        try:
            who(b"", timeout=30,
                metadata=[("call-id", call_id), ("fail-first", fail_first)])
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        print("RESULT", call_id, code, flush=True)
    channel.close()


if __name__ == "__main__":
    main()
