-- Custom providers created through the management API (docs/configuration.md): per account,
-- unique by slug (requests name one `custom-{slug}`). Timestamps are RFC 3339 text, as SQLite's.
CREATE TABLE custom_providers (
    id           TEXT COLLATE "C" PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL,
    slug         TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    description  TEXT,
    link         TEXT,
    curl_example TEXT,
    js_example   TEXT,
    enable       BOOLEAN NOT NULL,
    beta         BOOLEAN NOT NULL,
    position     BIGINT,
    created_at   TEXT NOT NULL,
    modified_at  TEXT NOT NULL,
    UNIQUE (account_id, slug)
);

-- Every instance re-reads the custom providers when any instance changes one (the change
-- listener, as for gateways, tokens, keys and routes), so one created through another instance
-- is usable here at once.
CREATE TRIGGER custom_providers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custom_providers
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();
