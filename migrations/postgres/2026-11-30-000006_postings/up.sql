-- Name search on PostgreSQL as on SQLite: each vocabulary word's companies in
-- a posting list ordered by KvK number, so that a common word is walked in
-- order and left as soon as a page is full. The full-text GIN index gave the
-- companies of a word only all at once, unordered.
DROP INDEX companies_search_words_idx;
CREATE INDEX search_company_words_kvk_idx ON search_company_words (kvk_number);
INSERT INTO search_company_words (word_id, kvk_number)
SELECT DISTINCT w.id, c.kvk_number
FROM companies c
CROSS JOIN LATERAL unnest(string_to_array(c.search_text, ' ')) AS t(word)
JOIN search_words w ON w.word = t.word
ON CONFLICT DO NOTHING;
