//! Incidents: their states, what people and monitoring tools may do to them, and the rules that
//! decide which incident an alert belongs to.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::severity::Severity;

/// `triggered` -> `acknowledged` -> `resolved`; resolving works from either open state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 3] = [
        IncidentStatus::Triggered,
        IncidentStatus::Acknowledged,
        IncidentStatus::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub fn is_open(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "triggered" => Ok(IncidentStatus::Triggered),
            "acknowledged" => Ok(IncidentStatus::Acknowledged),
            "resolved" => Ok(IncidentStatus::Resolved),
            other => Err(format!(
                "unknown status '{other}'; expected triggered, acknowledged or resolved"
            )),
        }
    }
}

/// The result of asking for a state change: done, or already so (a double click is harmless).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Changed,
    AlreadyDone,
}

/// Acknowledging works on a triggered incident; an acknowledged one stays as it is. A resolved
/// incident cannot be acknowledged.
pub fn acknowledge(current: IncidentStatus) -> Result<Transition, &'static str> {
    match current {
        IncidentStatus::Triggered => Ok(Transition::Changed),
        IncidentStatus::Acknowledged => Ok(Transition::AlreadyDone),
        IncidentStatus::Resolved => Err("the incident is already resolved"),
    }
}

pub fn resolve(current: IncidentStatus) -> Transition {
    match current {
        IncidentStatus::Resolved => Transition::AlreadyDone,
        _ => Transition::Changed,
    }
}

/// Response times for one severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTimes {
    pub ack_within: Duration,
    pub resolve_within: Duration,
}

impl ResponseTimes {
    pub fn defaults(severity: Severity) -> Self {
        ResponseTimes {
            ack_within: severity.default_ack_within(),
            resolve_within: severity.default_resolve_within(),
        }
    }

    /// (acknowledge deadline, resolve deadline) for an incident opened at `opened`.
    pub fn deadlines(&self, opened: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (opened + self.ack_within, opened + self.resolve_within)
    }
}

/// Whether the acknowledge deadline has passed without an acknowledgement.
pub fn ack_overdue(
    status: IncidentStatus,
    ack_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    status == IncidentStatus::Triggered && now > ack_deadline
}

/// A key that opened more than this many incidents within [`FLAPPING_WINDOW`] is flapping.
pub const FLAPPING_THRESHOLD: i64 = 3;
pub const FLAPPING_WINDOW: Duration = Duration::hours(1);

/// Whether a new incident for a key is flapping, given how many incidents the key opened within
/// the last hour before it.
pub fn is_flapping(earlier_in_window: i64) -> bool {
    earlier_in_window >= FLAPPING_THRESHOLD
}

/// Where monitoring alerts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    Alertmanager,
    Grafana,
    PagerDuty,
    Generic,
}

impl IntegrationKind {
    pub const ALL: [IntegrationKind; 4] = [
        IntegrationKind::Alertmanager,
        IntegrationKind::Grafana,
        IntegrationKind::PagerDuty,
        IntegrationKind::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::Grafana => "grafana",
            IntegrationKind::PagerDuty => "pagerduty",
            IntegrationKind::Generic => "generic",
        }
    }

    /// How the sender is named on timelines ("resolved by Alertmanager").
    pub fn display_name(self) -> &'static str {
        match self {
            IntegrationKind::Alertmanager => "Alertmanager",
            IntegrationKind::Grafana => "Grafana",
            IntegrationKind::PagerDuty => "PagerDuty Events API",
            IntegrationKind::Generic => "Generic webhook",
        }
    }

    /// Alertmanager and Grafana group alerts; the others send one alert per key.
    pub fn groups_alerts(self) -> bool {
        matches!(
            self,
            IntegrationKind::Alertmanager | IntegrationKind::Grafana
        )
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntegrationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntegrationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown kind '{s}'; expected alertmanager, grafana, pagerduty or generic")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_changes_are_idempotent_where_people_double_click() {
        assert_eq!(
            acknowledge(IncidentStatus::Triggered),
            Ok(Transition::Changed)
        );
        assert_eq!(
            acknowledge(IncidentStatus::Acknowledged),
            Ok(Transition::AlreadyDone)
        );
        assert!(acknowledge(IncidentStatus::Resolved).is_err());
        assert_eq!(resolve(IncidentStatus::Triggered), Transition::Changed);
        assert_eq!(resolve(IncidentStatus::Acknowledged), Transition::Changed);
        assert_eq!(resolve(IncidentStatus::Resolved), Transition::AlreadyDone);
    }

    #[test]
    fn deadlines_follow_the_severity() {
        let opened = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let (ack, resolve) = ResponseTimes::defaults(Severity::P0).deadlines(opened);
        assert_eq!(ack - opened, Duration::minutes(15));
        assert_eq!(resolve - opened, Duration::hours(4));
        assert!(!ack_overdue(IncidentStatus::Triggered, ack, ack));
        assert!(ack_overdue(
            IncidentStatus::Triggered,
            ack,
            ack + Duration::seconds(1)
        ));
        assert!(!ack_overdue(
            IncidentStatus::Acknowledged,
            ack,
            ack + Duration::hours(1)
        ));
    }

    #[test]
    fn the_fourth_incident_of_a_key_within_an_hour_is_flapping() {
        assert!(!is_flapping(2));
        assert!(is_flapping(3));
    }

    #[test]
    fn kinds_parse() {
        for k in IntegrationKind::ALL {
            assert_eq!(k.as_str().parse::<IntegrationKind>(), Ok(k));
        }
        assert!("nagios".parse::<IntegrationKind>().is_err());
    }
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub number: i64,
    pub service_id: String,
    pub integration_id: Option<String>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub dedup_key: Option<String>,
    pub alert_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_alert_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by_id: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by_id: Option<String>,
    pub resolved_by: Option<String>,
    pub assignee_id: Option<String>,
    pub ack_deadline: DateTime<Utc>,
    pub resolve_deadline: DateTime<Utc>,
    pub sla_breached: bool,
    pub escalation_step: i32,
    pub previous_incident_id: Option<String>,
    pub flapping: bool,
    pub version: i64,
}

impl Incident {
    /// Breached when marked so, or when the acknowledge deadline passed while still triggered.
    pub fn sla_breached_at(&self, now: DateTime<Utc>) -> bool {
        self.sla_breached || ack_overdue(self.status, self.ack_deadline, now)
    }
}
