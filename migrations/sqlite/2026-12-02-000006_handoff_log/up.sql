-- The duty log: notes the person on call writes during a shift, for whoever takes over.
CREATE TABLE handoff_notes (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    author_id TEXT REFERENCES users (id),
    author TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX handoff_notes_schedule ON handoff_notes (schedule_id, at);
