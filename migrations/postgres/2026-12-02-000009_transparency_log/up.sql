-- The transparency log over the event log (RFC 6962): every event a leaf, in
-- seq order, written in the event's own transaction.

-- Which event is which leaf: indexes are dense (0, 1, 2, ...), seqs need not be.
CREATE TABLE log_leaves (
    log_index BIGINT PRIMARY KEY,
    seq       BIGINT NOT NULL UNIQUE REFERENCES events (seq)
);

-- The hash of every complete subtree: level 0 holds the leaves' hashes, node
-- (level, idx) covers leaves idx * 2^level .. (idx + 1) * 2^level.
CREATE TABLE log_hashes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- The tree's size and right edge (the roots of its complete subtrees,
-- largest first): what the next append extends. Its row lock orders appends:
-- a writer takes it before its event gets a seq and holds it to commit.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    size     BIGINT NOT NULL,
    frontier BYTEA NOT NULL
);
INSERT INTO log_head (id, size, frontier) VALUES (1, 0, '\x'::bytea);

-- Signed checkpoints (C2SP signed notes), one per tree size.
CREATE TABLE log_checkpoints (
    size      BIGINT PRIMARY KEY,
    note      TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL
);

CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the log is append-only';
END;
$$;
CREATE TRIGGER log_leaves_append_only BEFORE UPDATE OR DELETE ON log_leaves
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_hashes_append_only BEFORE UPDATE OR DELETE ON log_hashes
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
