DROP TABLE evidence;
DROP FUNCTION evidence_kept();
