-- When each model id first appeared in this gateway's catalog: the `created` time of a model whose
-- catalog entry gives none. Written at start-up only (never on the request path).
CREATE TABLE IF NOT EXISTS models_seen (
    model_id   TEXT PRIMARY KEY,
    first_seen REAL NOT NULL
);
