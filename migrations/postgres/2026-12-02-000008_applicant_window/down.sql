DROP INDEX certificates_main_kvk_ends_idx;
CREATE INDEX certificates_main_kvk_idx ON certificates (main_kvk);
