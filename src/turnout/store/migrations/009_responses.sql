-- Responses API state (previous_response_id), shared by replicas and kept across restarts.
-- key_hash is '' for a response made without a key; messages is the conversation (JSON),
-- response the response object as answered (JSON); size is what counts against the quotas.
CREATE TABLE IF NOT EXISTS stored_responses (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    model      TEXT NOT NULL,
    messages   BLOB NOT NULL,
    response   BLOB,
    size       INTEGER NOT NULL,
    stored_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_responses_key ON stored_responses (key_hash, stored_at);
CREATE INDEX IF NOT EXISTS stored_responses_age ON stored_responses (stored_at);
