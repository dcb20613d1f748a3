-- Evidence an officer printed: the register's signed answer, kept under its
-- reference (the JWS's jti, PSO-XXXX-XXXX-XXXX-XXXX) so that the QR code on
-- the paper leads to it. Never changed, never removed.
CREATE TABLE evidence (
    reference     TEXT PRIMARY KEY,
    kvk_number    TEXT NOT NULL,
    signed_answer TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE FUNCTION evidence_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence is kept as given';
END;
$$;
CREATE TRIGGER evidence_kept BEFORE UPDATE OR DELETE ON evidence
    FOR EACH ROW EXECUTE FUNCTION evidence_kept();
