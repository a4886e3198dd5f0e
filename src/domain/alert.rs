//! Alerts as every monitoring tool's webhook becomes them: the parsers in `ingest/` produce
//! [`NormalizedAlert`]s, and nothing after them knows which tool sent what.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// What the sender wants done with the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    /// Firing: open an incident or attach to the open one.
    Trigger,
    /// The sender acknowledged it (PagerDuty Events v2 `acknowledge`).
    Acknowledge,
    /// No longer firing.
    Resolve,
}

impl AlertAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Trigger => "trigger",
            AlertAction::Acknowledge => "acknowledge",
            AlertAction::Resolve => "resolve",
        }
    }
}

/// A link the sender attached (runbook, dashboard, graph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLink {
    pub href: String,
    pub text: String,
}

/// One alert, in Lookout's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedAlert {
    /// The incident this alert belongs to, as the sender names it: Alertmanager's and Grafana's
    /// `groupKey`, PagerDuty's `dedup_key`, the generic `dedup_key`. `None` when the sender gave
    /// none; the integration then decides (see `ingest`).
    pub group_key: Option<String>,
    /// The alert's identity inside its group (Alertmanager's `fingerprint`). Senders without
    /// groups use the group key, or a hash of the title.
    pub fingerprint: String,
    pub action: AlertAction,
    /// This alert's own one-line summary.
    pub title: String,
    /// A title for the whole group, when the sender gives one (Alertmanager: the common summary
    /// or the group's alert name). Used as the incident title when alerts are grouped.
    pub group_title: Option<String>,
    pub description: Option<String>,
    /// The sender's own severity word when the format has a field for it (PagerDuty
    /// `payload.severity`, generic `severity`). Label-based formats leave it `None`; the
    /// integration's mapping reads the label instead.
    pub severity: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When the problem started, as the sender saw it (UTC, microseconds).
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ended; `None` for "not ended" (Alertmanager's `0001-01-01T00:00:00Z`).
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
    pub links: Vec<AlertLink>,
    /// Which system or host the alert is about (PagerDuty `source`, generic `source`).
    pub source: Option<String>,
}

impl NormalizedAlert {
    /// A firing alert with only a title, for building tests and hand-made alerts.
    pub fn firing(title: &str, fingerprint: &str) -> Self {
        NormalizedAlert {
            group_key: None,
            fingerprint: fingerprint.to_owned(),
            action: AlertAction::Trigger,
            title: title.to_owned(),
            group_title: None,
            description: None,
            severity: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: None,
            ends_at: None,
            generator_url: None,
            links: Vec::new(),
            source: None,
        }
    }
}
