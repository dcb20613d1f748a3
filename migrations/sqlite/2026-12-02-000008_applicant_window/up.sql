-- A main applicant's certificates by the end of their window, in one index:
-- every issuance and renewal asks which of the applicant's certificates may
-- still be in force. With two indexes the planner combined them and read every
-- certificate ending after the new one starts (the whole register, growing).
DROP INDEX certificates_main_kvk_idx;
CREATE INDEX certificates_main_kvk_ends_idx ON certificates (main_kvk, ends_at);
