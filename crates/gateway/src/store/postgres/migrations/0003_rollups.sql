-- Analytics rollups (docs/analytics.md), one table per resolution, written by the log shippers of every
-- instance in the same transaction as their log rows and spool checkpoints. Sketches cannot be
-- merged in SQL: an ingest locks the rows it adds to and merges them in the gateway.
CREATE TABLE rollups_minute (
    account_id         TEXT COLLATE "C" NOT NULL,
    bucket             BIGINT NOT NULL,           -- start of the minute, Unix ms (UTC)
    gateway_id         TEXT COLLATE "C" NOT NULL,
    provider           TEXT COLLATE "C" NOT NULL,
    model              TEXT COLLATE "C" NOT NULL,
    status_class       SMALLINT NOT NULL,         -- status / 100, 0 when none
    cached             BOOLEAN NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    cached_requests    BIGINT NOT NULL,
    tokens_in          BIGINT NOT NULL,
    tokens_out         BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost               DOUBLE PRECISION NOT NULL,
    duration_sketch    BYTEA NOT NULL,            -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BYTEA NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
);
CREATE TABLE rollups_hour (
    account_id         TEXT COLLATE "C" NOT NULL,
    bucket             BIGINT NOT NULL,           -- start of the hour, Unix ms (UTC)
    gateway_id         TEXT COLLATE "C" NOT NULL,
    provider           TEXT COLLATE "C" NOT NULL,
    model              TEXT COLLATE "C" NOT NULL,
    status_class       SMALLINT NOT NULL,         -- status / 100, 0 when none
    cached             BOOLEAN NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    cached_requests    BIGINT NOT NULL,
    tokens_in          BIGINT NOT NULL,
    tokens_out         BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost               DOUBLE PRECISION NOT NULL,
    duration_sketch    BYTEA NOT NULL,            -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BYTEA NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
);
CREATE TABLE rollups_day (
    account_id         TEXT COLLATE "C" NOT NULL,
    bucket             BIGINT NOT NULL,           -- start of the day, Unix ms (UTC)
    gateway_id         TEXT COLLATE "C" NOT NULL,
    provider           TEXT COLLATE "C" NOT NULL,
    model              TEXT COLLATE "C" NOT NULL,
    status_class       SMALLINT NOT NULL,         -- status / 100, 0 when none
    cached             BOOLEAN NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    cached_requests    BIGINT NOT NULL,
    tokens_in          BIGINT NOT NULL,
    tokens_out         BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost               DOUBLE PRECISION NOT NULL,
    duration_sketch    BYTEA NOT NULL,            -- DDSketch (1 % relative error), DataDog encoding
    ttfb_sketch        BYTEA NOT NULL,
    PRIMARY KEY (account_id, bucket, gateway_id, provider, model, status_class, cached)
);
