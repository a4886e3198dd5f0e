-- Holidays per schedule: marked on the timeline and counted apart in the load report.
CREATE TABLE schedule_holidays (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    day DATE NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX schedule_holidays_day ON schedule_holidays (schedule_id, day);
