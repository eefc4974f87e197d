-- Custom providers created through the management API (docs/configuration.md): per account,
-- unique by slug (requests name one `custom-{slug}`). Timestamps are RFC 3339 text.
CREATE TABLE custom_providers (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    slug         TEXT NOT NULL,
    name         TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    description  TEXT,
    link         TEXT,
    curl_example TEXT,
    js_example   TEXT,
    enable       INTEGER NOT NULL,
    beta         INTEGER NOT NULL,
    position     BIGINT,
    created_at   TEXT NOT NULL,
    modified_at  TEXT NOT NULL,
    UNIQUE (account_id, slug)
);
