-- Request logs (docs/logs.md). Times are Unix milliseconds.
CREATE TABLE logs (
    id                     TEXT PRIMARY KEY,          -- UUIDv7: sorts by creation time
    account_id             TEXT NOT NULL,
    gateway_id             TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    event_id               TEXT,
    provider               TEXT NOT NULL,
    model                  TEXT,
    path                   TEXT NOT NULL,
    method                 TEXT NOT NULL,
    status_code            INTEGER,
    success                INTEGER NOT NULL DEFAULT 0,
    cached                 INTEGER NOT NULL DEFAULT 0,
    duration               INTEGER,
    ttfb                   INTEGER,
    tokens_in              INTEGER,
    tokens_out             INTEGER,
    cache_read_tokens      INTEGER,
    cache_write_tokens     INTEGER,
    cost                   REAL,
    custom_cost            INTEGER NOT NULL DEFAULT 0,
    metadata               TEXT,                      -- flat JSON object as text
    step                   INTEGER,
    attempts               INTEGER NOT NULL DEFAULT 1,
    request_content_type   TEXT,
    response_content_type  TEXT,
    request_size           INTEGER,
    response_size          INTEGER,
    request_head_complete  INTEGER,
    response_head_complete INTEGER,
    feedback               INTEGER,
    score                  REAL,
    client_ip              TEXT,
    user_agent             TEXT,
    error                  TEXT,
    completed              INTEGER NOT NULL DEFAULT 0, -- 0 while only the begin record arrived
    instance_id            TEXT NOT NULL
);
-- The logs list: one gateway's completed rows, newest first, keyset-friendly.
CREATE INDEX logs_by_gateway ON logs (account_id, gateway_id, completed, created_at DESC, id DESC);
CREATE INDEX logs_by_event ON logs (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX logs_in_flight ON logs (instance_id) WHERE completed = 0;

-- Bodies and headers, zstd-compressed, apart from the rows so listing never reads them.
CREATE TABLE log_bodies (
    log_id           TEXT PRIMARY KEY REFERENCES logs (id) ON DELETE CASCADE,
    request          BLOB,
    request_headers  TEXT,
    response         BLOB,
    response_headers TEXT
);

-- How far the shipper has moved the spool into this database (one row).
CREATE TABLE spool_checkpoint (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    segment INTEGER NOT NULL,
    offset  INTEGER NOT NULL
);

-- Rows per gateway, kept by triggers so the row cap (log_management) is checked in O(1).
CREATE TABLE log_counts (
    account_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    PRIMARY KEY (account_id, gateway_id)
);
CREATE TRIGGER logs_count_insert AFTER INSERT ON logs BEGIN
    INSERT INTO log_counts (account_id, gateway_id, rows) VALUES (NEW.account_id, NEW.gateway_id, 1)
    ON CONFLICT (account_id, gateway_id) DO UPDATE SET rows = rows + 1;
END;
CREATE TRIGGER logs_count_delete AFTER DELETE ON logs BEGIN
    UPDATE log_counts SET rows = rows - 1
    WHERE account_id = OLD.account_id AND gateway_id = OLD.gateway_id;
END;
