ALTER TABLE certificates DROP COLUMN any_pso30plus;
ALTER TABLE certificates DROP COLUMN top_level;
