-- What the plugin pipeline did for a generation (docs/plugins.md): a JSON list of steps.
ALTER TABLE generations ADD COLUMN pipeline TEXT NOT NULL DEFAULT '[]';
