-- A price per tool call of an MCP server (docs/mcp.md, "Budgets"): in US dollars, NULL when its
-- calls cost nothing. A call reserves it against the gateway's spend limits and the run
-- token's budget, and its log row carries it as its cost.
ALTER TABLE mcp_servers ADD COLUMN cost_per_call DOUBLE PRECISION;
