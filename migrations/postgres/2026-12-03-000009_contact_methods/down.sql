ALTER TABLE notifications DROP COLUMN only_while_triggered;
ALTER TABLE notifications DROP COLUMN contact_method_id;
DROP TABLE notification_rules;
DROP TABLE contact_methods;
