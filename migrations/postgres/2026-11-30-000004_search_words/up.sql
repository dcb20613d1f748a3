-- Name search on PostgreSQL, the same shape as on SQLite: a query token is
-- matched against the vocabulary of words in names (pg_trgm similarity and
-- prefix, GIN), and the companies holding the words found come from a full-text
-- GIN index over search_text. Word similarity over whole names scanned far too
-- many trigram postings for short, common words.
DROP INDEX companies_search_trgm_idx;
CREATE INDEX companies_search_words_idx ON companies USING gin (to_tsvector('simple', search_text));
CREATE INDEX search_words_trgm_idx ON search_words USING gin (word gin_trgm_ops);
