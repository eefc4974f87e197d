-- Upstream MCP servers registered through the management API (docs/mcp.md): one per gateway
-- and name. `headers` is a JSON object of non-secret headers; a credential is `key_id`, a
-- stored provider key of the same gateway (its secret stays sealed in provider_keys).
-- Removing a gateway removes its servers.
CREATE TABLE mcp_servers (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL,
    gateway_id  TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    url         TEXT NOT NULL,
    headers     TEXT NOT NULL,
    key_id      TEXT COLLATE "C",
    enabled     BOOLEAN NOT NULL,
    timeout_ms  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (account_id, gateway_id, name),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

-- Every instance re-reads the servers when any instance adds, changes or removes one (the
-- change listener, as for gateways, tokens, keys and routes).
CREATE TRIGGER mcp_servers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp_servers
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();
