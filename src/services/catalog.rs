//! Services and their integrations: create, edit, archive; webhook keys that are shown once,
//! rotated and revoked. Managers and admins do this (checked by the callers' extractors).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::crypto::{random_token, sha256_hex};
use crate::db::repo::integrations::{self, IntegrationSettings, NewIntegration};
use crate::db::repo::services::{self, NewService, ServiceChange};
use crate::db::repo::users;
use crate::db::{DbConn, is_unique_violation};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::incident::IntegrationKind;
use crate::domain::service::{Integration, RateLimit, Service, service_description, service_name};
use crate::domain::severity::{Severity, SeverityMapping};
use crate::domain::user::Role;
use crate::domain::validation::{FieldErrors, bounded_text};
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub name: String,
    pub description: String,
    /// A user id or e-mail address; empty for none.
    pub owner: String,
    /// An escalation policy's id; empty for none.
    pub escalation_policy: String,
    /// Where incident changes are posted; empty for nowhere.
    pub webhook_url: String,
    /// `json` (the default) or `slack`.
    pub webhook_format: String,
}

struct ValidService {
    name: String,
    description: String,
    owner_id: Option<String>,
    escalation_policy_id: Option<String>,
    webhook_url: Option<String>,
    webhook_format: &'static str,
}

fn check_webhook_format(raw: &str) -> Result<&'static str, String> {
    match raw.trim() {
        "" | "json" => Ok("json"),
        "slack" => Ok("slack"),
        other => Err(format!("'{other}' is not a format: json or slack")),
    }
}

fn validate_service(conn: &mut DbConn, input: &ServiceInput) -> Result<ValidService, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", service_name(&input.name));
    let description = errors.check("description", service_description(&input.description));
    let owner = input.owner.trim();
    let owner_id = if owner.is_empty() {
        None
    } else {
        let found = if owner.contains('@') {
            users::find_by_email(conn, &owner.to_lowercase())?
        } else if is_valid_id(owner) {
            users::find(conn, owner)?
        } else {
            None
        };
        match found {
            Some(u) if u.active => Some(u.id),
            _ => {
                errors.add("owner", format!("no active user '{owner}'"));
                None
            }
        }
    };
    let policy = input.escalation_policy.trim();
    let escalation_policy_id = if policy.is_empty() {
        None
    } else {
        if crate::services::escalation::policy_exists(conn, policy)? {
            Some(policy.to_owned())
        } else {
            errors.add(
                "escalation_policy_id",
                format!("there is no escalation policy '{policy}'"),
            );
            None
        }
    };
    let webhook_url = errors
        .check(
            "webhook_url",
            crate::domain::contact::webhook_url(&input.webhook_url),
        )
        .flatten();
    let webhook_format = errors
        .check(
            "webhook_format",
            check_webhook_format(&input.webhook_format),
        )
        .unwrap_or("json");
    match (name, description) {
        (Some(name), Some(description)) if errors.is_empty() => Ok(ValidService {
            name,
            description,
            owner_id,
            escalation_policy_id,
            webhook_url,
            webhook_format,
        }),
        _ => Err(AppError::Invalid(errors)),
    }
}

fn name_taken() -> AppError {
    AppError::invalid("name", "a service with this name already exists")
}

fn ensure_name_free(conn: &mut DbConn, name: &str, except: Option<&str>) -> Result<(), AppError> {
    match services::find_by_name(conn, name)? {
        Some(s) if Some(s.id.as_str()) != except => Err(name_taken()),
        _ => Ok(()),
    }
}

pub async fn create_service(
    st: &AppState,
    actor: &Actor,
    input: &ServiceInput,
) -> Result<Service, AppError> {
    let (input, actor, now) = (input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let valid = validate_service(c, &input)?;
            ensure_name_free(c, &valid.name, None)?;
            let id = new_id();
            let inserted = services::insert(
                c,
                &NewService {
                    id: &id,
                    name: &valid.name,
                    description: &valid.description,
                    owner_id: valid.owner_id.as_deref(),
                    escalation_policy_id: valid.escalation_policy_id.as_deref(),
                    webhook_url: valid.webhook_url.as_deref(),
                    webhook_format: valid.webhook_format,
                    webhook_secret: valid
                        .webhook_url
                        .as_ref()
                        .map(|_| crate::crypto::random_token(24))
                        .as_deref(),
                    now,
                },
            );
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                other => other?,
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ServiceCreated,
                Some(("service", &id)),
                &format!("service '{}'", valid.name),
            )?;
            services::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await
}

pub async fn update_service(
    st: &AppState,
    actor: &Actor,
    id: &str,
    input: &ServiceInput,
) -> Result<Service, AppError> {
    let (id, input, actor, now) = (id.to_owned(), input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let before = services::find(c, &id)?.ok_or(AppError::NotFound)?;
            let valid = validate_service(c, &input)?;
            ensure_name_free(c, &valid.name, Some(&id))?;
            // The secret stays across URL changes (receivers keep verifying); it is made when
            // the first URL is set.
            let secret = match (&valid.webhook_url, &before.webhook_secret) {
                (None, _) => None,
                (Some(_), Some(kept)) => Some(kept.clone()),
                (Some(_), None) => Some(crate::crypto::random_token(24)),
            };
            let change = ServiceChange {
                webhook_url: valid.webhook_url.as_deref(),
                webhook_format: valid.webhook_format,
                webhook_secret: secret.as_deref(),
                name: &valid.name,
                description: &valid.description,
                owner_id: valid.owner_id.as_deref(),
                escalation_policy_id: valid.escalation_policy_id.as_deref(),
            };
            match services::update(c, &id, &change, now) {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                other => other?,
            };
            let detail = if before.name == valid.name {
                format!("service '{}'", valid.name)
            } else {
                format!("service '{}' renamed to '{}'", before.name, valid.name)
            };
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ServiceUpdated,
                Some(("service", &id)),
                &detail,
            )?;
            services::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await
}

/// Archived services keep their history but accept no new alerts.
pub async fn set_archived(
    st: &AppState,
    actor: &Actor,
    id: &str,
    archived: bool,
) -> Result<Service, AppError> {
    let (id, actor, now) = (id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let service = services::find(c, &id)?.ok_or(AppError::NotFound)?;
            if service.is_archived() == archived {
                return Ok(service);
            }
            services::set_archived(c, &id, archived.then_some(now), now)?;
            let action = if archived {
                AuditAction::ServiceArchived
            } else {
                AuditAction::ServiceRestored
            };
            audit::record(
                c,
                now,
                &actor,
                action,
                Some(("service", &id)),
                &format!("service '{}'", service.name),
            )?;
            services::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await
        .inspect(|_| st.keys.clear())
}

pub async fn get_service(st: &AppState, id: &str) -> Result<Service, AppError> {
    let id = id.to_owned();
    st.db
        .read(move |c| services::find(c, &id).map_err(AppError::from))
        .await?
        .ok_or(AppError::NotFound)
}

/// A service by id or (case-insensitive) name, for API filters.
pub async fn find_service(st: &AppState, id_or_name: &str) -> Result<Option<Service>, AppError> {
    let key = id_or_name.to_owned();
    st.db
        .read(move |c| -> Result<Option<Service>, AppError> {
            if is_valid_id(&key)
                && let Some(s) = services::find(c, &key)?
            {
                return Ok(Some(s));
            }
            Ok(services::find_by_name(c, &key)?)
        })
        .await
}

pub async fn list_services(
    st: &AppState,
    include_archived: bool,
) -> Result<Vec<Service>, AppError> {
    st.db
        .read(move |c| services::list(c, include_archived).map_err(AppError::from))
        .await
}

/// A new integration and its key, which is shown this once.
pub struct IssuedKey {
    pub integration: Integration,
    pub key: String,
}

/// 192 random bits as 32 URL-safe characters: the length PagerDuty routing keys have, which
/// some clients check.
fn new_key() -> (String, String, String) {
    let key = random_token(24);
    let prefix: String = key.chars().take(6).collect();
    let hash = sha256_hex(&key);
    (key, hash, prefix)
}

pub async fn create_integration(
    st: &AppState,
    actor: &Actor,
    service_id: &str,
    kind: &str,
    name: Option<&str>,
) -> Result<IssuedKey, AppError> {
    let kind = kind
        .parse::<IntegrationKind>()
        .map_err(|e| AppError::invalid("kind", e))?;
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => bounded_text(n, "name", 100).map_err(|e| AppError::invalid("name", e))?,
        None => kind.display_name().to_owned(),
    };
    let (key, hash, prefix) = new_key();
    let (service_id, actor, now) = (service_id.to_owned(), actor.clone(), st.clock.now());
    let integration = st
        .db
        .write(move |c| {
            let service = services::find(c, &service_id)?.ok_or(AppError::NotFound)?;
            if service.is_archived() {
                return Err(AppError::Conflict(
                    "the service is archived; restore it first".into(),
                ));
            }
            let id = new_id();
            integrations::insert(
                c,
                &NewIntegration {
                    id: &id,
                    service_id: &service_id,
                    kind,
                    name: &name,
                    key_hash: &hash,
                    key_prefix: &prefix,
                    mapping: &SeverityMapping::default(),
                    now,
                },
            )?;
            let detail = format!("{kind} integration '{name}' for service '{}'", service.name);
            audit::record(
                c,
                now,
                &actor,
                AuditAction::IntegrationCreated,
                Some(("integration", &id)),
                &detail,
            )?;
            integrations::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(IssuedKey { integration, key })
}

pub async fn get_integration(
    st: &AppState,
    service_id: &str,
    id: &str,
) -> Result<Integration, AppError> {
    let id = id.to_owned();
    let found = st
        .db
        .read(move |c| integrations::find(c, &id).map_err(AppError::from))
        .await?;
    found
        .filter(|i| i.service_id == service_id)
        .ok_or(AppError::NotFound)
}

pub async fn list_integrations(
    st: &AppState,
    service_id: &str,
) -> Result<Vec<Integration>, AppError> {
    let service_id = service_id.to_owned();
    st.db
        .read(move |c| integrations::list_for_service(c, &service_id).map_err(AppError::from))
        .await
}

#[derive(Debug, Clone, Default)]
pub struct IntegrationInput {
    pub name: String,
    pub severity_label: String,
    /// `critical=P1, error=P2, ...`
    pub severity_words: String,
    pub default_severity: String,
    pub per_alert: bool,
    /// Empty for no limit.
    pub rate_limit_per_second: String,
    pub rate_limit_burst: String,
    /// Empty for none (Grafana signature check off).
    pub signing_secret: String,
}

impl IntegrationInput {
    pub fn from_integration(i: &Integration) -> Self {
        IntegrationInput {
            name: i.name.clone(),
            severity_label: i.mapping.label.clone(),
            severity_words: i.mapping.words_text(),
            default_severity: i.mapping.default.to_string(),
            per_alert: i.per_alert,
            rate_limit_per_second: i
                .rate_limit
                .map(|r| r.per_second.to_string())
                .unwrap_or_default(),
            rate_limit_burst: i
                .rate_limit
                .map(|r| r.burst.to_string())
                .unwrap_or_default(),
            signing_secret: i.signing_secret.clone().unwrap_or_default(),
        }
    }
}

fn parse_optional_number(field: &'static str, raw: &str, errors: &mut FieldErrors) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(field, "must be a whole number");
            None
        }
    }
}

pub async fn update_integration(
    st: &AppState,
    actor: &Actor,
    service_id: &str,
    id: &str,
    input: &IntegrationInput,
) -> Result<Integration, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", bounded_text(&input.name, "name", 100));
    let label = errors.check(
        "severity_label",
        bounded_text(&input.severity_label, "label", 100),
    );
    let words = errors.check(
        "severity_words",
        SeverityMapping::parse_words(&input.severity_words),
    );
    let default = errors.check(
        "default_severity",
        input.default_severity.parse::<Severity>(),
    );
    let per_second = parse_optional_number(
        "rate_limit_per_second",
        &input.rate_limit_per_second,
        &mut errors,
    );
    let burst = parse_optional_number("rate_limit_burst", &input.rate_limit_burst, &mut errors);
    let rate_limit = match per_second {
        Some(n) => errors.check("rate_limit_per_second", RateLimit::new(n, burst)),
        None => None,
    };
    let secret = input.signing_secret.trim().to_owned();
    if secret.chars().count() > 200 {
        errors.add("signing_secret", "must be at most 200 characters");
    }
    let (Some(name), Some(label), Some(words), Some(default)) = (name, label, words, default)
    else {
        return Err(AppError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let mapping = SeverityMapping {
        label,
        words,
        default,
    };
    let per_alert = input.per_alert;
    let (service_id, id, actor, now) = (
        service_id.to_owned(),
        id.to_owned(),
        actor.clone(),
        st.clock.now(),
    );
    let updated = st
        .db
        .write(move |c| {
            let current = integrations::find(c, &id)?
                .filter(|i| i.service_id == service_id)
                .ok_or(AppError::NotFound)?;
            if !current.is_live() {
                return Err(AppError::Conflict("this integration is revoked".into()));
            }
            let settings = IntegrationSettings {
                name: &name,
                mapping: &mapping,
                per_alert,
                rate_limit,
                signing_secret: (!secret.is_empty()).then_some(secret.as_str()),
            };
            integrations::update_settings(c, &id, &settings, now)?;
            let detail = format!(
                "integration '{name}': severity from label '{}' ({}; default {}), {}, rate limit {}",
                mapping.label,
                mapping.words_text(),
                mapping.default,
                if per_alert { "one incident per alert" } else { "one incident per group" },
                rate_limit.map_or("off".to_owned(), |r| format!("{}/s burst {}", r.per_second, r.burst)),
            );
            audit::record(c, now, &actor, AuditAction::IntegrationUpdated, Some(("integration", &id)), &detail)?;
            integrations::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    st.keys.clear();
    Ok(updated)
}

/// A new key for an integration; the old one stops working at once.
pub async fn rotate_key(
    st: &AppState,
    actor: &Actor,
    service_id: &str,
    id: &str,
) -> Result<IssuedKey, AppError> {
    let (key, hash, prefix) = new_key();
    let (service_id, id, actor, now) = (
        service_id.to_owned(),
        id.to_owned(),
        actor.clone(),
        st.clock.now(),
    );
    let integration = st
        .db
        .write(move |c| {
            let current = integrations::find(c, &id)?
                .filter(|i| i.service_id == service_id)
                .ok_or(AppError::NotFound)?;
            if integrations::set_key(c, &id, &hash, &prefix, now)? == 0 {
                return Err(AppError::Conflict("this integration is revoked".into()));
            }
            let detail = format!(
                "integration '{}': key {}… replaced by {prefix}…",
                current.name, current.key_prefix
            );
            audit::record(
                c,
                now,
                &actor,
                AuditAction::IntegrationKeyRotated,
                Some(("integration", &id)),
                &detail,
            )?;
            integrations::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    st.keys.clear();
    Ok(IssuedKey { integration, key })
}

pub async fn revoke_integration(
    st: &AppState,
    actor: &Actor,
    service_id: &str,
    id: &str,
) -> Result<Integration, AppError> {
    let (service_id, id, actor, now) = (
        service_id.to_owned(),
        id.to_owned(),
        actor.clone(),
        st.clock.now(),
    );
    let integration = st
        .db
        .write(move |c| {
            let current = integrations::find(c, &id)?
                .filter(|i| i.service_id == service_id)
                .ok_or(AppError::NotFound)?;
            if integrations::revoke(c, &id, now)? > 0 {
                let detail = format!("integration '{}' ({}…)", current.name, current.key_prefix);
                audit::record(
                    c,
                    now,
                    &actor,
                    AuditAction::IntegrationRevoked,
                    Some(("integration", &id)),
                    &detail,
                )?;
            }
            integrations::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    st.keys.clear();
    Ok(integration)
}

/// People who may own a service: managers and admins.
pub async fn possible_owners(st: &AppState) -> Result<Vec<crate::domain::user::User>, AppError> {
    let all = st
        .db
        .read(|c| users::list(c).map_err(AppError::from))
        .await?;
    Ok(all
        .into_iter()
        .filter(|u| u.active && u.role.allows(Role::Manager))
        .collect())
}

/// Webhook keys resolved recently, so a storm of alerts does not look its key up every time.
/// Changes made through this instance clear it at once; another instance's revocation takes
/// effect here within [`KeyCache::TTL`].
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Option<Integration>, Instant)>>,
}

impl KeyCache {
    pub const TTL: Duration = Duration::from_secs(5);
    const MAX_ENTRIES: usize = 10_000;

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The live integration for a presented key, or `None` for an unknown or revoked key.
    pub async fn resolve(&self, st: &AppState, key: &str) -> Result<Option<Integration>, AppError> {
        let hash = sha256_hex(key);
        if let Some((found, at)) = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            && at.elapsed() < Self::TTL
        {
            return Ok(found.clone());
        }
        let lookup = hash.clone();
        let found = st
            .db
            .read(move |c| integrations::find_live_by_key_hash(c, &lookup).map_err(AppError::from))
            .await?;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (found.clone(), Instant::now()));
        Ok(found)
    }
}
