-- Keys are stored by a keyed hash of the clear key; the clear key is never stored.
CREATE TABLE IF NOT EXISTS api_keys (
    hash        TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    limit_usd   TEXT,            -- Decimal as text; NULL: no limit
    usage_usd   TEXT NOT NULL DEFAULT '0',
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS generations (
    id                   TEXT PRIMARY KEY,
    created_at           REAL NOT NULL,
    key_hash             TEXT,
    model                TEXT NOT NULL,
    provider             TEXT,
    upstream_model       TEXT,
    dialect_in           TEXT NOT NULL,
    dialect_out          TEXT,
    streamed             INTEGER NOT NULL,
    status               TEXT NOT NULL,
    finish_reason        TEXT,
    native_finish_reason TEXT,
    prompt_tokens        INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    cached_tokens        INTEGER NOT NULL,
    cache_write_tokens   INTEGER NOT NULL,
    reasoning_tokens     INTEGER NOT NULL,
    usage_estimated      INTEGER NOT NULL,
    cost                 TEXT NOT NULL,   -- Decimal as text, USD
    latency_ms           REAL,
    generation_time_ms   REAL NOT NULL,
    error_code           INTEGER,
    error_message        TEXT,
    app_title            TEXT,
    app_referer          TEXT,
    attempts             TEXT NOT NULL    -- JSON list
);
CREATE INDEX IF NOT EXISTS generations_key_time ON generations (key_hash, created_at);
CREATE INDEX IF NOT EXISTS generations_model_time ON generations (model, created_at);
