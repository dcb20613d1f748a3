DELETE FROM search_company_words;
DROP INDEX search_company_words_kvk_idx;
CREATE INDEX companies_search_words_idx ON companies USING gin (to_tsvector('simple', search_text));
