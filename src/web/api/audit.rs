//! `/api/v1/audit`: the audit log for admins, newest first, with a cursor for older entries.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::rfc3339;
use crate::db::repo::audit::{AuditEntry, AuditQuery};
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;
use crate::web::extract::{RequireRole, role};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditParams {
    pub user: Option<String>,
    pub action: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditJson {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
}

impl From<AuditEntry> for AuditJson {
    fn from(e: AuditEntry) -> Self {
        AuditJson {
            at: rfc3339(&e.at),
            id: e.id,
            actor: e.actor,
            actor_id: e.actor_id,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            detail: e.detail,
            ip: e.ip,
        }
    }
}

pub async fn list(
    st: web::Data<AppState>,
    _admin: RequireRole<role::Admin>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, AppError> {
    let p = params.into_inner();
    if let Some(limit) = p.limit
        && !(1..=audit::MAX_PAGE_SIZE).contains(&limit)
    {
        let message = format!("limit must be between 1 and {}", audit::MAX_PAGE_SIZE);
        return Err(AppError::invalid("limit", message));
    }
    let (entries, next) = audit::list(
        &st,
        AuditQuery {
            user_id: p.user,
            action: p.action,
            before: p.cursor,
            limit: p.limit.unwrap_or(audit::PAGE_SIZE),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entries": entries.into_iter().map(AuditJson::from).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
