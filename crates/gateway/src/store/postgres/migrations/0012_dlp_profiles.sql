-- Custom DLP profiles of an account (docs/dlp.md, "Custom profiles"): the definition as the JSON
-- text of Cloudflare One's profile shape, and a version bumped on every update.
CREATE TABLE dlp_profiles (
    id         TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX dlp_profiles_account ON dlp_profiles (account_id);
