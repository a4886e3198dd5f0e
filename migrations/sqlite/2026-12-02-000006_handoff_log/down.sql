DROP TABLE handoff_notes;
