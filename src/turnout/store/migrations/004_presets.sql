-- Presets: named, versioned request configurations (OpenRouter's presets). Each save makes a new
-- version; the newest one of a preset that is not archived is the one requests use.
CREATE TABLE IF NOT EXISTS presets (
    slug          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    name          TEXT NOT NULL,
    dialect       TEXT NOT NULL,             -- the wire dialect of `config`: openai | anthropic | responses
    config        TEXT NOT NULL,             -- JSON: the request fields the preset sets
    system_prompt TEXT,
    archived      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,             -- moves on every save or archive, for replicas' refresh
    PRIMARY KEY (slug, version)
);
CREATE INDEX IF NOT EXISTS presets_updated ON presets (updated_at);
