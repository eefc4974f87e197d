-- Analytics rollups (docs/analytics.md), one table per resolution, written by the log shipper in the
-- same transaction as the log rows and the spool checkpoint.
CREATE TABLE rollups_minute (
    account_id         TEXT NOT NULL,
    bucket             INTEGER NOT NULL,          -- start of the minute, Unix ms (UTC)
    gateway_id         TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    status_class       INTEGER NOT NULL,          -- status / 100, 0 when none
    cached             INTEGER NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    cached_requests    INTEGER NOT NULL,
    tokens_in          INTEGER NOT NULL,
    tokens_out         INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost               REAL NOT NULL,
    duration_sketch    BLOB NOT NULL,             -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BLOB NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
) WITHOUT ROWID;
CREATE TABLE rollups_hour (
    account_id         TEXT NOT NULL,
    bucket             INTEGER NOT NULL,          -- start of the hour, Unix ms (UTC)
    gateway_id         TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    status_class       INTEGER NOT NULL,          -- status / 100, 0 when none
    cached             INTEGER NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    cached_requests    INTEGER NOT NULL,
    tokens_in          INTEGER NOT NULL,
    tokens_out         INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost               REAL NOT NULL,
    duration_sketch    BLOB NOT NULL,             -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BLOB NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
) WITHOUT ROWID;
CREATE TABLE rollups_day (
    account_id         TEXT NOT NULL,
    bucket             INTEGER NOT NULL,          -- start of the day, Unix ms (UTC)
    gateway_id         TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    status_class       INTEGER NOT NULL,          -- status / 100, 0 when none
    cached             INTEGER NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    cached_requests    INTEGER NOT NULL,
    tokens_in          INTEGER NOT NULL,
    tokens_out         INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost               REAL NOT NULL,
    duration_sketch    BLOB NOT NULL,             -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BLOB NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
) WITHOUT ROWID;
