//! Queries on `services`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::services;
use crate::domain::service::Service;

#[derive(Queryable, Selectable)]
#[diesel(table_name = services)]
pub(crate) struct ServiceRow {
    id: String,
    name: String,
    description: String,
    owner_id: Option<String>,
    archived_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    escalation_policy_id: Option<String>,
    webhook_url: Option<String>,
    webhook_format: String,
    webhook_secret: Option<String>,
}

impl From<ServiceRow> for Service {
    fn from(r: ServiceRow) -> Self {
        Service {
            id: r.id,
            name: r.name,
            description: r.description,
            owner_id: r.owner_id,
            archived_at: r.archived_at.map(from_db),
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
            escalation_policy_id: r.escalation_policy_id,
            webhook_url: r.webhook_url,
            webhook_format: r.webhook_format,
            webhook_secret: r.webhook_secret,
        }
    }
}

pub struct NewService<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub owner_id: Option<&'a str>,
    pub escalation_policy_id: Option<&'a str>,
    pub webhook_url: Option<&'a str>,
    pub webhook_format: &'a str,
    pub webhook_secret: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewService<'_>) -> QueryResult<()> {
    diesel::insert_into(services::table)
        .values((
            services::id.eq(new.id),
            services::name.eq(new.name),
            services::name_key.eq(new.name.to_lowercase()),
            services::description.eq(new.description),
            services::owner_id.eq(new.owner_id),
            services::escalation_policy_id.eq(new.escalation_policy_id),
            services::webhook_url.eq(new.webhook_url),
            services::webhook_format.eq(new.webhook_format),
            services::webhook_secret.eq(new.webhook_secret),
            services::created_at.eq(to_db(new.now)),
            services::updated_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Service>> {
    Ok(services::table
        .find(id)
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()?
        .map(Service::from))
}

pub fn find_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<Service>> {
    Ok(services::table
        .filter(services::name_key.eq(name.trim().to_lowercase()))
        .select(ServiceRow::as_select())
        .first(conn)
        .optional()?
        .map(Service::from))
}

/// Active services first, each group by name.
pub fn list(conn: &mut DbConn, include_archived: bool) -> QueryResult<Vec<Service>> {
    let mut query = services::table.select(ServiceRow::as_select()).into_boxed();
    if !include_archived {
        query = query.filter(services::archived_at.is_null());
    }
    Ok(query
        .order((
            services::archived_at.is_not_null(),
            services::name_key.asc(),
        ))
        .load(conn)?
        .into_iter()
        .map(Service::from)
        .collect())
}

pub fn names(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    services::table
        .filter(services::id.eq_any(ids))
        .select((services::id, services::name))
        .load(conn)
}

pub struct ServiceChange<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub owner_id: Option<&'a str>,
    pub escalation_policy_id: Option<&'a str>,
    pub webhook_url: Option<&'a str>,
    pub webhook_format: &'a str,
    pub webhook_secret: Option<&'a str>,
}

pub fn update(
    conn: &mut DbConn,
    id: &str,
    change: &ServiceChange<'_>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(services::table.find(id))
        .set((
            services::name.eq(change.name),
            services::name_key.eq(change.name.to_lowercase()),
            services::description.eq(change.description),
            services::owner_id.eq(change.owner_id),
            services::escalation_policy_id.eq(change.escalation_policy_id),
            services::webhook_url.eq(change.webhook_url),
            services::webhook_format.eq(change.webhook_format),
            services::webhook_secret.eq(change.webhook_secret),
            services::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}

pub fn set_archived(
    conn: &mut DbConn,
    id: &str,
    archived: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(services::table.find(id))
        .set((
            services::archived_at.eq(archived.map(to_db)),
            services::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}
