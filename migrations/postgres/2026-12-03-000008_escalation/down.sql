DROP TABLE notifications;
DROP TABLE escalation_jobs;
ALTER TABLE services DROP COLUMN webhook_secret;
ALTER TABLE services DROP COLUMN webhook_format;
ALTER TABLE services DROP COLUMN webhook_url;
ALTER TABLE services DROP COLUMN escalation_policy_id;
DROP TABLE escalation_policies;
