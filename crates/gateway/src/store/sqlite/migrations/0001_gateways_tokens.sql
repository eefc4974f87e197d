CREATE TABLE gateways (
    account_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (account_id, id)
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_sha256 BLOB NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
