-- What a certificate ever reached, so that a search for a level or PSO 30+ can
-- skip the companies that never held it (the status rule still decides).
ALTER TABLE certificates ADD COLUMN top_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN any_pso30plus BOOLEAN NOT NULL DEFAULT 0;
