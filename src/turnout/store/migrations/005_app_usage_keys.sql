-- App roll-ups per key: a key's own apps (with their referer) are shown to that key and to admins;
-- everyone else sees only the apps that named themselves with X-Title. Rows rolled up before this
-- migration belong to no key ('') and so are shown to others by title only.
CREATE TABLE app_usage_keyed (
    day      TEXT NOT NULL,
    model    TEXT NOT NULL,
    key_hash TEXT NOT NULL,                  -- '' for requests without a key
    app      TEXT NOT NULL,                  -- the referer's origin, or the title when no referer was sent
    title    TEXT,
    referer  TEXT,                           -- an origin: scheme://host[:port]
    requests INTEGER NOT NULL,
    tokens   INTEGER NOT NULL,
    PRIMARY KEY (day, model, key_hash, app)
);
INSERT INTO app_usage_keyed (day, model, key_hash, app, title, referer, requests, tokens)
    SELECT day, model, '', app, title, referer, requests, tokens FROM app_usage_daily;
DROP TABLE app_usage_daily;
ALTER TABLE app_usage_keyed RENAME TO app_usage_daily;
