"""A stdio MCP server (docs/mcp.md): the gateway starts the process from its configuration file,
speaks MCP over its stdin and stdout, and serves its tools namespaced on `/mcp` like any other
server's; the official MCP Python SDK is the client and the server."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

SERVER = Path(__file__).with_name("mcp_stdio_server.py")


def test_a_stdio_server_started_by_the_gateway_serves_its_tools(start_gateway):
    gateway = start_gateway(
        '[[mcp_servers]]\ngateway = "default"\nname = "local"\n'
        f'command = "{sys.executable}"\nargs = ["{SERVER}"]\n'
        'env = { LOCAL_TOKEN = "from-env" }\ntimeout_ms = 20000\n'
    )

    async def run():
        url = f"{gateway.url}/v1/local/default/mcp"
        async with Client(streamable_http_client(url)) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            assert names == ["local__echo"]
            result = await client.call_tool("local__echo", {"text": "hi"})
            text = "".join(block.text for block in result.content if getattr(block, "text", None))
            assert text == "local: hi (from-env)"

    anyio.run(run)
