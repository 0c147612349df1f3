-- Per-account provider keys (BYOK): an account's own keys for providers, encrypted with a key
-- derived from the installation secret (core/money/byok.py); `label` is the only part ever shown.
CREATE TABLE IF NOT EXISTS byok_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL,
    provider       TEXT NOT NULL,            -- the catalog provider slug
    name           TEXT,
    label          TEXT NOT NULL,            -- masked: the key's last characters
    secret         TEXT NOT NULL,            -- AES-GCM ciphertext (base64); '' once deleted
    is_fallback    BOOLEAN NOT NULL DEFAULT FALSE, -- tried after the shared keys, not before
    is_required    BOOLEAN NOT NULL DEFAULT FALSE, -- "always use this key": no shared key for this provider
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    allowed_models TEXT,                     -- JSON list, NULL: every model
    allowed_keys   TEXT,                     -- JSON list of API key hashes, NULL: every key of the account
    sort_order     INTEGER NOT NULL DEFAULT 0,
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     DOUBLE PRECISION NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL              -- moves on every change, for replicas' refresh
);
CREATE INDEX IF NOT EXISTS byok_keys_updated ON byok_keys (updated_at);
CREATE INDEX IF NOT EXISTS byok_keys_account ON byok_keys (account_id);

-- Per-account BYOK settings.
CREATE TABLE IF NOT EXISTS byok_accounts (
    account_id            TEXT PRIMARY KEY,
    include_byok_in_limit BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at            DOUBLE PRECISION NOT NULL
);
