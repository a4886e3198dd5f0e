-- How each person is reached, beyond the account e-mail: more addresses, outbound webhooks.
CREATE TABLE contact_methods (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- email | webhook
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    -- Webhooks: the key their posts are signed with.
    secret TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX contact_methods_once ON contact_methods (user_id, kind, address);

-- When to use which: "immediately by e-mail", "again after 5 minutes by webhook if still
-- unacknowledged". A person without rules is paged at the account e-mail at once.
CREATE TABLE notification_rules (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL: the account e-mail.
    contact_method_id TEXT REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_minutes INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX notification_rules_once
    ON notification_rules (user_id, COALESCE(contact_method_id, ''), delay_minutes);

-- Which contact method a page goes to (NULL: the account e-mail, or a service webhook), and
-- whether it is dropped once the incident is no longer triggered (pages are; a resolve-deadline
-- notice to the owner is not).
ALTER TABLE notifications ADD COLUMN contact_method_id TEXT;
ALTER TABLE notifications ADD COLUMN only_while_triggered BOOLEAN NOT NULL DEFAULT FALSE;
