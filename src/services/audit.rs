//! Writing and reading the audit log.

use chrono::{DateTime, Utc};
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::repo::audit::{self as repo, AuditEntry, AuditQuery, NewAuditEntry};
use crate::db::repo::to_db;
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::new_id;
use crate::error::AppError;
use crate::state::AppState;

/// What an audit entry is about, e.g. `("user", id)`.
pub type Target<'a> = Option<(&'a str, &'a str)>;

/// Appends one entry; call it inside the transaction that makes the change.
pub fn record(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    actor: &Actor,
    action: AuditAction,
    target: Target<'_>,
    detail: &str,
) -> QueryResult<()> {
    let id = new_id();
    repo::insert(
        conn,
        &NewAuditEntry {
            id: &id,
            at: to_db(now),
            actor_id: actor.user_id.as_deref(),
            actor: &actor.label,
            action: action.as_str(),
            target_type: target.map(|(kind, _)| kind),
            target_id: target.map(|(_, id)| id),
            detail,
            ip: actor.ip.as_deref(),
        },
    )
}

pub const PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// One page of entries, newest first, and the cursor of the next (older) page if there is one.
pub async fn list(
    st: &AppState,
    mut query: AuditQuery,
) -> Result<(Vec<AuditEntry>, Option<String>), AppError> {
    let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
    query.limit = limit + 1;
    let mut entries = st
        .db
        .read(move |c| repo::list(c, &query).map_err(AppError::from))
        .await?;
    let next = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok((entries, next))
}
