-- Evidence an officer printed: the register's signed answer, kept under its
-- reference (the JWS's jti, PSO-XXXX-XXXX-XXXX-XXXX) so that the QR code on
-- the paper leads to it. Never changed, never removed.
CREATE TABLE evidence (
    reference     TEXT PRIMARY KEY,
    kvk_number    TEXT NOT NULL,
    signed_answer TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is kept as given'); END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence is kept as given'); END;
