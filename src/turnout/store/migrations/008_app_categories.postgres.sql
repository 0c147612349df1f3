-- The categories an app gave itself (X-OpenRouter-Categories, from OpenRouter's list): an app is
-- the referer's origin, else its title, as in app_usage_daily.
CREATE TABLE IF NOT EXISTS app_categories (
    app        TEXT NOT NULL,
    category   TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (app, category)
);
CREATE INDEX IF NOT EXISTS app_categories_category ON app_categories (category);
