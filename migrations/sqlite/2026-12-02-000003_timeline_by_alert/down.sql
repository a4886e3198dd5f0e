DROP INDEX incident_events_alert;
