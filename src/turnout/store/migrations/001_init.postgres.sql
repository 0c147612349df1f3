-- PostgreSQL: the same schema as the SQLite migrations 001-002, with money as NUMERIC (exact).
CREATE TABLE IF NOT EXISTS accounts (
    id          TEXT PRIMARY KEY,
    credits_usd NUMERIC NOT NULL DEFAULT 0,
    usage_usd   NUMERIC NOT NULL DEFAULT 0,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
INSERT INTO accounts (id, credits_usd, usage_usd, created_at, updated_at) VALUES ('default', 0, 0, 0, 0)
    ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS api_keys (
    hash           TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    label          TEXT NOT NULL,
    limit_usd      NUMERIC,
    usage_usd      NUMERIC NOT NULL DEFAULT 0,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     DOUBLE PRECISION NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL,
    account_id     TEXT NOT NULL DEFAULT 'default',
    limit_reset    TEXT,
    rate_limit_rpm INTEGER,
    rate_limit_tpm INTEGER,
    deleted        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys (name) WHERE NOT deleted;
CREATE INDEX IF NOT EXISTS api_keys_updated ON api_keys (updated_at);

CREATE TABLE IF NOT EXISTS generations (
    id                   TEXT PRIMARY KEY,
    created_at           DOUBLE PRECISION NOT NULL,
    key_hash             TEXT,
    model                TEXT NOT NULL,
    provider             TEXT,
    upstream_model       TEXT,
    dialect_in           TEXT NOT NULL,
    dialect_out          TEXT,
    streamed             BOOLEAN NOT NULL,
    status               TEXT NOT NULL,
    finish_reason        TEXT,
    native_finish_reason TEXT,
    prompt_tokens        INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    cached_tokens        INTEGER NOT NULL,
    cache_write_tokens   INTEGER NOT NULL,
    reasoning_tokens     INTEGER NOT NULL,
    usage_estimated      BOOLEAN NOT NULL,
    cost                 NUMERIC NOT NULL,
    latency_ms           DOUBLE PRECISION,
    generation_time_ms   DOUBLE PRECISION NOT NULL,
    error_code           INTEGER,
    error_message        TEXT,
    app_title            TEXT,
    app_referer          TEXT,
    attempts             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS generations_key_time ON generations (key_hash, created_at);
CREATE INDEX IF NOT EXISTS generations_model_time ON generations (model, created_at);

CREATE TABLE IF NOT EXISTS ledger (
    id            BIGSERIAL PRIMARY KEY,
    account_id    TEXT NOT NULL,
    key_hash      TEXT,
    kind          TEXT NOT NULL,
    amount        NUMERIC NOT NULL,
    generation_id TEXT UNIQUE,
    note          TEXT,
    created_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account_id, created_at);

CREATE TABLE IF NOT EXISTS usage_daily (
    day               TEXT NOT NULL,
    key_hash          TEXT NOT NULL,
    model             TEXT NOT NULL,
    provider          TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    cost              NUMERIC NOT NULL,
    PRIMARY KEY (day, key_hash, model, provider)
);

CREATE TABLE IF NOT EXISTS app_usage_daily (
    day      TEXT NOT NULL,
    model    TEXT NOT NULL,
    app      TEXT NOT NULL,
    title    TEXT,
    referer  TEXT,
    requests BIGINT NOT NULL,
    tokens   BIGINT NOT NULL,
    PRIMARY KEY (day, model, app)
)
