"""A real MCP client (the Python `mcp` SDK) used by the end-to-end tests.

Usage: py_client.py http URL TOOL ARGS_JSON
       py_client.py stdio TOOL ARGS_JSON -- COMMAND [ARG...]
Prints one JSON line: {"tools": [...names], "result": <CallToolResult as JSON>}.
With MCP_TOKEN set, HTTP requests carry `Authorization: Bearer $MCP_TOKEN`.
"""
import asyncio
import json
import os
import sys

import httpx2

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


async def run(session, tool, args):
    await session.initialize()
    tools = await session.list_tools()
    result = await session.call_tool(tool, json.loads(args))
    print(json.dumps({"tools": [t.name for t in tools.tools], "result": result.model_dump(mode="json")}))


async def main(argv):
    if argv[0] == "http":
        url, tool, args = argv[1:4]
        token = os.environ.get("MCP_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(url, http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await run(session, tool, args)
    else:
        tool, args = argv[1:3]
        command = argv[argv.index("--") + 1:]
        params = StdioServerParameters(command=command[0], args=command[1:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await run(session, tool, args)


asyncio.run(main(sys.argv[1:]))
