-- Gateways, run tokens and the gateway's own settings. Times are RFC 3339 text exactly as the
-- gateway wrote them (nanoseconds survive the round trip, as in the SQLite store).
CREATE TABLE gateways (
    account_id  TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    settings    JSONB NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (account_id, id)
);

CREATE TABLE tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    token_sha256 BYTEA NOT NULL,                -- only the hash, never the token
    created_at   TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
