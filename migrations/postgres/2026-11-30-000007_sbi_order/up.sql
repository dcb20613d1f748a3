-- A company's SBI codes carry its name order, so that a sector's companies are
-- listed by name from an index however many the register holds (the name
-- index with a sector filter walked every name before the sector's first).
ALTER TABLE company_sbi ADD COLUMN sort_name TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE company_sbi SET sort_name = c.sort_name FROM companies c WHERE c.kvk_number = company_sbi.kvk_number;
CREATE INDEX company_sbi_sort_idx ON company_sbi (sbi_code, sort_name, kvk_number);
