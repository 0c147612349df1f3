-- When each model id first appeared in this gateway's catalog (see 003_models.sql).
CREATE TABLE IF NOT EXISTS models_seen (
    model_id   TEXT PRIMARY KEY,
    first_seen DOUBLE PRECISION NOT NULL
);
