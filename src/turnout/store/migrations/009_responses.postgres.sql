-- Responses API state (previous_response_id); see the SQLite migration 006.
CREATE TABLE IF NOT EXISTS stored_responses (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    model      TEXT NOT NULL,
    messages   BYTEA NOT NULL,
    response   BYTEA,
    size       BIGINT NOT NULL,
    stored_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_responses_key ON stored_responses (key_hash, stored_at);
CREATE INDEX IF NOT EXISTS stored_responses_age ON stored_responses (stored_at)
