//! Queries on `audit_log`: append-only; read newest first.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::audit_log;

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: &'a str,
    pub at: NaiveDateTime,
    pub actor_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub detail: &'a str,
    pub ip: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: String,
    at: NaiveDateTime,
    actor_id: Option<String>,
    actor: String,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    detail: String,
    ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: from_db(r.at),
            actor_id: r.actor_id,
            actor: r.actor,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            detail: r.detail,
            ip: r.ip,
        }
    }
}

pub fn insert(conn: &mut DbConn, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries made by this user or about this user.
    pub user_id: Option<String>,
    pub action: Option<String>,
    /// Cursor: only entries older than this id (ids are time-ordered).
    pub before: Option<String>,
    pub limit: i64,
}

/// Newest first. Ids are UUIDv7, so ordering by id is ordering by time of writing.
pub fn list(conn: &mut DbConn, q: &AuditQuery) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(user_id) = &q.user_id {
        query = query.filter(
            audit_log::actor_id
                .eq(user_id.clone())
                .or(audit_log::target_type
                    .eq("user")
                    .and(audit_log::target_id.eq(user_id.clone()))),
        );
    }
    if let Some(action) = &q.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(before) = &q.before {
        query = query.filter(audit_log::id.lt(before.clone()));
    }
    let rows = query
        .order(audit_log::id.desc())
        .limit(q.limit)
        .load(conn)?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

pub fn count_action_since(
    conn: &mut DbConn,
    action: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .filter(audit_log::at.ge(to_db(since)))
        .count()
        .get_result(conn)
}
