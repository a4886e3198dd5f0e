//! Queries on `integrations`: webhook keys (stored as SHA-256) and their settings.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{corrupt, from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::{integrations, services};
use crate::domain::incident::IntegrationKind;
use crate::domain::service::{Integration, RateLimit};
use crate::domain::severity::{Severity, SeverityMapping};

#[derive(Queryable, Selectable)]
#[diesel(table_name = integrations)]
struct IntegrationRow {
    id: String,
    service_id: String,
    kind: String,
    name: String,
    key_prefix: String,
    severity_label: String,
    severity_words: String,
    default_severity: String,
    per_alert: bool,
    rate_limit_per_second: Option<i32>,
    rate_limit_burst: Option<i32>,
    signing_secret: Option<String>,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

impl TryFrom<IntegrationRow> for Integration {
    type Error = diesel::result::Error;

    fn try_from(r: IntegrationRow) -> Result<Self, Self::Error> {
        let kind = r
            .kind
            .parse::<IntegrationKind>()
            .map_err(|_| corrupt("integration kind", &r.kind))?;
        let default = r
            .default_severity
            .parse::<Severity>()
            .map_err(|_| corrupt("default severity", &r.default_severity))?;
        let words = SeverityMapping::parse_words(&r.severity_words)
            .map_err(|_| corrupt("severity words", &r.severity_words))?;
        let rate_limit = match r.rate_limit_per_second {
            Some(per_second) => Some(
                RateLimit::new(i64::from(per_second), r.rate_limit_burst.map(i64::from))
                    .map_err(|_| corrupt("rate limit", &per_second.to_string()))?,
            ),
            None => None,
        };
        Ok(Integration {
            id: r.id,
            service_id: r.service_id,
            kind,
            name: r.name,
            key_prefix: r.key_prefix,
            mapping: SeverityMapping {
                label: r.severity_label,
                words,
                default,
            },
            per_alert: r.per_alert,
            rate_limit,
            signing_secret: r.signing_secret,
            created_at: from_db(r.created_at),
            revoked_at: r.revoked_at.map(from_db),
        })
    }
}

pub struct NewIntegration<'a> {
    pub id: &'a str,
    pub service_id: &'a str,
    pub kind: IntegrationKind,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub mapping: &'a SeverityMapping,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewIntegration<'_>) -> QueryResult<()> {
    diesel::insert_into(integrations::table)
        .values((
            integrations::id.eq(new.id),
            integrations::service_id.eq(new.service_id),
            integrations::kind.eq(new.kind.as_str()),
            integrations::name.eq(new.name),
            integrations::key_hash.eq(new.key_hash),
            integrations::key_prefix.eq(new.key_prefix),
            integrations::severity_label.eq(&new.mapping.label),
            integrations::severity_words.eq(new.mapping.words_text()),
            integrations::default_severity.eq(new.mapping.default.as_str()),
            integrations::created_at.eq(to_db(new.now)),
            integrations::updated_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Integration>> {
    integrations::table
        .find(id)
        .select(IntegrationRow::as_select())
        .first(conn)
        .optional()?
        .map(Integration::try_from)
        .transpose()
}

/// The live integration whose key hashes to `key_hash`, on a service that is not archived.
pub fn find_live_by_key_hash(
    conn: &mut DbConn,
    key_hash: &str,
) -> QueryResult<Option<Integration>> {
    integrations::table
        .inner_join(services::table)
        .filter(integrations::key_hash.eq(key_hash))
        .filter(integrations::revoked_at.is_null())
        .filter(services::archived_at.is_null())
        .select(IntegrationRow::as_select())
        .first(conn)
        .optional()?
        .map(Integration::try_from)
        .transpose()
}

pub fn list_for_service(conn: &mut DbConn, service_id: &str) -> QueryResult<Vec<Integration>> {
    integrations::table
        .filter(integrations::service_id.eq(service_id))
        .order((
            integrations::revoked_at.is_not_null(),
            integrations::id.asc(),
        ))
        .select(IntegrationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Integration::try_from)
        .collect()
}

pub struct IntegrationSettings<'a> {
    pub name: &'a str,
    pub mapping: &'a SeverityMapping,
    pub per_alert: bool,
    pub rate_limit: Option<RateLimit>,
    pub signing_secret: Option<&'a str>,
}

pub fn update_settings(
    conn: &mut DbConn,
    id: &str,
    s: &IntegrationSettings<'_>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(integrations::table.find(id))
        .set((
            integrations::name.eq(s.name),
            integrations::severity_label.eq(&s.mapping.label),
            integrations::severity_words.eq(s.mapping.words_text()),
            integrations::default_severity.eq(s.mapping.default.as_str()),
            integrations::per_alert.eq(s.per_alert),
            integrations::rate_limit_per_second.eq(s.rate_limit.map(|r| r.per_second as i32)),
            integrations::rate_limit_burst.eq(s.rate_limit.map(|r| r.burst as i32)),
            integrations::signing_secret.eq(s.signing_secret),
            integrations::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}

pub fn set_key(
    conn: &mut DbConn,
    id: &str,
    key_hash: &str,
    key_prefix: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        integrations::table
            .find(id)
            .filter(integrations::revoked_at.is_null()),
    )
    .set((
        integrations::key_hash.eq(key_hash),
        integrations::key_prefix.eq(key_prefix),
        integrations::updated_at.eq(to_db(now)),
    ))
    .execute(conn)
}

pub fn revoke(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        integrations::table
            .find(id)
            .filter(integrations::revoked_at.is_null()),
    )
    .set((
        integrations::revoked_at.eq(to_db(now)),
        integrations::updated_at.eq(to_db(now)),
    ))
    .execute(conn)
}
