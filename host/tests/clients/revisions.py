"""The revisions client: one real MCP client (the Python `mcp` SDK) speaking exactly one protocol
revision, calling the reference server's three client-input tools and printing what happened as
one JSON document, so a test can check that mcpproxy carries sampling, elicitation and roots
between clients and upstreams of either revision.

Usage: revisions.py URL --revision 2026-07-28|2025-11-25 [--no-capabilities] [--token TOKEN]

URL:               a streamable HTTP endpoint (the reference server's /mcp, or mcpproxy's
                   /mcp/server/NAME).
--revision:        2025-11-25: a session, opened with `initialize` (the SDK's mode="legacy");
                   2026-07-28: stateless, every request carrying its `_meta` envelope, no
                   `initialize` and no `server/discover` (the SDK's mode="2026-07-28").
--no-capabilities: declare neither sampling, elicitation nor roots (no callbacks).
--token:           sent as `Authorization: Bearer TOKEN` on every HTTP request.

Otherwise the client declares sampling, elicitation and roots (the SDK derives the declaration
from the callbacks given, and declares elicitation as form and url), and its callbacks answer:

    sampling    -> assistant text "Paris", model "revisions-test", stopReason "endTurn"
    elicitation -> accept, {"name": "Alice"} (and "Alice" for any other required string field)
    roots       -> [{"uri": "file:///tmp/revisions-root", "name": "revisions-root"}]

The reference server's final results then read "Sampling result: Paris", "Hello, Alice!" and
"Found 1 root(s): file:///tmp/revisions-root".

Each tool is called with no arguments, in its own try. The client drives the 2026-07-28 multi
round-trip itself with the SDK's lower-level `ClientSession.call_tool(allow_input_required=True)`
and `ClientSession.dispatch_input_request` (the two pieces `Client.call_tool`'s driver is made
of), so that the rounds can be recorded; a 2025-11-25 session gets the same questions as
server->client requests, answered by the same callbacks.

Prints one line of JSON:

    {"revision": "...", "negotiated": "<the session's protocol version>",
     "calls": {TOOL: {"result": <CallToolResult by alias, only the fields it arrived with> | null,
                      "error": null | {"code": int | null, "message": str, "data": ...},
                      "input_required": [{"inputRequests": {KEY: METHOD}, "requestState": bool}, ...]}},
     "asked": {"sampling": [params...], "elicitation": [params...], "roots": [params...]}}

`input_required` lists the InputRequiredResults the call got before its final answer (empty on a
2025-11-25 session). `asked` holds the params each callback received, in order (roots receives no
params, so its entries are {} or {"_meta": ...}). An error that is not a JSON-RPC error has code
null. When the connection itself fails, the document says so in "connect_error" (the session
could not be opened) or "transport_error" (the HTTP transport failed under a call, which ends
the run). Exits 0 when it ran, even if calls failed; 1 when it could not connect at all.
"""
import asyncio
import json
import sys

import anyio
import httpx2
from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

REVISIONS = ("2025-11-25", "2026-07-28")
TOOLS = (
    "test_input_required_result_sampling",
    "test_input_required_result_elicitation",
    "test_input_required_result_list_roots",
)
ROOT = {"uri": "file:///tmp/revisions-root", "name": "revisions-root"}
MAX_ROUNDS = 10  # the SDK driver's default cap
STATE_ONLY_DELAY = 0.05  # what the SDK driver waits before retrying a round that asks nothing
INTERRUPTED = {"code": None, "message": "interrupted: the connection failed (see transport_error)", "data": None}


def usage(message):
    print(f"revisions.py: {message}", file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    raise SystemExit(2)


def dump(value):
    """A received message as it arrived: by alias, without the defaults of fields it did not carry."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return value


def error(e):
    while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
        e = e.exceptions[0]
    if isinstance(e, MCPError):
        data = e.error
        return {"code": data.code, "message": data.message, "data": data.data}
    return {"code": None, "message": f"{type(e).__name__}: {e}", "data": None}


def unreachable(e):
    """True when `e` (or everything in its group) is the network failing, not the server answering."""
    if isinstance(e, BaseExceptionGroup):
        return all(unreachable(x) for x in e.exceptions)
    return isinstance(e, (httpx2.TransportError, ConnectionError, OSError))


class Answers:
    """The callbacks: fixed answers, and a record of what each was asked."""

    def __init__(self):
        self.asked = {"sampling": [], "elicitation": [], "roots": []}

    async def sampling(self, context, params):
        self.asked["sampling"].append(dump(params))
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Paris"),
            model="revisions-test",
            stop_reason="endTurn",
        )

    async def elicitation(self, context, params):
        self.asked["elicitation"].append(dump(params))
        schema = getattr(params, "requested_schema", None)
        if schema is None:  # URL mode: nothing to fill in
            return types.ElicitResult(action="accept")
        content = {"name": "Alice"}
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in content and properties.get(name, {}).get("type") == "string":
                content[name] = "Alice"
        return types.ElicitResult(action="accept", content=content)

    async def roots(self, context):
        # The callback gets only the request's `_meta`, in Python names: recorded as params, in wire names.
        meta = context.meta
        self.asked["roots"].append(dump(types.RequestParams(_meta=meta)) if meta is not None else {})
        return types.ListRootsResult(roots=[types.Root(**ROOT)])


async def call(session, name, rounds):
    """`name` with no arguments, answering InputRequiredResults (recorded in `rounds`) until done."""
    responses = state = None
    for _ in range(MAX_ROUNDS + 1):
        result = await session.call_tool(
            name, {}, input_responses=responses, request_state=state, allow_input_required=True
        )
        if not isinstance(result, types.InputRequiredResult):
            return result
        requests = result.input_requests or {}
        rounds.append({
            "inputRequests": {key: request.method for key, request in requests.items()},
            "requestState": result.request_state is not None,
        })
        if not requests:
            await anyio.sleep(STATE_ONLY_DELAY)
        responses = {}
        for key, request in requests.items():
            context = ClientRequestContext(
                session=session, request_id=key, meta=request.params.meta if request.params else None
            )
            answer = await session.dispatch_input_request(context, request)
            if isinstance(answer, types.ErrorData):
                raise MCPError.from_error_data(answer)
            responses[key] = answer
        responses = responses or None
        state = result.request_state
    raise RuntimeError(f"still InputRequiredResult after {MAX_ROUNDS} rounds")


async def run(url, revision, capabilities, token):
    """The record, and whether the server was reached at all."""
    answers = Answers()
    callbacks = {
        "sampling_callback": answers.sampling,
        "elicitation_callback": answers.elicitation,
        "list_roots_callback": answers.roots,
    } if capabilities else {}
    headers = {"Authorization": f"Bearer {token}"} if token else None
    out = {"revision": revision, "calls": {}, "asked": answers.asked}
    answered = False
    try:
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http:
            client = Client(
                streamable_http_client(url, http_client=http),
                mode="legacy" if revision == "2025-11-25" else revision,
                cache=None,
                **callbacks,
            )
            async with client:
                out["negotiated"] = client.protocol_version
                for tool in TOOLS:
                    rounds = []
                    # What stays if the transport fails under the call (its error then ends the run).
                    entry = {"result": None, "error": INTERRUPTED, "input_required": rounds}
                    out["calls"][tool] = entry
                    try:
                        entry["result"] = dump(await call(client.session, tool, rounds))
                        entry["error"] = None
                        answered = True
                    except Exception as e:  # noqa: BLE001 - every failure is an observation
                        entry["error"] = error(e)
                        answered = answered or (isinstance(e, MCPError) and not unreachable(e.__cause__ or e))
    except Exception as e:  # noqa: BLE001 - the connection itself failed
        if "negotiated" not in out:
            out["connect_error"] = error(e)
            return out, False
        out["transport_error"] = error(e)
        return out, answered or not unreachable(e)
    return out, True


async def main(argv):
    url = revision = token = None
    capabilities = True
    while argv:
        arg, argv = argv[0], argv[1:]
        if arg == "--revision" and argv:
            revision, argv = argv[0], argv[1:]
        elif arg == "--token" and argv:
            token, argv = argv[0], argv[1:]
        elif arg == "--no-capabilities":
            capabilities = False
        elif not arg.startswith("--") and url is None:
            url = arg
        else:
            usage(f"unexpected argument {arg}")
    if url is None or revision not in REVISIONS:
        usage("a URL and --revision 2026-07-28|2025-11-25 are required")
    out, reached = await run(url, revision, capabilities, token)
    print(json.dumps(out, sort_keys=True))
    return 0 if reached else 1


sys.exit(asyncio.run(main(sys.argv[1:])))
