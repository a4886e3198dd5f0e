//! `/admin/audit`: the audit log, newest first, filtered by user and action.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, page};
use crate::db::repo::audit::{AuditEntry, AuditQuery};
use crate::domain::audit::AuditAction;
use crate::domain::user::User;
use crate::error::AppError;
use crate::services::{audit, users};
use crate::state::AppState;
use crate::web::extract::{RequireRole, role};

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub ctx: PageCtx,
    pub entries: Vec<AuditEntry>,
    pub users: Vec<User>,
    pub user: String,
    pub action: String,
    /// Query string of the next (older) page, if any.
    pub older: Option<String>,
}

impl AuditPage {
    pub fn actions(&self) -> impl Iterator<Item = &'static str> {
        AuditAction::ALL.iter().map(|a| a.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub user: String,
    pub action: String,
    pub before: String,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _admin: RequireRole<role::Admin>,
    filter: web::Query<AuditFilter>,
) -> Result<HttpResponse, AppError> {
    let filter = filter.into_inner();
    let (entries, next) = audit::list(
        &st,
        AuditQuery {
            user_id: non_empty(&filter.user),
            action: non_empty(&filter.action),
            before: non_empty(&filter.before),
            limit: audit::PAGE_SIZE,
        },
    )
    .await?;
    let older = next.map(|before| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user", &filter.user)
            .append_pair("action", &filter.action)
            .append_pair("before", &before)
            .finish()
    });
    page(&AuditPage {
        ctx,
        entries,
        users: users::list(&st).await?,
        user: filter.user,
        action: filter.action,
        older,
    })
}
