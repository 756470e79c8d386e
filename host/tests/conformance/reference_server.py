"""Reference upstream MCP server for the official conformance suite's server scenarios.

`@modelcontextprotocol/conformance` (pinned in host/tests/tools/install.sh) tests a *server* by
calling fixed names: tools such as `test_simple_text`, resources such as `test://static-text`,
prompts such as `test_prompt_with_arguments`, plus logging, completions, subscriptions, progress,
sampling and elicitation. The npm package ships no server that implements them, so this is the
project's own: it answers every server scenario of conformance 0.1.16, so that running the suite
against it directly and then through mcpproxy (as an upstream) shows what the proxy changes.

Built on the Python `mcp` 2.3.0 SDK (installed into host/tests/tools/.installed/venv):

    reference_server.py stdio          # MCP over stdin/stdout (how mcpproxy launches it)
    reference_server.py http PORT      # streamable HTTP on http://127.0.0.1:PORT/mcp

Over HTTP the server is stateful (session ids), keeps an in-memory event store so a stream closed
mid-call can be resumed with Last-Event-ID (`test_reconnection`, SEP-1699), and validates
Host/Origin against localhost (the SDK's DNS-rebinding protection, on for 127.0.0.1).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import struct
import sys
import warnings
import wave
import zlib
from typing import Any

import anyio
import mcp_types as t
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, UserMessage
from mcp.server.mcpserver.tools import Tool
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning

# Logging, sampling and roots are deprecated as of MCP 2026-07-28, but the suite tests the
# 2025-11-25 revision, where they are current. Keep stderr free of the SDK's warnings about it.
warnings.simplefilter("ignore", MCPDeprecationWarning)


# ---------------------------------------------------------------------------------------------
# Media the scenarios ask for: a 1x1 red PNG and a short silent WAV, built here at start-up.


def _png_1x1_red() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte 0, then one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _wav_silence() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)  # 0.1 s
    return buf.getvalue()


PNG = _png_1x1_red()
PNG_B64 = base64.b64encode(PNG).decode()
WAV_B64 = base64.b64encode(_wav_silence()).decode()


def text(s: str) -> t.TextContent:
    return t.TextContent(type="text", text=s)


def image() -> t.ImageContent:
    return t.ImageContent(type="image", data=PNG_B64, mime_type="image/png")


# ---------------------------------------------------------------------------------------------
# Per-connection state: the level set by logging/setLevel. The SDK keeps a scratch dict on each
# connection (`Connection.state`); ServerSession does not expose its connection publicly.

LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


def _connection_state(session: Any) -> dict[str, Any]:
    connection = getattr(session, "_connection", None)
    return connection.state if connection is not None else _FALLBACK_STATE


_FALLBACK_STATE: dict[str, Any] = {}


async def log(ctx: Context, level: str, message: str) -> None:
    """Send a notifications/message for the running request, if the client's level lets it through."""
    session = ctx.request_context.session
    threshold = _connection_state(session).get("log_level", "debug")
    if LEVELS.index(level) < LEVELS.index(threshold):
        return
    await session.send_log_message(
        level=level, data=message, logger="reference_server", related_request_id=ctx.request_context.request_id
    )


# ---------------------------------------------------------------------------------------------
# The server.

JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
    """Tool with JSON Schema 2020-12 features ($schema, $defs, additionalProperties)."""
    return f"Received name={name!r}, address={json.dumps(address)}"


def _json_schema_tool() -> Tool:
    tool = Tool.from_function(json_schema_2020_12_tool, structured_output=False)
    # The advertised schema is the suite's 2020-12 one, not the one derived from the signature.
    tool.parameters = JSON_SCHEMA_2020_12
    return tool


mcp = MCPServer(
    "mcpproxy-conformance-reference",
    version="1.0.0",
    instructions="Reference server for the MCP conformance suite's server scenarios.",
    tools=[_json_schema_tool()],
    log_level="WARNING",
)


# --- tools -----------------------------------------------------------------------------------


@mcp.tool(description="Returns one text block.", structured_output=False)
def test_simple_text() -> t.CallToolResult:
    return t.CallToolResult(content=[text("This is a simple text response for testing.")])


@mcp.tool(description="Returns a 1x1 red PNG image.", structured_output=False)
def test_image_content() -> t.CallToolResult:
    return t.CallToolResult(content=[image()])


@mcp.tool(description="Returns a short WAV audio clip.", structured_output=False)
def test_audio_content() -> t.CallToolResult:
    return t.CallToolResult(content=[t.AudioContent(type="audio", data=WAV_B64, mime_type="audio/wav")])


@mcp.tool(description="Returns an embedded text resource.", structured_output=False)
def test_embedded_resource() -> t.CallToolResult:
    resource = t.TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."
    )
    return t.CallToolResult(content=[t.EmbeddedResource(type="resource", resource=resource)])


@mcp.tool(description="Returns text, an image and an embedded resource.", structured_output=False)
def test_multiple_content_types() -> t.CallToolResult:
    resource = t.TextResourceContents(
        uri="test://mixed-content-resource", mime_type="application/json", text='{"test":"data","value":123}'
    )
    return t.CallToolResult(
        content=[text("Multiple content types test:"), image(), t.EmbeddedResource(type="resource", resource=resource)]
    )


@mcp.tool(description="Sends three info log notifications while it runs.", structured_output=False)
async def test_tool_with_logging(ctx: Context) -> t.CallToolResult:
    await log(ctx, "info", "Tool execution started")
    await anyio.sleep(0.05)
    await log(ctx, "info", "Tool processing data")
    await anyio.sleep(0.05)
    await log(ctx, "info", "Tool execution completed")
    return t.CallToolResult(content=[text("Tool with logging executed successfully")])


@mcp.tool(description="Always fails with isError: true.", structured_output=False)
def test_error_handling() -> t.CallToolResult:
    return t.CallToolResult(content=[text("This tool intentionally returns an error for testing")], is_error=True)


@mcp.tool(description="Reports progress 0, 50, 100 of 100 when given a progress token.", structured_output=False)
async def test_tool_with_progress(ctx: Context) -> t.CallToolResult:
    for step, progress in enumerate((0, 50, 100)):
        if step:
            await anyio.sleep(0.05)
        await ctx.report_progress(progress, 100, f"step {step + 1} of 3")
    return t.CallToolResult(content=[text("Tool with progress executed successfully")])


@mcp.tool(
    description="Closes its SSE stream mid-call (HTTP with an event store); the result arrives after the "
    "client reconnects with Last-Event-ID. Over stdio it simply answers.",
    structured_output=False,
)
async def test_reconnection(ctx: Context) -> t.CallToolResult:
    await anyio.sleep(0.1)
    await ctx.close_sse_stream()
    await anyio.sleep(0.5)
    return t.CallToolResult(
        content=[text("Reconnection test completed successfully. The result arrived after the stream closed.")]
    )


def _client_has(ctx: Context, capability: t.ClientCapabilities) -> bool:
    return ctx.request_context.session.check_client_capability(capability)


@mcp.tool(description="Asks the client to sample an LLM (sampling/createMessage) with the given prompt.",
          structured_output=False)
async def test_sampling(prompt: str, ctx: Context) -> t.CallToolResult:
    if not _client_has(ctx, t.ClientCapabilities(sampling=t.SamplingCapability())):
        return t.CallToolResult(content=[text("Client does not support sampling")], is_error=True)
    result = await ctx.request_context.session.create_message(
        messages=[t.SamplingMessage(role="user", content=text(prompt))],
        max_tokens=100,
        related_request_id=ctx.request_context.request_id,
    )
    content = result.content
    reply = content.text if isinstance(content, t.TextContent) else json.dumps(content.model_dump(mode="json"))
    return t.CallToolResult(content=[text(f"LLM response: {reply}")])


async def _elicit(ctx: Context, message: str, schema: dict[str, Any]) -> t.ElicitResult | t.CallToolResult:
    if not _client_has(ctx, t.ClientCapabilities(elicitation=t.ElicitationCapability())):
        return t.CallToolResult(content=[text("Client does not support elicitation")], is_error=True)
    return await ctx.request_context.session.elicit_form(
        message, requested_schema=schema, related_request_id=ctx.request_context.request_id
    )


@mcp.tool(description="Asks the user (elicitation/create) for a username and an email.", structured_output=False)
async def test_elicitation(message: str, ctx: Context) -> t.CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    result = await _elicit(ctx, message, schema)
    if isinstance(result, t.CallToolResult):
        return result
    return t.CallToolResult(
        content=[text(f"User response: action={result.action}, content={json.dumps(result.content or {})}")]
    )


@mcp.tool(description="Elicitation whose schema has a default for every primitive type (SEP-1034).",
          structured_output=False)
async def test_elicitation_sep1034_defaults(ctx: Context) -> t.CallToolResult:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Your name", "default": "John Doe"},
            "age": {"type": "integer", "description": "Your age", "default": 30},
            "score": {"type": "number", "description": "Your score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "Account status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verified?", "default": True},
        },
    }
    result = await _elicit(ctx, "Please review these values (all have defaults)", schema)
    if isinstance(result, t.CallToolResult):
        return result
    return t.CallToolResult(
        content=[text(f"Elicitation completed: action={result.action}, content={json.dumps(result.content or {})}")]
    )


@mcp.tool(description="Elicitation whose schema uses all five enum forms (SEP-1330).", structured_output=False)
async def test_elicitation_sep1330_enums(ctx: Context) -> t.CallToolResult:
    def titled(prefix: str, titles: list[str]) -> list[dict[str, str]]:
        return [{"const": f"{prefix}{i}", "title": title} for i, title in enumerate(titles, 1)]

    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": titled("value", ["First Option", "Second Option", "Third Option"]),
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {
                "type": "array",
                "items": {"anyOf": titled("value", ["First Choice", "Second Choice", "Third Choice"])},
            },
        },
    }
    result = await _elicit(ctx, "Pick from each kind of enum", schema)
    if isinstance(result, t.CallToolResult):
        return result
    return t.CallToolResult(
        content=[text(f"Elicitation completed: action={result.action}, content={json.dumps(result.content or {})}")]
    )


# --- resources -------------------------------------------------------------------------------


@mcp.resource("test://static-text", name="static-text", description="A static text resource.", mime_type="text/plain")
def static_text() -> str:
    return "This is the content of the static text resource."


@mcp.resource(
    "test://static-binary", name="static-binary", description="A static binary resource (1x1 PNG).",
    mime_type="image/png",
)
def static_binary() -> bytes:
    return PNG


@mcp.resource(
    "test://template/{id}/data", name="template-data", description="Data for the given id.",
    mime_type="application/json",
)
def template_data(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@mcp.resource(
    "test://watched-resource", name="watched-resource", description="A resource clients may subscribe to.",
    mime_type="text/plain",
)
def watched_resource() -> str:
    return "Watched resource content."


# --- prompts ---------------------------------------------------------------------------------


@mcp.prompt(description="A prompt without arguments.")
def test_simple_prompt() -> list[UserMessage]:
    return [UserMessage(text("This is a simple prompt for testing."))]


@mcp.prompt(description="A prompt with two required arguments.")
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    return [UserMessage(text(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@mcp.prompt(description="A prompt that embeds the resource named by resourceUri.")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803 (the suite's name)
    resource = t.TextResourceContents(uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing.")
    return [
        UserMessage(t.EmbeddedResource(type="resource", resource=resource)),
        UserMessage(text("Please process the embedded resource above.")),
    ]


@mcp.prompt(description="A prompt with an image.")
def test_prompt_with_image() -> list[UserMessage]:
    return [UserMessage(image()), UserMessage(text("Please analyze the image above."))]


# --- completions -----------------------------------------------------------------------------

COMPLETIONS = {
    ("ref/prompt", "test_prompt_with_arguments", "arg1"): ["paris", "park", "party", "test", "testValue1"],
    ("ref/prompt", "test_prompt_with_arguments", "arg2"): ["world", "wonder", "testValue2"],
    ("ref/resource", "test://template/{id}/data", "id"): ["1", "2", "3", "123"],
}


@mcp.completion()
async def complete(ref: Any, argument: t.CompletionArgument, context: Any) -> t.Completion:
    key = getattr(ref, "name", None) if ref.type == "ref/prompt" else getattr(ref, "uri", None)
    candidates = COMPLETIONS.get((ref.type, key, argument.name), [])
    values = [v for v in candidates if v.startswith(argument.value)]
    return t.Completion(values=values, total=len(values), has_more=False)


# --- logging/setLevel and resources/(un)subscribe (no MCPServer decorator; low-level handlers) --


async def set_level(ctx: ServerRequestContext, params: t.SetLevelRequestParams) -> t.EmptyResult:
    _connection_state(ctx.session)["log_level"] = params.level
    return t.EmptyResult()


async def subscribe(ctx: ServerRequestContext, params: t.SubscribeRequestParams) -> t.EmptyResult:
    _connection_state(ctx.session).setdefault("subscriptions", set()).add(str(params.uri))
    return t.EmptyResult()


async def unsubscribe(ctx: ServerRequestContext, params: t.UnsubscribeRequestParams) -> t.EmptyResult:
    _connection_state(ctx.session).setdefault("subscriptions", set()).discard(str(params.uri))
    return t.EmptyResult()


_lowlevel = mcp._lowlevel_server  # MCPServer has no public hook for these three methods
_lowlevel.add_request_handler("logging/setLevel", t.SetLevelRequestParams, set_level)
_lowlevel.add_request_handler("resources/subscribe", t.SubscribeRequestParams, subscribe)
_lowlevel.add_request_handler("resources/unsubscribe", t.UnsubscribeRequestParams, unsubscribe)


# ---------------------------------------------------------------------------------------------
# HTTP resumability: an in-memory event store (the SDK defines the interface only).


class MemoryEventStore(EventStore):
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._events: list[tuple[EventId, StreamId, t.JSONRPCMessage | None]] = []

    async def store_event(self, stream_id: StreamId, message: t.JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events.append((event_id, stream_id, message))
        del self._events[:-10_000]  # bounded: a test fixture, not a log
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        index = next((i for i, (eid, _, _) in enumerate(self._events) if eid == last_event_id), None)
        if index is None:
            return None
        stream_id = self._events[index][1]
        for event_id, sid, message in self._events[index + 1 :]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


def main(argv: list[str]) -> int:
    if argv[1:] == ["stdio"]:
        mcp.run("stdio")
        return 0
    if len(argv) == 3 and argv[1] == "http" and argv[2].isdigit():
        mcp.run(
            "streamable-http",
            host="127.0.0.1",
            port=int(argv[2]),
            streamable_http_path="/mcp",
            event_store=MemoryEventStore(),
            retry_interval=500,
        )
        return 0
    print(f"usage: {argv[0]} stdio | http PORT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
