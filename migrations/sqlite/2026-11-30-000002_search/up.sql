-- Search: companies by name (typo-tolerant, by prefix), place, sector, level,
-- status and CB. On SQLite the name index is a vocabulary of the words in
-- names with a trigram index over it (search_word_trigrams): the words a query
-- token may mean are found there, and the companies through search_company_words.

ALTER TABLE companies ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
ALTER TABLE companies ADD COLUMN city_key TEXT;
ALTER TABLE companies ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
DROP INDEX companies_name_idx;
CREATE INDEX companies_sort_idx ON companies (sort_name, kvk_number);
CREATE INDEX companies_city_idx ON companies (city_key, sort_name, kvk_number);
CREATE INDEX companies_province_idx ON companies (province, sort_name, kvk_number);

CREATE TABLE company_sbi (
    sbi_code   TEXT NOT NULL,
    kvk_number TEXT NOT NULL,
    PRIMARY KEY (sbi_code, kvk_number)
) WITHOUT ROWID;
CREATE INDEX company_sbi_kvk_idx ON company_sbi (kvk_number);

-- The first instant any period of the certificate is valid.
ALTER TABLE certificates ADD COLUMN starts_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
CREATE INDEX certificates_cb_idx ON certificates (cb_id, id);

CREATE TABLE search_words (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    word TEXT NOT NULL UNIQUE
);
CREATE TABLE search_word_trigrams (
    trigram TEXT NOT NULL,
    word_id INTEGER NOT NULL,
    PRIMARY KEY (trigram, word_id)
) WITHOUT ROWID;
CREATE TABLE search_company_words (
    word_id    INTEGER NOT NULL,
    kvk_number TEXT NOT NULL,
    PRIMARY KEY (word_id, kvk_number)
) WITHOUT ROWID;
CREATE INDEX search_company_words_kvk_idx ON search_company_words (kvk_number);
