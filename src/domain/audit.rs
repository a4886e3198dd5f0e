//! What the audit log records: who did what to which thing.

use std::fmt;
use std::str::FromStr;

/// Every kind of audited change. Stored by its `as_str` name, so names never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Login,
    LoginFailed,
    LoginLockedOut,
    Logout,
    SetupCompleted,
    UserCreated,
    UserRoleChanged,
    UserDeactivated,
    UserReactivated,
    UserPasswordReset,
    UserPasswordChanged,
    UserProfileUpdated,
    TokenCreated,
    TokenRevoked,
    ServiceCreated,
    ServiceUpdated,
    ServiceArchived,
    ServiceRestored,
    IntegrationCreated,
    IntegrationUpdated,
    IntegrationKeyRotated,
    IntegrationRevoked,
    IncidentCreated,
    IncidentAcknowledged,
    IncidentResolved,
    IncidentNoteAdded,
    IncidentSeverityChanged,
    IncidentReassigned,
    IncidentEscalated,
    IncidentSnoozed,
    ScheduleCreated,
    ScheduleUpdated,
    ScheduleOverrideAdded,
    ScheduleOverrideRemoved,
    ScheduleFeedRotated,
    ScheduleSwapOffered,
    ScheduleSwapTaken,
    ScheduleSwapApproved,
    ScheduleSwapDeclined,
    ScheduleSwapCancelled,
    TimeOffAdded,
    TimeOffRemoved,
    EscalationPolicyCreated,
    EscalationPolicyUpdated,
    SeveritiesUpdated,
    UserFeedRotated,
    ContactMethodAdded,
    ContactMethodRemoved,
    NotificationRuleAdded,
    NotificationRuleRemoved,
}

impl AuditAction {
    pub const ALL: [AuditAction; 50] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::LoginLockedOut,
        AuditAction::Logout,
        AuditAction::SetupCompleted,
        AuditAction::UserCreated,
        AuditAction::UserRoleChanged,
        AuditAction::UserDeactivated,
        AuditAction::UserReactivated,
        AuditAction::UserPasswordReset,
        AuditAction::UserPasswordChanged,
        AuditAction::UserProfileUpdated,
        AuditAction::TokenCreated,
        AuditAction::TokenRevoked,
        AuditAction::ServiceCreated,
        AuditAction::ServiceUpdated,
        AuditAction::ServiceArchived,
        AuditAction::ServiceRestored,
        AuditAction::IntegrationCreated,
        AuditAction::IntegrationUpdated,
        AuditAction::IntegrationKeyRotated,
        AuditAction::IntegrationRevoked,
        AuditAction::IncidentCreated,
        AuditAction::IncidentAcknowledged,
        AuditAction::IncidentResolved,
        AuditAction::IncidentNoteAdded,
        AuditAction::IncidentSeverityChanged,
        AuditAction::IncidentReassigned,
        AuditAction::IncidentEscalated,
        AuditAction::IncidentSnoozed,
        AuditAction::ScheduleCreated,
        AuditAction::ScheduleUpdated,
        AuditAction::ScheduleOverrideAdded,
        AuditAction::ScheduleOverrideRemoved,
        AuditAction::ScheduleFeedRotated,
        AuditAction::ScheduleSwapOffered,
        AuditAction::ScheduleSwapTaken,
        AuditAction::ScheduleSwapApproved,
        AuditAction::ScheduleSwapDeclined,
        AuditAction::ScheduleSwapCancelled,
        AuditAction::TimeOffAdded,
        AuditAction::TimeOffRemoved,
        AuditAction::EscalationPolicyCreated,
        AuditAction::EscalationPolicyUpdated,
        AuditAction::SeveritiesUpdated,
        AuditAction::UserFeedRotated,
        AuditAction::ContactMethodAdded,
        AuditAction::ContactMethodRemoved,
        AuditAction::NotificationRuleAdded,
        AuditAction::NotificationRuleRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "auth.login",
            AuditAction::LoginFailed => "auth.login_failed",
            AuditAction::LoginLockedOut => "auth.locked_out",
            AuditAction::Logout => "auth.logout",
            AuditAction::SetupCompleted => "setup.completed",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserRoleChanged => "user.role_changed",
            AuditAction::UserDeactivated => "user.deactivated",
            AuditAction::UserReactivated => "user.reactivated",
            AuditAction::UserPasswordReset => "user.password_reset",
            AuditAction::UserPasswordChanged => "user.password_changed",
            AuditAction::UserProfileUpdated => "user.profile_updated",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::ServiceCreated => "service.created",
            AuditAction::ServiceUpdated => "service.updated",
            AuditAction::ServiceArchived => "service.archived",
            AuditAction::ServiceRestored => "service.restored",
            AuditAction::IntegrationCreated => "integration.created",
            AuditAction::IntegrationUpdated => "integration.updated",
            AuditAction::IntegrationKeyRotated => "integration.key_rotated",
            AuditAction::IntegrationRevoked => "integration.revoked",
            AuditAction::IncidentCreated => "incident.created",
            AuditAction::IncidentAcknowledged => "incident.acknowledged",
            AuditAction::IncidentResolved => "incident.resolved",
            AuditAction::IncidentNoteAdded => "incident.note_added",
            AuditAction::IncidentSeverityChanged => "incident.severity_changed",
            AuditAction::IncidentReassigned => "incident.reassigned",
            AuditAction::IncidentEscalated => "incident.escalated",
            AuditAction::IncidentSnoozed => "incident.snoozed",
            AuditAction::ScheduleCreated => "schedule.created",
            AuditAction::ScheduleUpdated => "schedule.updated",
            AuditAction::ScheduleOverrideAdded => "schedule.override_added",
            AuditAction::ScheduleOverrideRemoved => "schedule.override_removed",
            AuditAction::ScheduleFeedRotated => "schedule.feed_rotated",
            AuditAction::ScheduleSwapOffered => "schedule.swap_offered",
            AuditAction::ScheduleSwapTaken => "schedule.swap_taken",
            AuditAction::ScheduleSwapApproved => "schedule.swap_approved",
            AuditAction::ScheduleSwapDeclined => "schedule.swap_declined",
            AuditAction::ScheduleSwapCancelled => "schedule.swap_cancelled",
            AuditAction::TimeOffAdded => "time_off.added",
            AuditAction::TimeOffRemoved => "time_off.removed",
            AuditAction::EscalationPolicyCreated => "escalation_policy.created",
            AuditAction::EscalationPolicyUpdated => "escalation_policy.updated",
            AuditAction::SeveritiesUpdated => "settings.severities_updated",
            AuditAction::UserFeedRotated => "user.feed_rotated",
            AuditAction::ContactMethodAdded => "user.contact_method_added",
            AuditAction::ContactMethodRemoved => "user.contact_method_removed",
            AuditAction::NotificationRuleAdded => "user.notification_rule_added",
            AuditAction::NotificationRuleRemoved => "user.notification_rule_removed",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown audit action '{s}'"))
    }
}

/// Who made a change: a signed-in user, the command line, or the system itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<String>,
    /// What the log shows: the user's e-mail at the time, `cli` or `system`.
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn user(user_id: &str, email: &str, ip: Option<String>) -> Self {
        Actor {
            user_id: Some(user_id.to_owned()),
            label: email.to_owned(),
            ip,
        }
    }

    pub fn cli() -> Self {
        Actor {
            user_id: None,
            label: "cli".into(),
            ip: None,
        }
    }

    pub fn anonymous(ip: Option<String>) -> Self {
        Actor {
            user_id: None,
            label: "anonymous".into(),
            ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }
}
