-- Request logs (docs/logs.md). Times are Unix milliseconds. Key and ordering columns use
-- the "C" collation: bytewise, as SQLite compares, whatever the database's locale.
CREATE TABLE logs (
    id                     TEXT COLLATE "C" PRIMARY KEY,  -- UUIDv7: sorts by creation time
    account_id             TEXT COLLATE "C" NOT NULL,
    gateway_id             TEXT COLLATE "C" NOT NULL,
    created_at             BIGINT NOT NULL,
    event_id               TEXT,
    provider               TEXT COLLATE "C" NOT NULL,
    model                  TEXT COLLATE "C",
    path                   TEXT NOT NULL,
    method                 TEXT NOT NULL,
    status_code            INTEGER,
    success                BOOLEAN NOT NULL DEFAULT FALSE,
    cached                 BOOLEAN NOT NULL DEFAULT FALSE,
    duration               BIGINT,
    ttfb                   BIGINT,
    tokens_in              BIGINT,
    tokens_out             BIGINT,
    cache_read_tokens      BIGINT,
    cache_write_tokens     BIGINT,
    cost                   DOUBLE PRECISION,
    custom_cost            BOOLEAN NOT NULL DEFAULT FALSE,
    metadata               TEXT,                     -- flat JSON object, as the client sent it
    metadata_json          JSONB,                    -- the same when it is a JSON object: filters read it
    step                   BIGINT,
    attempts               BIGINT NOT NULL DEFAULT 1,
    request_content_type   TEXT,
    response_content_type  TEXT,
    request_size           BIGINT,
    response_size          BIGINT,
    request_head_complete  BOOLEAN,
    response_head_complete BOOLEAN,
    feedback               BIGINT,
    score                  DOUBLE PRECISION,
    client_ip              TEXT,
    user_agent             TEXT,
    error                  TEXT,
    completed              BOOLEAN NOT NULL DEFAULT FALSE, -- false while only the begin record arrived
    instance_id            TEXT NOT NULL             -- the gateway instance (data directory) that wrote it
);
-- The logs list: one gateway's completed rows, newest first, keyset-friendly. NULLS LAST on the
-- descending columns makes both directions of "NULL sorts first" (SQLite's order) index scans.
CREATE INDEX logs_by_gateway ON logs
    (account_id, gateway_id, completed, created_at DESC NULLS LAST, id DESC NULLS LAST);
CREATE INDEX logs_by_event ON logs (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX logs_in_flight ON logs (instance_id) WHERE NOT completed;

-- Bodies and headers, zstd-compressed, apart from the rows so listing never reads them.
CREATE TABLE log_bodies (
    log_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES logs (id) ON DELETE CASCADE,
    request          BYTEA,
    request_headers  TEXT,
    response         BYTEA,
    response_headers TEXT
);
-- Already compressed: out of line, without PostgreSQL compressing them a second time.
ALTER TABLE log_bodies
    ALTER COLUMN request SET STORAGE EXTERNAL,
    ALTER COLUMN response SET STORAGE EXTERNAL;

-- How far each instance's shipper has moved its local spool into this database. Many instances
-- share the database, each with its own spool, so one row per instance.
CREATE TABLE spool_checkpoints (
    instance_id TEXT COLLATE "C" PRIMARY KEY,
    segment     BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Rows per gateway, kept by triggers so the row cap (log_management) is checked in O(1).
-- Statement-level triggers with transition tables: one upsert per batch, not one per row.
CREATE TABLE log_counts (
    account_id TEXT COLLATE "C" NOT NULL,
    gateway_id TEXT COLLATE "C" NOT NULL,
    rows       BIGINT NOT NULL,
    PRIMARY KEY (account_id, gateway_id)
);
CREATE FUNCTION tollgate_logs_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In key order, so concurrent batches lock their gateways' counters in the same order.
    INSERT INTO log_counts (account_id, gateway_id, rows)
    SELECT account_id, gateway_id, count(*) FROM new_rows
    GROUP BY account_id, gateway_id ORDER BY account_id, gateway_id
    ON CONFLICT (account_id, gateway_id) DO UPDATE SET rows = log_counts.rows + excluded.rows;
    RETURN NULL;
END $$;
CREATE FUNCTION tollgate_logs_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE log_counts c SET rows = c.rows - d.n
    FROM (SELECT account_id, gateway_id, count(*) AS n FROM old_rows
          GROUP BY account_id, gateway_id) d
    WHERE c.account_id = d.account_id AND c.gateway_id = d.gateway_id;
    RETURN NULL;
END $$;
CREATE TRIGGER logs_count_insert AFTER INSERT ON logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tollgate_logs_count_insert();
CREATE TRIGGER logs_count_delete AFTER DELETE ON logs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tollgate_logs_count_delete();
