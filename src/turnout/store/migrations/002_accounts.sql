-- Accounts, the credit ledger, per-key limits and rate limits, and daily usage roll-ups.

-- An account holds credits; its keys spend them. 'default' owns every key made before accounts.
CREATE TABLE IF NOT EXISTS accounts (
    id          TEXT PRIMARY KEY,
    credits_usd TEXT NOT NULL DEFAULT '0',   -- Decimal: grants + purchases + adjustments
    usage_usd   TEXT NOT NULL DEFAULT '0',   -- Decimal: usage debits
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL                -- moves when credits change (usage does not move it)
);
INSERT OR IGNORE INTO accounts (id, credits_usd, usage_usd, created_at, updated_at) VALUES ('default', '0', '0', 0, 0);

ALTER TABLE api_keys ADD COLUMN account_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN limit_reset TEXT;          -- daily | weekly | monthly | NULL
ALTER TABLE api_keys ADD COLUMN rate_limit_rpm INTEGER;    -- NULL: the server default
ALTER TABLE api_keys ADD COLUMN rate_limit_tpm INTEGER;
ALTER TABLE api_keys ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS api_keys_updated ON api_keys (updated_at);

-- Every movement of money. Credits are positive, usage debits negative; one debit per generation.
CREATE TABLE IF NOT EXISTS ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    TEXT NOT NULL,
    key_hash      TEXT,
    kind          TEXT NOT NULL,             -- grant | purchase | adjustment | usage
    amount        TEXT NOT NULL,             -- Decimal, USD
    generation_id TEXT UNIQUE,
    note          TEXT,
    created_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account_id, created_at);

-- Roll-ups kept in the same transaction as the generation rows (activity, limits by period, apps).
CREATE TABLE IF NOT EXISTS usage_daily (
    day               TEXT NOT NULL,         -- YYYY-MM-DD, UTC
    key_hash          TEXT NOT NULL,         -- '' for requests without a key
    model             TEXT NOT NULL,
    provider          TEXT NOT NULL,         -- '' when no provider answered
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens  INTEGER NOT NULL,
    cost              TEXT NOT NULL,         -- Decimal, USD
    PRIMARY KEY (day, key_hash, model, provider)
);

CREATE TABLE IF NOT EXISTS app_usage_daily (
    day      TEXT NOT NULL,
    model    TEXT NOT NULL,
    app      TEXT NOT NULL,                  -- the referer, or the title when no referer was sent
    title    TEXT,
    referer  TEXT,
    requests INTEGER NOT NULL,
    tokens   INTEGER NOT NULL,
    PRIMARY KEY (day, model, app)
);
