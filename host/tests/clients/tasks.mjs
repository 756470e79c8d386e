// A 2025-11-25 client of tasks (SEP-1686): the TypeScript SDK's, against
// server-everything's `simulate-research-query` (a tool that runs only as a task), directly
// or through mcpproxy. Prints one JSON record of what it saw, for `tests/it/fidelity.rs`
// to compare.
//
// Usage: node tasks.mjs [--prefix P] stdio COMMAND [ARG...]
//        node tasks.mjs [--prefix P] http URL
//        node tasks.mjs [--prefix P] sse URL      (the legacy HTTP+SSE transport)
// MCP_SDK: the SDK's `dist/esm` folder (the test tools' install has it).

const argv = process.argv.slice(2);
let prefix = "";
if (argv[0] === "--prefix") {
  prefix = argv[1];
  argv.splice(0, 2);
}
const [mode, target, ...args] = argv;
const sdk = process.env.MCP_SDK;
const { Client } = await import(`${sdk}/client/index.js`);
const { StdioClientTransport } = await import(`${sdk}/client/stdio.js`);
const { StreamableHTTPClientTransport } = await import(`${sdk}/client/streamableHttp.js`);
const { SSEClientTransport } = await import(`${sdk}/client/sse.js`);
const types = await import(`${sdk}/types.js`);

const transport =
  mode === "stdio"
    ? new StdioClientTransport({ command: target, args, env: process.env, stderr: "ignore" })
    : mode === "sse"
      ? new SSEClientTransport(new URL(target))
      : new StreamableHTTPClientTransport(new URL(target));
const client = new Client({ name: "tasks-fidelity", version: "1.0.0" }, { capabilities: {} });
const notified = [];
client.setNotificationHandler(types.TaskStatusNotificationSchema, (n) => {
  notified.push(n.params);
});
await client.connect(transport);

const name = `${prefix}simulate-research-query`;
const out = {};
const serverTasks = client.getServerCapabilities()?.tasks;
out.capability = serverTasks ?? null;
const { tools } = await client.listTools();
const tool = tools.find((t) => t.name === name);
out.tool = tool ? { ...tool, name: tool.name.slice(prefix.length) } : null;

// Without an explicit `task`: the SDK adds one because the tool list says the tool needs it.
const seen = [];
let created = null;
let result = null;
for await (const message of client.experimental.tasks.callToolStream({
  name,
  arguments: { topic: "proxies" },
})) {
  if (message.type === "taskCreated") {
    created = message.task;
    seen.push(`created:${message.task.status}`);
  } else if (message.type === "taskStatus") {
    seen.push(`status:${message.task.status}`);
  } else if (message.type === "result") {
    result = message.result;
    seen.push("result");
  } else {
    seen.push(`error:${message.error?.code}:${message.error?.message}`);
  }
}
out.stream = seen.filter((s, i) => s !== seen[i - 1]);
// The result names its task by the id this client knows (a server's random one directly).
const related = result?._meta?.["io.modelcontextprotocol/related-task"];
out.relatedToCreated = related?.taskId === created?.taskId;
out.result = { ...result, _meta: undefined };
out.created = created && { status: created.status, ttl: created.ttl, pollInterval: created.pollInterval };

const got = await client.experimental.tasks.getTask(created.taskId);
out.get = {
  sameId: got.taskId === created.taskId,
  status: got.status,
  ttl: got.ttl,
  pollInterval: got.pollInterval,
  statusMessage: got.statusMessage ?? null,
};
const again = await client.experimental.tasks.getTaskResult(created.taskId, types.CallToolResultSchema);
out.resultAgain = {
  same: JSON.stringify(again.content) === JSON.stringify(result.content),
  relatedTask: again._meta?.["io.modelcontextprotocol/related-task"]?.taskId === created.taskId,
};

// A second task, cancelled while it works.
const second = await client.request(
  { method: "tools/call", params: { name, arguments: { topic: "cancel me" }, task: { ttl: 60000 } } },
  types.CreateTaskResultSchema,
);
const listed = await client.experimental.tasks.listTasks();
const ids = listed.tasks.map((t) => t.taskId);
out.list = {
  hasBoth: ids.includes(created.taskId) && ids.includes(second.task.taskId),
  statuses: listed.tasks
    .filter((t) => t.taskId === created.taskId || t.taskId === second.task.taskId)
    .map((t) => t.status)
    .sort(),
};
const cancelled = await client.experimental.tasks.cancelTask(second.task.taskId);
out.cancel = { status: cancelled.status, sameId: cancelled.taskId === second.task.taskId };
out.afterCancel = (await client.experimental.tasks.getTask(second.task.taskId)).status;

try {
  await client.experimental.tasks.getTask("no-such-task");
  out.unknown = "answered";
} catch (error) {
  out.unknown = error.code;
}

// The server announces each status of a task (the SDK's task store does); they name tasks by
// the ids this client knows.
out.notifiedKnownIds = notified.every(
  (t) => t.taskId === created.taskId || t.taskId === second.task.taskId,
);
const firstTask = notified.filter((t) => t.taskId === created.taskId);
out.notifiedStatuses = [...new Set(firstTask.map((t) => t.status))].sort();
await client.close();
console.log(JSON.stringify(out));
