-- Duty schedules. A schedule's rotation layers are kept as versions: an edit adds a version in
-- force from the moment of the edit, so who was on call in the past never changes. The layers of
-- a version are one JSON document (name, rotation, start, hand-off, participants by user id,
-- restrictions): they are always read and written whole.

CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    time_zone TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Bumped by every change, so two managers editing at once cannot overwrite each other.
    version BIGINT NOT NULL DEFAULT 1,
    -- The calendar feed's token is signed over this number; bumping it revokes the old link.
    feed_generation BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX schedules_name_key ON schedules (name_key);

CREATE TABLE schedule_versions (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    effective_from TIMESTAMP NOT NULL,
    layers TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX schedule_versions_from ON schedule_versions (schedule_id, effective_from);

CREATE TABLE schedule_overrides (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX schedule_overrides_time ON schedule_overrides (schedule_id, end_at);

-- Each person's own on-call calendar feed, revocable the same way.
ALTER TABLE users ADD COLUMN feed_generation BIGINT NOT NULL DEFAULT 0;
