"""A small MCP stdio server in Python for the spawn benchmark (`benches/spawn.rs`).

It costs what a typical Python server costs to start (the interpreter, `asyncio` and `json`
imported: some tens of milliseconds of CPU) and then serves three tools. Newline-delimited
JSON-RPC on stdin and stdout, as the stdio transport says; nothing but the standard library,
so the benchmark needs only `python3`.
"""

import asyncio  # noqa: F401  (imported for its start-up cost, as real servers do)
import json
import sys

TOOLS = [
    {
        "name": name,
        "description": f"{name} the arguments",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    for name in ("echo", "upper", "lower")
]


def answer(request):
    method = request.get("method")
    if method == "initialize":
        return {
            "protocolVersion": request["params"].get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "py-server", "version": "1"},
        }
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        text = request["params"].get("arguments", {}).get("text", "")
        return {"content": [{"type": "text", "text": text}]}
    if method == "ping":
        return {}
    return None


def main():
    for line in sys.stdin:
        request = json.loads(line)
        if "id" not in request:
            continue
        result = answer(request)
        if result is None:
            reply = {"jsonrpc": "2.0", "id": request["id"],
                     "error": {"code": -32601, "message": "method not found"}}
        else:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


main()
