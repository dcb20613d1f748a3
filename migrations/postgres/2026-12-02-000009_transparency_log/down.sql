DROP TABLE log_checkpoints;
DROP TABLE log_head;
DROP TABLE log_hashes;
DROP TABLE log_leaves;
DROP FUNCTION log_append_only();
