-- Repeats of an alert are collapsed into one timeline entry, found by incident and fingerprint:
-- without this index each repeat scanned the incident's whole timeline.
CREATE INDEX incident_events_alert ON incident_events (incident_id, alert_fingerprint, kind);
