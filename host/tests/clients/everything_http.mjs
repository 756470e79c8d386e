// server-everything behind a streamable-HTTP endpoint that answers every request with a plain
// JSON body (the TypeScript SDK's `enableJsonResponse`), as some servers do, rather than with
// an event stream (`--stream`: with event streams, the SDK's default). Listens on 127.0.0.1 at
// a free port, which it prints; serves until killed.
//
// Usage: node everything_http.mjs [--stream]
// MCP_SDK: the SDK's `dist/esm` folder; EVERYTHING: server-everything's `dist` folder.

import http from "node:http";
import { randomUUID } from "node:crypto";

const { createServer } = await import(`${process.env.EVERYTHING}/server/index.js`);
const { StreamableHTTPServerTransport } = await import(
  `${process.env.MCP_SDK}/server/streamableHttp.js`
);

const sessions = new Map();
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
  const id = req.headers["mcp-session-id"];
  let transport = id && sessions.get(id);
  if (!transport) {
    if (id) {
      res.writeHead(404).end();
      return;
    }
    const { server: everything } = createServer();
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: !process.argv.includes("--stream"),
      onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
    });
    await everything.connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
