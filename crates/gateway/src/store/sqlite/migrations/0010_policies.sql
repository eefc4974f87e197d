-- Policies of a gateway (docs/budgets.md, "Policies"): the committed policy and a staged draft,
-- each the JSON text of Cloudflare's policy object. Removing a gateway removes its policies.
CREATE TABLE policies (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    committed  TEXT,
    draft      TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

CREATE INDEX policies_gateway ON policies (account_id, gateway_id);
