-- Swap requests: a participant offers part of their duty; another takes it. When the schedule
-- wants a manager's approval, an accepted swap waits for it. A swap that goes through becomes an
-- ordinary override (override_id), so the rotation maths needs to know nothing of swaps.
ALTER TABLE schedules ADD COLUMN swaps_need_approval BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE swap_requests (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    requester_id TEXT NOT NULL REFERENCES users (id),
    -- When set, only this person may take the swap.
    offered_to TEXT REFERENCES users (id),
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    -- open, awaiting_approval, done, declined, cancelled
    state TEXT NOT NULL,
    taker_id TEXT REFERENCES users (id),
    override_id TEXT REFERENCES schedule_overrides (id),
    decided_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX swap_requests_schedule ON swap_requests (schedule_id, end_at);
CREATE INDEX swap_requests_state ON swap_requests (state);

-- Leave. Times are instants (a day off starts at local midnight of whoever takes it).
CREATE TABLE time_off (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX time_off_time ON time_off (end_at, start_at);
CREATE INDEX time_off_user ON time_off (user_id, end_at);
