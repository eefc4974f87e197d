"""An MCP server spoken to over stdin and stdout (the official SDK's `MCPServer`), which the
gateway starts itself as a `[[mcp_servers]]` entry with `command` (test_mcp_stdio.py)."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("local")


@server.tool()
def echo(text: str) -> str:
    """Answers with the text and the credential the gateway gave the process."""
    return f"local: {text} ({os.environ.get('LOCAL_TOKEN', 'no token')})"


if __name__ == "__main__":
    server.run("stdio")
