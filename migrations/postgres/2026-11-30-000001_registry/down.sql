DROP TABLE replay_guard;
DROP TRIGGER events_no_update_or_delete ON events;
DROP FUNCTION events_append_only();
DROP TABLE events;
DROP TABLE coverage;
DROP TABLE periods;
DROP TABLE certificates;
DROP TABLE companies;
DROP TABLE certification_bodies;
