"""grpcio over TLS, as the peer of tests/tests/tls (no generated code).

  tls_peer.py server --key K --cert C [--ca CA] [--require]
      Serves /tls.Test/Whoami with ssl_server_credentials; prints
      "listening on port N"; stops when stdin closes. The reply describes the
      caller, one key=value per line, as a protobuf string (field 1).
  tls_peer.py client --target HOST:PORT --ca CA --override NAME
                     [--key K --cert C] [--token T]
      Calls /tls.Test/Whoami over secure_channel; prints "OK" and the reply,
      or "ERR CODE details".
"""

import argparse
import sys
from concurrent import futures

import grpc


def read(path):
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def encode_string(text):
    data = text.encode()
    length = len(data)
    prefix = bytearray(b"\n")
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            prefix.append(byte | 0x80)
        else:
            prefix.append(byte)
            break
    return bytes(prefix) + data


def decode_string(message):
    if not message:
        return ""
    position, length, shift = 1, 0, 0
    while True:
        byte = message[position]
        position += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return message[position : position + length].decode()


def whoami(request, context):
    auth = context.auth_context()
    ids = context.peer_identities() or []
    metadata = dict(context.invocation_metadata())
    lines = [
        "security=" + b",".join(auth.get("transport_security_type", [])).decode(),
        "key=" + (context.peer_identity_key() or ""),
        "ids=" + b",".join(ids).decode(),
        "authorization=" + metadata.get("authorization", ""),
    ]
    return encode_string("\n".join(lines))


def serve(args):
    handler = grpc.method_handlers_generic_handler(
        "tls.Test", {"Whoami": grpc.unary_unary_rpc_method_handler(whoami)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(read(args.key), read(args.cert))],
        root_certificates=read(args.ca),
        require_client_auth=args.require,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    print("listening on port %d" % port, flush=True)
    sys.stdin.read()
    server.stop(None)


def call(args):
    credentials = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    if args.token:
        credentials = grpc.composite_channel_credentials(
            credentials, grpc.access_token_call_credentials(args.token)
        )
    options = [("grpc.ssl_target_name_override", args.override)]
    with grpc.secure_channel(args.target, credentials, options=options) as channel:
        method = channel.unary_unary("/tls.Test/Whoami")
        try:
            reply = method(b"", timeout=20)
        except grpc.RpcError as error:
            print("ERR %s %s" % (error.code().name, error.details()), flush=True)
            return
        print("OK", flush=True)
        print(decode_string(reply), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--key")
    parser.add_argument("--cert")
    parser.add_argument("--ca")
    parser.add_argument("--require", action="store_true")
    parser.add_argument("--target")
    parser.add_argument("--override")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.mode == "server":
        serve(args)
    else:
        call(args)


if __name__ == "__main__":
    main()
