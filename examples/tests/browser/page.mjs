// The browser test's page script (bundled by examples/tests/browser.rs with
// esbuild): connect-web's Connect (JSON and protobuf) and gRPC-Web
// transports call the greeter example server on another origin, unary and
// server streaming. The service comes from the descriptors the page's own
// origin serves, so no code generation is needed. The outcome goes to
// <pre id="result"> (the title becomes PASS or FAIL) and is posted back to
// the page's origin (/result), where the test reads it.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const server = new URLSearchParams(location.search).get("server");
const result = document.getElementById("result");

async function run() {
  const bytes = new Uint8Array(await (await fetch("/helloworld.fds")).arrayBuffer());
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  const service = registry.getService("helloworld.Greeter");
  const transports = {
    "connect-json": createConnectTransport({ baseUrl: server }),
    "connect-proto": createConnectTransport({ baseUrl: server, useBinaryFormat: true }),
    "grpc-web": createGrpcWebTransport({ baseUrl: server }),
  };
  const lines = [];
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(service, transport);
    const reply = await client.sayHello({ name: "browser" });
    lines.push(`${name} unary: ${reply.message}`);
    const streamed = [];
    for await (const reply of client.sayHelloStreamReply({ name: "browser" })) {
      streamed.push(reply.message);
    }
    lines.push(`${name} stream: ${streamed.join(" | ")}`);
  }
  result.textContent = lines.join("\n");
  document.title = "PASS";
}

run()
  .catch((error) => {
    result.textContent = `error: ${error?.stack ?? error}`;
    document.title = "FAIL";
  })
  .finally(() =>
    fetch("/result", { method: "POST", body: `${document.title}\n${result.textContent}` }),
  );
