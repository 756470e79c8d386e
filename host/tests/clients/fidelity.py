"""The fidelity client: one real MCP client (the Python `mcp` SDK) that uses every feature of
`@modelcontextprotocol/server-everything` and prints what it saw as one JSON document, so a
test can compare talking to the server directly with talking to it through mcpproxy.

Usage: fidelity.py [--prefix P] [--bare] stdio COMMAND [ARG...]
       fidelity.py [--prefix P] [--bare] http URL

--prefix: how the target names the server's tools and prompts (`everything__` at /mcp/all);
          names are printed without it.
--bare:   a client without sampling, elicitation or roots: calls the tools that need them
          and prints what came back.

Every observation is recorded, including errors ({"error": {"code", "message", "data"}}),
so that a difference shows up as a difference rather than as a crash.
"""
import asyncio
import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError as McpError

WAIT = 20  # seconds for a notification that should come within a few


def dump(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def error(e):
    if isinstance(e, McpError):
        data = e.error
        return {"error": {"code": data.code, "message": data.message, "data": data.data}}
    return {"error": {"code": None, "message": f"{type(e).__name__}: {e}", "data": None}}


async def attempt(coroutine):
    try:
        return dump(await coroutine)
    except Exception as e:  # noqa: BLE001 - every failure is an observation
        return error(e)


class Observer:
    def __init__(self, prefix):
        self.prefix = prefix
        self.elicitations = []
        self.samplings = []
        self.logs = []
        self.log_seen = anyio.Event()
        self.updates = []
        self.update_seen = anyio.Event()
        self.root_list = [types.Root(uri="file:///tmp/fidelity", name="fidelity")]
        self.roots_asked = anyio.Event()

    def strip(self, name):
        return name[len(self.prefix):] if self.prefix and name.startswith(self.prefix) else name

    def named(self, name):
        return self.prefix + name

    async def sampling(self, context, params):
        self.samplings.append(dump(params))
        text = params.messages[-1].content.text if params.messages else ""
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"sampled: {text}"),
            model="fidelity-model",
            stop_reason="endTurn",
        )

    async def elicitation(self, context, params):
        self.elicitations.append(dump(params))
        if getattr(params, "mode", None) == "url":
            return types.ElicitResult(action="accept")
        return types.ElicitResult(
            action="accept",
            content={"name": "Ada Lovelace", "check": True, "email": "ada@example.com", "integer": 7},
        )

    async def roots(self, context):
        self.roots_asked.set()
        return types.ListRootsResult(roots=self.root_list)

    async def logging(self, params):
        self.logs.append(dump(params))
        self.log_seen.set()

    async def messages(self, message):
        if isinstance(message, types.ServerNotification):
            root = getattr(message, "root", message)
            if isinstance(root, types.ResourceUpdatedNotification):
                self.updates.append(root.params.uri)
                self.update_seen.set()


async def wait(event):
    with anyio.move_on_after(WAIT):
        await event.wait()
        return True
    return False


async def observe(session, o, bare):
    out = {}
    init = await session.initialize()
    caps = dump(init.capabilities)
    out["capabilities"] = sorted(k for k in ("tools", "resources", "prompts", "completions", "logging") if k in caps)
    out["resources_subscribe"] = caps.get("resources", {}).get("subscribe")
    out["instructions"] = init.instructions

    tools = []
    cursor = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    out["tools"] = {o.strip(t.name): {k: v for k, v in dump(t).items() if k != "name"} for t in tools}

    if bare:
        for tool, args in [
            ("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5}),
            ("trigger-elicitation-request", {}),
            ("get-roots-list", {}),
        ]:
            out[tool] = await attempt(session.call_tool(o.named(tool), args))
        return out

    resources = await session.list_resources()
    out["resources"] = [dump(r) for r in resources.resources]
    out["templates"] = [dump(t) for t in (await session.list_resource_templates()).resource_templates]
    first = resources.resources[0].uri if resources.resources else None
    out["read_listed"] = await attempt(session.read_resource(first)) if first else None
    out["read_template"] = await attempt(session.read_resource("demo://resource/dynamic/text/1"))
    out["read_missing"] = await attempt(session.read_resource("demo://resource/dynamic/nothing/zz"))

    out["prompts"] = {o.strip(p.name): {k: v for k, v in dump(p).items() if k != "name"} for p in (await session.list_prompts()).prompts}
    out["get_simple"] = await attempt(session.get_prompt(o.named("simple-prompt")))
    out["get_args"] = await attempt(session.get_prompt(o.named("args-prompt"), {"city": "Paris", "state": "IDF"}))
    out["complete_prompt"] = await attempt(session.complete(
        types.PromptReference(type="ref/prompt", name=o.named("completable-prompt")),
        {"name": "department", "value": "E"},
    ))
    out["complete_template"] = await attempt(session.complete(
        types.ResourceTemplateReference(type="ref/resource", uri="demo://resource/dynamic/text/{resourceId}"),
        {"name": "resourceId", "value": "1"},
    ))

    out["echo"] = await attempt(session.call_tool(o.named("echo"), {"message": "fidelity"}))
    out["bad_arguments"] = await attempt(session.call_tool(o.named("get-sum"), {"a": "not a number"}))
    out["annotated"] = await attempt(session.call_tool(o.named("get-annotated-message"), {"messageType": "error", "includeImage": True}))
    out["structured"] = await attempt(session.call_tool(o.named("get-structured-content"), {"location": "New York"}))
    out["resource_links"] = await attempt(session.call_tool(o.named("get-resource-links"), {"count": 2}))

    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "total": total, "message": message})

    out["long_running"] = await attempt(session.call_tool(
        o.named("trigger-long-running-operation"), {"duration": 1, "steps": 4}, progress_callback=on_progress,
    ))
    out["progress"] = progress

    out["sampling"] = await attempt(session.call_tool(o.named("trigger-sampling-request"), {"prompt": "hello", "maxTokens": 20}))
    out["sampling_seen"] = o.samplings
    out["elicitation"] = await attempt(session.call_tool(o.named("trigger-elicitation-request"), {}))
    out["elicitation_seen"] = o.elicitations[:]
    out["url_elicitation_error"] = await attempt(session.call_tool(
        o.named("trigger-url-elicitation"), {"url": "https://example.com/consent", "errorPath": True, "elicitationId": "fid-1"},
    ))
    out["roots"] = await attempt(session.call_tool(o.named("get-roots-list"), {}))
    # New roots: the server asks for them outside any call, and shows them next time.
    o.root_list = [types.Root(uri="file:///tmp/fidelity-2", name="fidelity-2")]
    o.roots_asked = anyio.Event()
    await session.send_roots_list_changed()
    out["roots_asked_after_change"] = await wait(o.roots_asked)
    # The client's answer and its next call may travel apart (two HTTP POSTs): poll, with a
    # deadline, until the server shows the roots it was given.
    with anyio.move_on_after(WAIT):
        while True:
            out["roots_after_change"] = await attempt(session.call_tool(o.named("get-roots-list"), {}))
            if "fidelity-2" in json.dumps(out["roots_after_change"]):
                break
            await anyio.sleep(0.05)

    out["set_level"] = await attempt(session.set_logging_level("debug"))
    out["toggle_logging"] = await attempt(session.call_tool(o.named("toggle-simulated-logging"), {}))
    out["log_arrived"] = await wait(o.log_seen)
    out["log_loggers"] = sorted({entry.get("logger") for entry in o.logs if entry.get("logger")})
    await attempt(session.call_tool(o.named("toggle-simulated-logging"), {}))

    subscribed = first or "demo://resource/static/document/architecture.md"
    out["subscribe"] = await attempt(session.subscribe_resource(subscribed))
    out["toggle_updates"] = await attempt(session.call_tool(o.named("toggle-subscriber-updates"), {}))
    out["update_arrived"] = await wait(o.update_seen)
    out["updated_uris"] = sorted(set(o.updates))
    out["subscribed_uri"] = subscribed
    await attempt(session.call_tool(o.named("toggle-subscriber-updates"), {}))
    out["unsubscribe"] = await attempt(session.unsubscribe_resource(subscribed))
    return out


async def main(argv):
    prefix = ""
    bare = False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--prefix":
            prefix, argv = argv[1], argv[2:]
        elif argv[0] == "--bare":
            bare, argv = True, argv[1:]
        else:
            raise SystemExit(f"unknown option {argv[0]}")
    o = Observer(prefix)
    callbacks = {} if bare else {
        "sampling_callback": o.sampling,
        "elicitation_callback": o.elicitation,
        "list_roots_callback": o.roots,
    }
    callbacks["logging_callback"] = o.logging
    callbacks["message_handler"] = o.messages
    if argv[0] == "http":
        async with streamable_http_client(argv[1]) as streams:
            async with ClientSession(streams[0], streams[1], **callbacks) as session:
                out = await observe(session, o, bare)
    else:
        command = argv[1:]
        params = StdioServerParameters(command=command[0], args=command[1:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, **callbacks) as session:
                out = await observe(session, o, bare)
    print(json.dumps(out, sort_keys=True))


asyncio.run(main(sys.argv[1:]))
