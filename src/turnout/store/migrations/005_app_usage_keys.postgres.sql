-- App roll-ups per key (see the SQLite migration 003): rows from before belong to no key ('').
ALTER TABLE app_usage_daily ADD COLUMN IF NOT EXISTS key_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE app_usage_daily DROP CONSTRAINT IF EXISTS app_usage_daily_pkey;
ALTER TABLE app_usage_daily ADD PRIMARY KEY (day, model, key_hash, app)
