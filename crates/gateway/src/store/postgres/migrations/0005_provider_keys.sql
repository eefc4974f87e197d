-- Stored provider keys (docs/keys.md). The secret is never stored in the clear: `ciphertext` is
-- the secret sealed under its own data key, `wrapped_key` that data key sealed under the
-- key-encryption key `kek_id` names (which lives outside the database). Removing a gateway
-- removes its keys.
CREATE TABLE provider_keys (
    id                TEXT COLLATE "C" PRIMARY KEY,
    account_id        TEXT COLLATE "C" NOT NULL,
    gateway_id        TEXT COLLATE "C" NOT NULL,
    alias             TEXT NOT NULL,
    provider_slug     TEXT NOT NULL,
    default_config    BOOLEAN NOT NULL,
    secret_id         TEXT NOT NULL,
    secret_preview    TEXT NOT NULL,
    kek_id            TEXT NOT NULL,
    wrapped_key       BYTEA NOT NULL,
    ciphertext        BYTEA NOT NULL,
    rate_limit        BIGINT,
    rate_limit_period BIGINT,
    status            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    modified_at       TEXT NOT NULL,
    last_used_at      TEXT,
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

CREATE INDEX provider_keys_gateway ON provider_keys (account_id, gateway_id);

-- Every instance re-reads the keys when any instance changes them (the change listener, as for
-- gateways and tokens), except for `last_used_at`, which is written now and then as keys are
-- used and changes nothing about which key a request gets.
CREATE TRIGGER provider_keys_changed
    AFTER INSERT OR DELETE OR TRUNCATE ON provider_keys
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();

CREATE TRIGGER provider_keys_updated
    AFTER UPDATE OF alias, provider_slug, default_config, secret_id, kek_id, wrapped_key,
        ciphertext, rate_limit, rate_limit_period, status
    ON provider_keys
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();
