ALTER TABLE users DROP COLUMN feed_generation;
DROP TABLE schedule_overrides;
DROP TABLE schedule_versions;
DROP TABLE schedules;
