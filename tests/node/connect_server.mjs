// Connect for Node (@connectrpc/connect-node) as a server for our client:
// rustgrpc.testing.TestService, taken from an encoded FileDescriptorSet
// (no code generation), served over HTTP/1.1 and over HTTP/2 (h2c) on two
// ports. connect-node answers Connect, gRPC-Web and gRPC on each.
//
//   node connect_server.mjs DESCRIPTOR_SET
//
// Prints "ports HTTP1_PORT HTTP2_PORT" once both listen; runs until stdin
// closes (so it ends with the test that started it). The servicer
// follows the same EchoRequest conventions as the Rust test servicer.
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(process.argv[2])),
);
const service = registry.getService("rustgrpc.testing.TestService");

/// Reads a protobuf varint at `at`; returns [value, next].
function varint(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
    shift += 7;
  }
}

/// The length-delimited fields of a message, as [tag, bytes] pairs.
function fields(bytes) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    let key;
    [key, at] = varint(bytes, at);
    if ((key & 7) === 2) {
      let len;
      [len, at] = varint(bytes, at);
      out.push([key >> 3, bytes.subarray(at, at + len)]);
      at += len;
    } else {
      [, at] = varint(bytes, at);
    }
  }
  return out;
}

/// The google.rpc.Status `details` of the request as Connect error details.
function details(status) {
  const decoder = new TextDecoder();
  return fields(status)
    .filter(([tag]) => tag === 3)
    .map(([, any]) => {
      const parts = Object.fromEntries(fields(any));
      return { type: decoder.decode(parts[1]).split("/").pop(), value: parts[2] };
    });
}

function header(entry) {
  return entry.key.endsWith("-bin")
    ? Buffer.from(entry.value).toString("base64")
    : new TextDecoder().decode(entry.value);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/// Metadata, sleep and failure, as the request asks; the response.
async function handle(req, ctx) {
  for (const entry of req.initialMetadata) ctx.responseHeader.append(entry.key, header(entry));
  for (const entry of req.trailingMetadata) ctx.responseTrailer.append(entry.key, header(entry));
  if (req.sleepMs) await sleep(req.sleepMs, ctx.signal);
  if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.DeadlineExceeded);
  if (req.failCode) {
    const error = new ConnectError(req.failMessage, req.failCode);
    error.details = details(req.failBinaryDetails);
    throw error;
  }
  const invocationMetadata = [];
  ctx.requestHeader.forEach((value, key) => {
    const bytes = key.endsWith("-bin") ? Buffer.from(value, "base64") : Buffer.from(value);
    invocationMetadata.push({ key, value: new Uint8Array(bytes) });
  });
  const remaining = ctx.timeoutMs();
  return {
    message: req.message,
    payload: new Uint8Array(req.responseSize).fill(0x72),
    hasDeadline: remaining !== undefined,
    timeRemainingMs: BigInt(Math.max(0, Math.floor(remaining ?? 0))),
    invocationMetadata,
    protocol: ctx.protocolName,
  };
}

function routes(router) {
  router.service(service, {
    async unaryCall(req, ctx) {
      return handle(req, ctx);
    },
    async *streamingOutputCall(req, ctx) {
      const response = await handle(req, ctx);
      for (let index = 0; index < req.responseCount; index++) {
        yield { ...response, index };
      }
    },
    async streamingInputCall(requests, ctx) {
      const messages = [];
      let totalBytes = 0;
      for await (const req of requests) {
        messages.push(req.message);
        totalBytes += req.payload.length;
      }
      return {
        message: messages.join(","),
        requestCount: messages.length,
        totalBytes: BigInt(totalBytes),
        protocol: ctx.protocolName,
      };
    },
    async *fullDuplexCall(requests, ctx) {
      for await (const req of requests) {
        yield { message: req.message, protocol: ctx.protocolName };
      }
    },
    async unimplementedCall() {
      throw new ConnectError("not here", Code.Unimplemented);
    },
  });
}

const adapter = connectNodeAdapter({ routes });
const h1 = http.createServer(adapter);
const h2 = http2.createServer(adapter);
await Promise.all([
  new Promise((resolve) => h1.listen(0, "127.0.0.1", resolve)),
  new Promise((resolve) => h2.listen(0, "127.0.0.1", resolve)),
]);
console.log(`ports ${h1.address().port} ${h2.address().port}`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
