//! Server-rendered pages. Each handler parses its input, checks the role through its extractors,
//! calls a service and renders an askama template; the shared [`PageCtx`] carries what the layout
//! needs (who is signed in, the CSRF token, the flash message, the viewer's time zone).

pub mod ack_link;
pub mod admin_users;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod dashboard;
pub mod errors;
pub mod escalation;
pub mod holiday_import;
pub mod incidents;
pub mod profile;
pub mod schedule_edit;
pub mod schedules;
pub mod services;
pub mod setup;
pub mod swaps;
pub mod time_off;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::domain::user::{Role, User};
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::web::assets;
use crate::web::csrf::CsrfSeed;
use crate::web::flash::Flash;
use crate::web::session::IncomingFlash;
use crate::web::telemetry::RequestId;

/// What every page's layout needs.
pub struct PageCtx {
    pub user: Option<User>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub path: String,
    pub request_id: String,
    pub tz: chrono_tz::Tz,
    /// The application clock's now, so pages agree with deadlines computed by services.
    pub now: DateTime<Utc>,
    /// For admins: why mail cannot go out, when it cannot.
    pub mail_problem: Option<crate::notify::health::MailProblem>,
}

impl PageCtx {
    pub fn from_request(req: &HttpRequest) -> Self {
        let ext = req.extensions();
        let user = ext.get::<Principal>().map(|p| p.user.clone());
        let csrf_token = match (ext.get::<CsrfSeed>(), req.app_data::<web::Data<AppState>>()) {
            (Some(seed), Some(st)) => seed.token(st),
            _ => String::new(),
        };
        let st = req.app_data::<web::Data<AppState>>();
        let now = st.map_or_else(Utc::now, |st| st.clock.now());
        let mut ctx = PageCtx {
            now,
            mail_problem: None,
            tz: user.as_ref().map_or(chrono_tz::UTC, User::tz),
            user,
            csrf_token,
            flash: ext.get::<IncomingFlash>().map(|f| f.0.clone()),
            path: req.path().to_owned(),
            request_id: ext
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
        };
        if ctx.is_admin() {
            ctx.mail_problem = st.and_then(|st| st.mail_health.current());
        }
        ctx
    }

    pub fn css_url(&self) -> &'static str {
        assets::url("app.css")
    }

    pub fn js_url(&self) -> &'static str {
        assets::url("app.js")
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| u.role.allows(role) && !u.must_change_password)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// For `aria-current` in the navigation.
    pub fn is_current(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/"
        } else {
            self.path.starts_with(prefix)
        }
    }

    /// A time in the viewer's zone, with the zone named: `2026-11-22 05:09 CET`.
    pub fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    /// RFC 3339 in UTC, for `<time datetime=...>`.
    pub fn iso(&self, t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    pub fn time_zone_name(&self) -> &'static str {
        self.tz.name()
    }

    /// `12 min ago` / `in 3 min`, against the application clock.
    pub fn ago(&self, t: &DateTime<Utc>) -> String {
        crate::web::format::relative(*t, self.now)
    }

    pub fn can_respond(&self) -> bool {
        self.has_role(Role::Responder)
    }

    pub fn can_manage(&self) -> bool {
        self.has_role(Role::Manager)
    }
}

impl FromRequest for PageCtx {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(PageCtx::from_request(req)))
    }
}

/// Renders a template with a status (422 for a form shown again with its errors).
pub fn render<T: Template>(status: StatusCode, template: &T) -> Result<HttpResponse, AppError> {
    let body = template
        .render()
        .map_err(|e| AppError::Internal(format!("rendering a page failed: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// The field errors of a refused form, to show it again; any other error goes on up.
pub fn form_errors(e: AppError) -> Result<crate::domain::validation::FieldErrors, AppError> {
    match e {
        AppError::Invalid(fields) => Ok(fields),
        other => Err(other),
    }
}

pub fn page<T: Template>(template: &T) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, template)
}

/// The IANA zone names offered in time-zone pickers.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Only same-site paths may be redirect targets, so a crafted `next=` cannot send people away.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    (local && !next.contains(['\r', '\n'])).then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(
            safe_next(Some("/admin/users?x=1")),
            Some("/admin/users?x=1".into())
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
    }
}
