-- A gateway's datasets and evaluations (docs/evaluations.md): each its API object as JSON text.
-- Removing a gateway removes them.
CREATE TABLE documents (
    account_id  TEXT NOT NULL,
    gateway_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (account_id, gateway_id, kind, id),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);
