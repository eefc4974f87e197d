-- Upstream MCP servers registered through the management API (docs/mcp.md): one per gateway
-- and name. `headers` is a JSON object of non-secret headers; a credential is `key_id`, a
-- stored provider key of the same gateway (its secret stays sealed in provider_keys).
-- Removing a gateway removes its servers.
CREATE TABLE mcp_servers (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    gateway_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    headers     TEXT NOT NULL,
    key_id      TEXT,
    enabled     INTEGER NOT NULL,
    timeout_ms  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (account_id, gateway_id, name),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);
