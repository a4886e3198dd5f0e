-- Services, their integrations (webhook keys), incidents, the alerts inside them, and each
-- incident's timeline. Also the response times per severity and a counter for incident numbers.

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- Lower-cased name: two services may not differ only in case.
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id TEXT REFERENCES users (id),
    archived_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX services_name_key ON services (name_key);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY NOT NULL,
    service_id TEXT NOT NULL REFERENCES services (id),
    kind TEXT NOT NULL CHECK (kind IN ('alertmanager', 'grafana', 'pagerduty', 'generic')),
    name TEXT NOT NULL,
    -- The key is shown once; only its SHA-256 is kept.
    key_hash TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    severity_label TEXT NOT NULL DEFAULT 'severity',
    severity_words TEXT NOT NULL,
    default_severity TEXT NOT NULL DEFAULT 'P2',
    -- One incident per alert instead of one per Alertmanager group.
    per_alert BOOLEAN NOT NULL DEFAULT FALSE,
    rate_limit_per_second INTEGER,
    rate_limit_burst INTEGER,
    signing_secret TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE UNIQUE INDEX integrations_key_hash ON integrations (key_hash);
CREATE INDEX integrations_service ON integrations (service_id);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL,
    service_id TEXT NOT NULL REFERENCES services (id),
    integration_id TEXT REFERENCES integrations (id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    status TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    dedup_key TEXT,
    alert_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_alert_at TIMESTAMP,
    acknowledged_at TIMESTAMP,
    acknowledged_by_id TEXT REFERENCES users (id),
    acknowledged_by TEXT,
    resolved_at TIMESTAMP,
    resolved_by_id TEXT REFERENCES users (id),
    resolved_by TEXT,
    assignee_id TEXT REFERENCES users (id),
    ack_deadline TIMESTAMP NOT NULL,
    resolve_deadline TIMESTAMP NOT NULL,
    sla_breached BOOLEAN NOT NULL DEFAULT FALSE,
    escalation_step INTEGER NOT NULL DEFAULT 0,
    previous_incident_id TEXT REFERENCES incidents (id),
    flapping BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped on every change, for live updates and to detect concurrent edits.
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX incidents_number ON incidents (number);
-- The backstop against duplicates: one open incident per key and service, whatever races.
CREATE UNIQUE INDEX incidents_open_key ON incidents (service_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_status ON incidents (status, id);
CREATE INDEX incidents_service ON incidents (service_id, id);
CREATE INDEX incidents_severity ON incidents (severity, id);
CREATE INDEX incidents_key_history ON incidents (service_id, dedup_key, created_at);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    links TEXT NOT NULL DEFAULT '[]',
    generator_url TEXT,
    source TEXT,
    starts_at TIMESTAMP,
    ends_at TIMESTAMP,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    occurrences BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX alerts_incident_fingerprint ON alerts (incident_id, fingerprint);

CREATE TABLE incident_events (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT REFERENCES users (id),
    actor TEXT NOT NULL,
    message TEXT NOT NULL,
    -- Repeats of one alert are one entry with a count, not a wall of identical lines.
    alert_fingerprint TEXT,
    repeats BIGINT NOT NULL DEFAULT 1,
    last_at TIMESTAMP NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
CREATE INDEX incident_events_recent ON incident_events (last_at);

CREATE TABLE severity_levels (
    severity TEXT PRIMARY KEY NOT NULL,
    ack_within_minutes INTEGER NOT NULL,
    resolve_within_minutes INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO severity_levels (severity, ack_within_minutes, resolve_within_minutes, updated_at) VALUES
    ('P0', 15, 240, '2026-11-22 00:00:00'),
    ('P1', 60, 1440, '2026-11-22 00:00:00'),
    ('P2', 240, 4320, '2026-11-22 00:00:00'),
    ('P3', 1440, 10080, '2026-11-22 00:00:00');

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident_number', 0);
