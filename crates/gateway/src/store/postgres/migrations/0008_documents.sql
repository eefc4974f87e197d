-- A gateway's datasets and evaluations (docs/evaluations.md): each its API object as JSON text.
-- Removing a gateway removes them. Every read goes to this table, so no change notice is needed.
CREATE TABLE documents (
    account_id  TEXT COLLATE "C" NOT NULL,
    gateway_id  TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (account_id, gateway_id, kind, id),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);
