DROP INDEX search_words_trgm_idx;
DROP INDEX companies_search_words_idx;
CREATE INDEX companies_search_trgm_idx ON companies USING gin (search_text gin_trgm_ops);
