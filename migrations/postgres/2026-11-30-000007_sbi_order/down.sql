DROP INDEX company_sbi_sort_idx;
ALTER TABLE company_sbi DROP COLUMN sort_name;
