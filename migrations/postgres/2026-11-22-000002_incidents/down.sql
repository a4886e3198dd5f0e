DROP TABLE counters;
DROP TABLE severity_levels;
DROP TABLE incident_events;
DROP TABLE alerts;
DROP TABLE incidents;
DROP TABLE integrations;
DROP TABLE services;
