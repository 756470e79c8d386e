"""Reference upstream MCP server for the official conformance suite's server scenarios.

`@modelcontextprotocol/conformance` (pinned in host/tests/tools/install.sh) tests a *server* by
calling fixed names: tools such as `test_simple_text`, resources such as `test://static-text`,
prompts such as `test_prompt_with_arguments`, plus logging, completions, subscriptions, progress,
sampling, elicitation and (2026-07-28) input-required results. The npm package ships no server
that implements them, so this is the project's own: it answers every scored server scenario of
conformance 0.2.0-alpha.12's requirement sets for MCP 2025-11-25 and 2026-07-28 (and the pending
ones; not the optional tasks extension), so that running the suite against it directly and then
through mcpproxy (as an upstream) shows what the proxy changes.

Built on the Python `mcp` 2.3.0 SDK (installed into host/tests/tools/.installed/venv):

    reference_server.py stdio [--legacy]          # MCP over stdin/stdout (how mcpproxy launches it)
    reference_server.py http PORT [--legacy]      # streamable HTTP on http://127.0.0.1:PORT/mcp

Both revisions are served on both transports, chosen per request by the SDK: an `initialize`
handshake opens a 2025-11-25 session, a request whose `_meta` names protocol version 2026-07-28
is served statelessly. Over HTTP a 2025-11-25 session has a session id, an in-memory event store
so a stream closed mid-call can be resumed with Last-Event-ID (`test_reconnection`, SEP-1699),
and Host/Origin are validated against localhost (the SDK's DNS-rebinding protection, on for
127.0.0.1). Tools that need the client's LLM, the user or its roots ask over the session for a
2025-11-25 client and answer a 2026-07-28 client with an InputRequiredResult (see `ask`).

--legacy makes it a server that knows the revisions up to 2025-11-25 only (an upstream of the
old era, for the proxy's translation between eras): it answers `server/discover`, and any other
2026-07-28 request that comes without a session, the way such a server does, with an error that
is not -32020/-32021/-32022, so a dual-era client falls back to `initialize`; then it serves the
2025-11-25 session as usual. Over stdio `server/discover` gets -32601 Method not found (any other
request before `initialize`, -32602); over HTTP a request without a session id gets HTTP 400
with -32600 "Bad Request: Missing session ID". How: the comment above `main`.
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
import pydantic_core
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, UserMessage
from mcp.server.mcpserver.tools import Tool
from mcp.server.runner import serve_loop
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, is_version_at_least

# Logging, sampling and roots are deprecated as of MCP 2026-07-28, but the suite also tests the
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

# The suite's fixture (SEP-1613, SEP-2106): $schema, $defs with $anchor, composition and conditional
# keywords must all survive tools/list.
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def json_schema_2020_12_tool(
    name: str | None = None,
    address: dict[str, Any] | None = None,
    contactMethod: str | None = None,  # noqa: N803 (the suite's name)
    phone: str | None = None,
    email: str | None = None,
) -> str:
    """Tool with JSON Schema 2020-12 features ($schema, $defs, allOf/anyOf, if/then/else, additionalProperties)."""
    contact = {"contactMethod": contactMethod, "phone": phone, "email": email}
    return f"Received name={name!r}, address={json.dumps(address)}, contact={json.dumps(contact)}"


def _json_schema_tool() -> Tool:
    tool = Tool.from_function(json_schema_2020_12_tool, structured_output=False)
    # The advertised schema is the suite's 2020-12 one, not the one derived from the signature.
    tool.parameters = JSON_SCHEMA_2020_12
    return tool


def _mcp_param_header_tool() -> Tool:
    tool = Tool.from_function(test_mcp_param_header, structured_output=False)
    # x-mcp-header (SEP-2243): a 2026-07-28 client also sends `region` as the Mcp-Param-Region
    # header; the SDK rejects a request whose header is missing, malformed or disagrees with the body.
    tool.parameters = {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
        "required": ["region"],
    }
    return tool


def test_mcp_param_header(region: str) -> str:
    """Echoes `region`, a parameter mirrored into the Mcp-Param-Region header (SEP-2243)."""
    return f"region={region}"


mcp = MCPServer(
    "mcpproxy-conformance-reference",
    version="1.0.0",
    instructions="Reference server for the MCP conformance suite's server scenarios.",
    tools=[_json_schema_tool(), _mcp_param_header_tool()],
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


# --- client input: sampling, elicitation, roots ----------------------------------------------
#
# Through 2025-11-25 a tool that needs the client's LLM, the user or the roots sends the client a
# request mid-call (sampling/createMessage, elicitation/create, roots/list). From 2026-07-28 a
# server cannot send requests (SEP-2322, "MRTR"): the handler returns an InputRequiredResult that
# names what it needs (`inputRequests`, keyed), and the client retries the same call with
# `inputResponses` under the same keys, echoing `requestState`. `ask` hides the difference, so
# each handler below serves both revisions, over both transports.
#
# MCPServer seals every outgoing `requestState` (AES-GCM under a per-process key, bound to the
# method, tool/prompt name and arguments: the SDK's RequestStateBoundary) and unseals the echo
# before the handler runs, so a handler only ever sees plaintext it minted; a tampered or
# replayed token is refused with -32602 before any handler runs.

MRTR_VERSION = "2026-07-28"

# What answers each kind of input request, and the client capability it needs.
ANSWER_TYPES: dict[str, tuple[type, ...]] = {
    "elicitation/create": (t.ElicitResult,),
    "sampling/createMessage": (t.CreateMessageResult, t.CreateMessageResultWithTools),
    "roots/list": (t.ListRootsResult,),
}
REQUIRED_CAPABILITY = {
    "elicitation/create": ("elicitation", t.ClientCapabilities(elicitation=t.ElicitationCapability())),
    "sampling/createMessage": ("sampling", t.ClientCapabilities(sampling=t.SamplingCapability())),
    "roots/list": ("roots", t.ClientCapabilities(roots=t.RootsCapability())),
}


def uses_mrtr(ctx: Context) -> bool:
    """True when this request's revision carries client input in InputRequiredResult."""
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, MRTR_VERSION)


def _client_has(ctx: Context, capability: t.ClientCapabilities) -> bool:
    # From the initialize handshake, or on 2026-07-28 from this request's _meta.
    return ctx.request_context.session.check_client_capability(capability)


async def ask(
    ctx: Context, requests: dict[str, t.InputRequest], state: str | None = None
) -> dict[str, Any] | t.InputRequiredResult:
    """The client's answers to `requests`, keyed alike, or the InputRequiredResult to return.

    On 2026-07-28 the answers come from the retry's `inputResponses`; they count only when every
    key is answered with the right result type and the echoed `requestState` is `state` (what this
    step minted). Otherwise all of `requests` are asked (again), with `state`: a first round, a
    missing, wrong or malformed answer, or answers meant for another step. Unknown extra keys are
    ignored. Before 2026-07-28 each request goes to the client over the session, in order.
    """
    for request in requests.values():
        name, capability = REQUIRED_CAPABILITY[request.method]
        if not _client_has(ctx, capability):
            # The SDK's own answer (mcpserver.resolve) to a request the client cannot serve.
            data = t.MissingRequiredClientCapabilityErrorData(required_capabilities=capability)
            raise MCPError(
                code=t.MISSING_REQUIRED_CLIENT_CAPABILITY,
                message=f"Client did not declare the {name} capability",
                data=data.model_dump(by_alias=True, mode="json", exclude_none=True),
            )
    if not uses_mrtr(ctx):
        session = ctx.request_context.session
        related = ServerMessageMetadata(related_request_id=ctx.request_context.request_id)
        return {
            key: await session.send_request(request, ANSWER_TYPES[request.method][0], metadata=related)
            for key, request in requests.items()
        }
    given = ctx.input_responses or {}
    answers = {k: given[k] for k, r in requests.items() if isinstance(given.get(k), ANSWER_TYPES[r.method])}
    if len(answers) == len(requests) and ctx.request_state == state:
        return answers
    return t.InputRequiredResult(input_requests=requests, request_state=state)


def elicit(message: str, properties: dict[str, Any], required: list[str] | None = None) -> t.ElicitRequest:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    return t.ElicitRequest(params=t.ElicitRequestFormParams(message=message, requested_schema=schema))


def sample(prompt: str, max_tokens: int) -> t.CreateMessageRequest:
    message = t.SamplingMessage(role="user", content=text(prompt))
    return t.CreateMessageRequest(params=t.CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def list_roots() -> t.ListRootsRequest:
    return t.ListRootsRequest(params=t.RequestParams())


def field(answer: t.ElicitResult, name: str) -> str:
    """One field of an elicitation answer, or the action when the user did not accept."""
    if answer.action != "accept":
        return f"({answer.action})"
    return str((answer.content or {}).get(name, ""))


def sampled_text(answer: t.CreateMessageResult | t.CreateMessageResultWithTools) -> str:
    content = answer.content
    if isinstance(content, t.TextContent):
        return content.text
    return json.dumps(pydantic_core.to_jsonable_python(content, by_alias=True))


def _elicitation_summary(prefix: str, answer: t.ElicitResult) -> t.CallToolResult:
    return t.CallToolResult(
        content=[text(f"{prefix}: action={answer.action}, content={json.dumps(answer.content or {})}")]
    )


# The 2025-11-25 scenarios' tools. A 2026-07-28 client gets the same questions as inputRequests
# (keys "sampling" / "elicitation"); the suite's 2026-07-28 set no longer calls them.


@mcp.tool(description="Asks the client to sample an LLM (sampling/createMessage) with the given prompt.",
          structured_output=False)
async def test_sampling(prompt: str, ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    if not _client_has(ctx, t.ClientCapabilities(sampling=t.SamplingCapability())):
        return t.CallToolResult(content=[text("Client does not support sampling")], is_error=True)
    answers = await ask(ctx, {"sampling": sample(prompt, 100)})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text(f"LLM response: {sampled_text(answers['sampling'])}")])


async def _elicit(
    ctx: Context, message: str, schema: dict[str, Any]
) -> t.ElicitResult | t.CallToolResult | t.InputRequiredResult:
    if not _client_has(ctx, t.ClientCapabilities(elicitation=t.ElicitationCapability())):
        return t.CallToolResult(content=[text("Client does not support elicitation")], is_error=True)
    request = t.ElicitRequest(params=t.ElicitRequestFormParams(message=message, requested_schema=schema))
    answers = await ask(ctx, {"elicitation": request})
    return answers if isinstance(answers, t.InputRequiredResult) else answers["elicitation"]


@mcp.tool(description="Asks the user (elicitation/create) for a username and an email.", structured_output=False)
async def test_elicitation(message: str, ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    result = await _elicit(ctx, message, schema)
    if not isinstance(result, t.ElicitResult):
        return result
    return _elicitation_summary("User response", result)


@mcp.tool(description="Elicitation whose schema has a default for every primitive type (SEP-1034).",
          structured_output=False)
async def test_elicitation_sep1034_defaults(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
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
    if not isinstance(result, t.ElicitResult):
        return result
    return _elicitation_summary("Elicitation completed", result)


@mcp.tool(description="Elicitation whose schema uses all five enum forms (SEP-1330).", structured_output=False)
async def test_elicitation_sep1330_enums(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
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
    if not isinstance(result, t.ElicitResult):
        return result
    return _elicitation_summary("Elicitation completed", result)


# The 2026-07-28 input-required-result-* scenarios' tools and prompt (names, keys and questions
# as the suite's scenarios specify them). Called by a 2025-11-25 client they ask over the session.

ASK_NAME = elicit("What is your name?", {"name": {"type": "string"}}, ["name"])
CONFIRM = elicit("Please confirm", {"ok": {"type": "boolean"}}, ["ok"])


@mcp.tool(description="MRTR: asks the user's name (inputRequests key user_name), then greets.",
          structured_output=False)
async def test_input_required_result_elicitation(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"user_name": ASK_NAME})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text(f"Hello, {field(answers['user_name'], 'name')}!")])


@mcp.tool(description="MRTR: samples the client's LLM (key capital_question), then reports the answer.",
          structured_output=False)
async def test_input_required_result_sampling(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"capital_question": sample("What is the capital of France?", 100)})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text(f"Sampling result: {sampled_text(answers['capital_question'])}")])


@mcp.tool(description="MRTR: lists the client's roots (key client_roots), then reports them.",
          structured_output=False)
async def test_input_required_result_list_roots(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"client_roots": list_roots()})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    roots = answers["client_roots"].roots
    return t.CallToolResult(content=[text(f"Found {len(roots)} root(s): {', '.join(str(r.uri) for r in roots)}")])


@mcp.tool(description="MRTR: asks for a confirmation with requestState; completes only with the state echoed.",
          structured_output=False)
async def test_input_required_result_request_state(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"confirm": CONFIRM}, state="request-state")
    if isinstance(answers, t.InputRequiredResult):
        return answers
    confirm = answers["confirm"]
    if confirm.action != "accept" or (confirm.content or {}).get("ok") is not True:
        return t.CallToolResult(content=[text(f"not confirmed: action={confirm.action}")], is_error=True)
    how = "requestState validated" if uses_mrtr(ctx) else "confirmed over the session"
    return t.CallToolResult(content=[text(f"state-ok: {how}")])


@mcp.tool(description="MRTR: asks for an elicitation, a sampling and the roots at once, with requestState.",
          structured_output=False)
async def test_input_required_result_multiple_inputs(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    requests = {"user_name": ASK_NAME, "greeting": sample("Generate a greeting", 50), "client_roots": list_roots()}
    answers = await ask(ctx, requests, state="multiple-inputs")
    if isinstance(answers, t.InputRequiredResult):
        return answers
    name, greeting = field(answers["user_name"], "name"), sampled_text(answers["greeting"])
    return t.CallToolResult(
        content=[text(f"Name: {name}; Greeting: {greeting}; Roots: {len(answers['client_roots'].roots)}")]
    )


@mcp.tool(description="MRTR: two rounds of elicitation (step1: name, step2: colour); requestState carries "
          "round 1's answer into round 2.", structured_output=False)
async def test_input_required_result_multi_round(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    try:
        carried = json.loads(ctx.request_state or "{}")
    except ValueError:
        carried = {}
    if isinstance(carried, dict) and carried.get("round") == 2 and uses_mrtr(ctx):
        name = str(carried.get("name", ""))
    else:
        question = elicit("Step 1: What is your name?", {"name": {"type": "string"}}, ["name"])
        step1 = await ask(ctx, {"step1": question}, state=json.dumps({"round": 1}))
        if isinstance(step1, t.InputRequiredResult):
            return step1
        name = field(step1["step1"], "name")
    step2 = await ask(
        ctx,
        {"step2": elicit("Step 2: What is your favorite color?", {"color": {"type": "string"}}, ["color"])},
        state=json.dumps({"round": 2, "name": name}),
    )
    if isinstance(step2, t.InputRequiredResult):
        return step2
    color = field(step2["step2"], "color")
    return t.CallToolResult(content=[text(f"Multi-round complete for {name} who likes {color}")])


@mcp.tool(description="MRTR: asks for a confirmation with sealed requestState; a tampered echo is refused "
          "(-32602, by the SDK's RequestStateBoundary).", structured_output=False)
async def test_input_required_result_tampered_state(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"confirm": CONFIRM}, state="tamper-test")
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text("integrity-ok: state verified")])


@mcp.tool(description="MRTR: asks only for what the client declared (elicitation and/or sampling).",
          structured_output=False)
async def test_input_required_result_capabilities(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    requests: dict[str, t.InputRequest] = {}
    if _client_has(ctx, REQUIRED_CAPABILITY["elicitation/create"][1]):
        requests["elicit_input"] = elicit("Elicitation input", {"value": {"type": "string"}}, ["value"])
    if _client_has(ctx, REQUIRED_CAPABILITY["sampling/createMessage"][1]):
        requests["sample_input"] = sample("Sample request", 50)
    if not requests:
        return t.CallToolResult(content=[text("No supported capabilities declared")])
    answers = await ask(ctx, requests, state="capabilities")
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text(f"capabilities-ok: received {','.join(answers)}")])


# Diagnostic hooks the server-stateless scenario (SEP-2575) calls.


@mcp.tool(description="Needs the client's sampling capability: without it, fails with -32021 "
          "(MissingRequiredClientCapabilityError, HTTP 400); with it, samples the client's LLM.",
          structured_output=False)
async def test_missing_capability(ctx: Context) -> t.CallToolResult | t.InputRequiredResult:
    answers = await ask(ctx, {"sampling": sample("Say hello", 20)})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return t.CallToolResult(content=[text(f"Success: {sampled_text(answers['sampling'])}")])


@mcp.tool(
    description="Reports progress on its response stream and answers; never sends the client a request of "
    "its own there (server-stateless probes that the stream carries nothing else).",
    structured_output=False,
)
async def test_streaming_elicitation(ctx: Context) -> t.CallToolResult:
    await ctx.report_progress(50, 100, "half way")
    return t.CallToolResult(content=[text("Streaming complete")])


@mcp.tool(
    description="Logs one message: only to a client whose request asked for a log level (2026-07-28 "
    "sends no log without one).",
    structured_output=False,
)
async def test_logging_tool(ctx: Context) -> t.CallToolResult:
    await log(ctx, "info", "Diagnostic trace logging activated")
    return t.CallToolResult(content=[text("Logging evaluated")])


@mcp.tool(
    description="Says test://watched-resource changed: on subscriptions/listen streams that asked for it "
    "(2026-07-28), and to a session that subscribed to it (2025-11-25).",
    structured_output=False,
)
async def test_touch_resource(ctx: Context) -> t.CallToolResult:
    uri = "test://watched-resource"
    session = ctx.request_context.session
    if uses_mrtr(ctx):
        await ctx.notify_resource_updated(uri)
    elif uri in _connection_state(session).get("subscriptions", set()):
        await session.send_resource_updated(uri)
    return t.CallToolResult(content=[text("Resource touched")])


@mcp.tool(
    description="Adds a tool, test_added_<n>, and says the tool list changed: on subscriptions/listen "
    "streams (2026-07-28) or to the session (2025-11-25).",
    structured_output=False,
)
async def test_add_tool(ctx: Context) -> t.CallToolResult:
    name = f"test_added_{next(_added)}"

    def added() -> str:
        return "added"

    mcp.add_tool(added, name=name, description="A tool test_add_tool added.")
    if uses_mrtr(ctx):
        await ctx.notify_tools_changed()
    else:
        await ctx.request_context.session.send_tool_list_changed()
    return t.CallToolResult(content=[text(f"Added {name}")])


_added = itertools.count()


@mcp.tool(description="Tells subscriptions/listen streams that the tool list changed.", structured_output=False)
async def test_trigger_tool_change(ctx: Context) -> t.CallToolResult:
    await ctx.notify_tools_changed()
    return t.CallToolResult(content=[text("Mutation triggered")])


@mcp.tool(description="Tells subscriptions/listen streams that the prompt list changed.", structured_output=False)
async def test_trigger_prompt_change(ctx: Context) -> t.CallToolResult:
    await ctx.notify_prompts_changed()
    return t.CallToolResult(content=[text("Mutation triggered")])


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


@mcp.prompt(description="MRTR: asks the user for context (inputRequests key user_context) before rendering.")
async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | t.InputRequiredResult:
    question = elicit("What context should the prompt use?", {"context": {"type": "string"}}, ["context"])
    answers = await ask(ctx, {"user_context": question})
    if isinstance(answers, t.InputRequiredResult):
        return answers
    return [UserMessage(text(f"Prompt with context: {field(answers['user_context'], 'context')}"))]


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


# ---------------------------------------------------------------------------------------------
# --legacy: a server that knows the revisions up to 2025-11-25 only.
#
# The SDK has no setting for the revisions a server accepts: its entry points route each request
# to an era by themselves (over stdio `Server.run` looks at the client's first request, over HTTP
# the session manager looks at the MCP-Protocol-Version header). Both eras are built from public
# pieces, though, and the handshake era alone is one of them, so --legacy serves only that:
#
# - stdio: `serve_loop`, the SDK's handshake-only loop (what its HTTP sessions run), instead of
#   `serve_dual_era_loop`. `server/discover` does not exist at 2025-11-25, so it is answered
#   -32601 Method not found; any other request before `initialize` fails the init gate (-32602),
#   2026-07-28 `_meta` or not. After `initialize` the session is served, unknown `_meta` ignored.
# - HTTP: the app behind a filter that drops an MCP-Protocol-Version header naming a revision
#   after 2025-11-25, so no request reaches the SDK's 2026-07-28 entry: the handshake-era
#   transport answers it as a 2025 server does. Without a session id (a 2026-07-28 client never
#   has one) that is HTTP 400 with a JSON-RPC error -32600 "Bad Request: Missing session ID".


async def _serve_stdio_handshake_only() -> None:
    server = mcp._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        async with server.lifespan(server) as lifespan_state:
            await serve_loop(
                server,
                read_stream,
                write_stream,
                lifespan_state=lifespan_state,
                init_options=server.create_initialization_options(),
            )


def _handshake_only(app: Any) -> Any:
    """ASGI filter: an MCP-Protocol-Version header naming a 2026+ revision is dropped."""
    header = MCP_PROTOCOL_VERSION_HEADER.encode("ascii")

    async def filtered(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [
                (k, v)
                for k, v in scope["headers"]
                if k != header or v.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS
            ]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return filtered


HTTP_OPTIONS: dict[str, Any] = {"streamable_http_path": "/mcp", "retry_interval": 500}


def main(argv: list[str]) -> int:
    args = argv[1:]
    legacy = "--legacy" in args
    if legacy:
        args.remove("--legacy")
    if args == ["stdio"]:
        if legacy:
            anyio.run(_serve_stdio_handshake_only)
        else:
            mcp.run("stdio")
        return 0
    if len(args) == 2 and args[0] == "http" and args[1].isdigit():
        port = int(args[1])
        if legacy:
            import uvicorn  # what MCPServer.run uses for HTTP

            app = mcp.streamable_http_app(host="127.0.0.1", event_store=MemoryEventStore(), **HTTP_OPTIONS)
            uvicorn.run(_handshake_only(app), host="127.0.0.1", port=port, log_level=mcp.settings.log_level.lower())
        else:
            mcp.run("streamable-http", host="127.0.0.1", port=port, event_store=MemoryEventStore(), **HTTP_OPTIONS)
        return 0
    print(f"usage: {argv[0]} stdio [--legacy] | http PORT [--legacy]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
