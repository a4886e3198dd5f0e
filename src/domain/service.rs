//! Services (things that can break) and their integrations (where their alerts come from).

use chrono::{DateTime, Utc};

use super::incident::IntegrationKind;
use super::severity::SeverityMapping;
use super::validation::bounded_text;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_id: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who is paged, and in what order, when an incident of this service is not acknowledged.
    pub escalation_policy_id: Option<String>,
    /// Where incident changes are posted, if anywhere.
    pub webhook_url: Option<String>,
    /// `json` or `slack`.
    pub webhook_format: String,
    /// Signs each post (HMAC-SHA256), so the receiver can tell it came from here.
    pub webhook_secret: Option<String>,
}

impl Service {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

pub fn service_name(raw: &str) -> Result<String, String> {
    bounded_text(raw, "name", 100)
}

pub fn service_description(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > 2000 {
        return Err("description must be at most 2000 characters".into());
    }
    Ok(text.to_owned())
}

/// Optional per-integration limit on alerts per second, with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    pub fn new(per_second: i64, burst: Option<i64>) -> Result<Self, String> {
        if !(1..=100_000).contains(&per_second) {
            return Err("alerts per second must be between 1 and 100000".into());
        }
        let burst = burst.unwrap_or(per_second);
        if !(1..=1_000_000).contains(&burst) {
            return Err("burst must be between 1 and 1000000".into());
        }
        Ok(RateLimit {
            per_second: per_second as u32,
            burst: burst as u32,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: String,
    pub service_id: String,
    pub kind: IntegrationKind,
    pub name: String,
    /// The first characters of the key, to tell keys apart; the key itself is never stored.
    pub key_prefix: String,
    pub mapping: SeverityMapping,
    /// One incident per alert, instead of one per Alertmanager/Grafana group.
    pub per_alert: bool,
    pub rate_limit: Option<RateLimit>,
    /// Grafana's optional HMAC signing secret.
    pub signing_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Integration {
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_bounded() {
        assert_eq!(
            RateLimit::new(10, None),
            Ok(RateLimit {
                per_second: 10,
                burst: 10
            })
        );
        assert!(RateLimit::new(0, None).is_err());
        assert!(RateLimit::new(5, Some(0)).is_err());
    }

    #[test]
    fn names_and_descriptions_are_bounded() {
        assert_eq!(service_name("  checkout "), Ok("checkout".into()));
        assert!(service_name("").is_err());
        assert!(service_description(&"x".repeat(2001)).is_err());
    }
}
