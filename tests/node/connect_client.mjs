// Connect for Node (@connectrpc/connect-node) as a client of a rustgrpc
// server, with the service taken from an encoded FileDescriptorSet (no
// code generation):
//
//   node connect_client.mjs PORT DESCRIPTOR_SET TRANSPORT HTTP_VERSION
//
// TRANSPORT: connect | connect-json | grpc-web | grpc; HTTP_VERSION: 1.1 | 2.
// Prints "ok NAME" or "FAIL NAME: why" per case; exits 1 if any failed.
import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [port, descriptorSet, kind, httpVersion] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSet)),
);
const service = registry.getService("rustgrpc.testing.TestService");
const options = { baseUrl: `http://127.0.0.1:${port}`, httpVersion };
const transport = {
  connect: () => createConnectTransport({ ...options, useBinaryFormat: true }),
  "connect-json": () => createConnectTransport({ ...options, useBinaryFormat: false }),
  "grpc-web": () => createGrpcWebTransport({ ...options, useBinaryFormat: true }),
  grpc: () => createGrpcTransport({ ...options, httpVersion: "2" }),
}[kind]();
const client = createClient(service, transport);

function assert(condition, what) {
  if (!condition) throw new Error(`assertion failed: ${what}`);
}

// google.rpc.Status{code: 5, message: "gone", details: [Any(StringValue "more")]}
function statusDetails() {
  const enc = new TextEncoder();
  const typeUrl = enc.encode("type.googleapis.com/google.protobuf.StringValue");
  const value = [0x0a, 4, ...enc.encode("more")];
  const any = [0x0a, typeUrl.length, ...typeUrl, 0x12, value.length, ...value];
  return new Uint8Array([0x08, 5, 0x12, 4, ...enc.encode("gone"), 0x1a, any.length, ...any]);
}

async function* requests(...messages) {
  for (const message of messages) yield { message };
}

const cases = {
  async unary() {
    const reply = await client.unaryCall({ message: "hi" }, { headers: { "x-custom": "node" } });
    assert(reply.message === "hi", reply.message);
    assert(reply.invocationMetadata.some((e) => e.key === "x-custom"), "metadata");
  },
  async serverStream() {
    const indexes = [];
    for await (const reply of client.streamingOutputCall({ message: "s", responseCount: 3 })) {
      indexes.push(reply.index);
    }
    assert(indexes.join() === "0,1,2", indexes.join());
  },
  async errorWithDetails() {
    try {
      await client.unaryCall({
        message: "x",
        failCode: 5,
        failMessage: "gone",
        failBinaryDetails: statusDetails(),
        failMode: 2,
      });
    } catch (error) {
      const err = ConnectError.from(error);
      assert(err.code === Code.NotFound, `code ${err.code}`);
      assert(err.rawMessage === "gone", err.rawMessage);
      if (kind !== "grpc-web" && kind !== "grpc") {
        assert(err.details.length === 1, `details ${err.details.length}`);
        assert(err.details[0].type === "google.protobuf.StringValue", err.details[0].type);
      }
      return;
    }
    throw new Error("no error");
  },
  async timeout() {
    try {
      await client.unaryCall({ message: "slow", sleepMs: 30000 }, { timeoutMs: 200 });
    } catch (error) {
      assert(ConnectError.from(error).code === Code.DeadlineExceeded, String(error));
      return;
    }
    throw new Error("no timeout");
  },
};
if (httpVersion === "2") {
  cases.clientStream = async () => {
    const reply = await client.streamingInputCall(requests("a", "b", "c"));
    assert(reply.message === "a,b,c", reply.message);
  };
  cases.bidi = async () => {
    const got = [];
    for await (const reply of client.fullDuplexCall(requests("p", "q", "r"))) {
      got.push(reply.message);
    }
    assert(got.join() === "p,q,r", got.join());
  };
}

let ok = true;
for (const [name, run] of Object.entries(cases)) {
  try {
    await run();
    console.log(`ok ${name}`);
  } catch (error) {
    ok = false;
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}
process.exit(ok ? 0 : 1);
