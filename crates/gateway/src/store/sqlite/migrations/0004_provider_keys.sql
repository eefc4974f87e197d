-- Stored provider keys (docs/keys.md). The secret is never stored in the clear: `ciphertext` is
-- the secret sealed under its own data key, `wrapped_key` that data key sealed under the
-- key-encryption key `kek_id` names (which lives outside the database). Removing a gateway
-- removes its keys.
CREATE TABLE provider_keys (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL,
    gateway_id        TEXT NOT NULL,
    alias             TEXT NOT NULL,
    provider_slug     TEXT NOT NULL,
    default_config    INTEGER NOT NULL,
    secret_id         TEXT NOT NULL,
    secret_preview    TEXT NOT NULL,
    kek_id            TEXT NOT NULL,
    wrapped_key       BLOB NOT NULL,
    ciphertext        BLOB NOT NULL,
    rate_limit        INTEGER,
    rate_limit_period INTEGER,
    status            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    modified_at       TEXT NOT NULL,
    last_used_at      TEXT,
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

CREATE INDEX provider_keys_gateway ON provider_keys (account_id, gateway_id);
