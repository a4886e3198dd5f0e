-- Escalation policies: ordered steps, each naming people and schedules and a delay before the
-- next step; the whole list repeats `repeat` more times. The steps are one JSON document, read
-- and written whole (like a schedule's layers).
CREATE TABLE escalation_policies (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    repeat_count INTEGER NOT NULL DEFAULT 0,
    steps TEXT NOT NULL,
    -- An acknowledged incident with no activity for its severity's acknowledge window goes back
    -- to triggered and pages again.
    retrigger_stale_ack BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX escalation_policies_name_key ON escalation_policies (name_key);

ALTER TABLE services ADD COLUMN escalation_policy_id TEXT REFERENCES escalation_policies (id);
-- Outbound webhook: told when an incident opens, escalates, is acknowledged or resolved. json
-- (our own body) or slack ({"text": ...}); signed with HMAC-SHA256 under webhook_secret.
ALTER TABLE services ADD COLUMN webhook_url TEXT;
ALTER TABLE services ADD COLUMN webhook_format TEXT NOT NULL DEFAULT 'json';
ALTER TABLE services ADD COLUMN webhook_secret TEXT;

-- Due work. A row is written in the same transaction as the change that causes it (an incident
-- opens, its severity changes), so a crash or restart loses nothing; the engine claims due rows
-- and marks them done in the transaction that acts on them. kind: step, ack_sla, resolve_sla.
-- `step` counts through the repeats (0, 1, 2, ...); `cycle` counts the times the incident went
-- back to triggered (a snooze ending, a stale acknowledgement), each starting again at step 1.
-- kind also: snooze, stale_ack. The unique index makes each step of each cycle happen once,
-- whatever races.
CREATE TABLE escalation_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    cycle INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    done_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX escalation_jobs_once ON escalation_jobs (incident_id, kind, cycle, step);
CREATE INDEX escalation_jobs_due ON escalation_jobs (due_at) WHERE done_at IS NULL;

-- The outbox: one row per message to send, written with the decision that causes it, delivered
-- after commit with retries. idempotency_key is unique: a step that runs again cannot page twice.
-- state: pending, sent, failed (permanently), off (no transport configured).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id),
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    -- For webhooks: opened, escalated, acknowledged, resolved.
    event TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- While a delivery is under way elsewhere; another instance leaves the row alone until then.
    leased_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX notifications_once ON notifications (idempotency_key);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id);
