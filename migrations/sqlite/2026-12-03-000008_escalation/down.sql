DROP TABLE notifications;
DROP TABLE escalation_jobs;
ALTER TABLE services DROP COLUMN escalation_policy_id;
DROP TABLE escalation_policies;
