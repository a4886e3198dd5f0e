//! The dashboard: the first page after signing in.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{PageCtx, page};
use crate::db::repo::timeline::TimelineEntry;
use crate::domain::severity::Severity;
use crate::error::AppError;
use crate::services::{incidents, tokens, users};
use crate::state::AppState;
use crate::web::extract::{RequireRole, role};

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub ctx: PageCtx,
    pub name: String,
    pub role: String,
    pub role_description: &'static str,
    /// For admins: how far the installation is set up.
    pub people: usize,
    pub live_tokens: usize,
    /// (severity, triggered, acknowledged) open incidents.
    pub open: Vec<(Severity, i64, i64)>,
    /// (entry, incident number, incident title), newest first.
    pub activity: Vec<(TimelineEntry, i64, String)>,
    /// Schedules the viewer is on call for now, with the hand-off notes to read.
    pub duty: Vec<Duty>,
}

pub struct Duty {
    pub schedule_id: String,
    pub schedule: String,
    pub until: chrono::DateTime<chrono::Utc>,
    pub notes: Vec<crate::db::repo::schedules::NoteRow>,
}

impl DashboardPage {
    pub fn open_total(&self) -> i64 {
        self.open.iter().map(|(_, t, a)| t + a).sum()
    }
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let user = &who.user;
    let people = if ctx.is_admin() {
        users::list(&st).await?.iter().filter(|u| u.active).count()
    } else {
        0
    };
    let live_tokens = tokens::list_for_user(&st, &user.id)
        .await?
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .count();
    let open = incidents::open_counts(&st).await?;
    let activity = incidents::recent_activity(&st, 15).await?;
    let mut duty = Vec::new();
    for detail in crate::services::schedules::list(&st, ctx.now).await? {
        if let Some(shift) = detail.on_call_at(ctx.now)
            && shift.user_id == user.id
        {
            duty.push(Duty {
                schedule_id: detail.id.clone(),
                schedule: detail.name.clone(),
                until: shift.end,
                notes: crate::services::schedules::handoff_notes(&st, &detail, ctx.now).await?,
            });
        }
    }
    page(&DashboardPage {
        duty,
        open,
        activity,
        name: user.name.clone(),
        role: user.role.to_string(),
        role_description: user.role.describe(),
        people,
        live_tokens,
        ctx,
    })
}
