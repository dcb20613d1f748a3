ALTER TABLE certificates DROP COLUMN history;
