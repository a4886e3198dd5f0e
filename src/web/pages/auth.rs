//! Sign-in and sign-out pages.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, page, render, safe_next};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::auth::{self, LoginFailure, LoginRequest};
use crate::state::AppState;
use crate::web::csrf::ANON_COOKIE;
use crate::web::extract::{ClientIp, SignedIn};
use crate::web::flash::{Flash, redirect, redirect_with};
use crate::web::session::{SESSION_COOKIE, removal, session_cookie};

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub ctx: PageCtx,
    pub email: String,
    pub next: String,
    pub errors: FieldErrors,
    /// A message about the whole form (wrong credentials, locked out).
    pub problem: Option<String>,
    pub no_users_yet: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    pub next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
    pub next: Option<String>,
}

async fn no_users_yet(st: &AppState) -> Result<bool, AppError> {
    Ok(st
        .db
        .read(|c| crate::db::repo::users::count(c).map_err(AppError::from))
        .await?
        == 0)
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if ctx.user.is_some() {
        return Ok(redirect(next.as_deref().unwrap_or("/")));
    }
    page(&LoginPage {
        ctx,
        email: String::new(),
        next: next.unwrap_or_default(),
        errors: FieldErrors::new(),
        problem: None,
        no_users_yet: no_users_yet(&st).await?,
    })
}

pub async fn submit(
    st: web::Data<AppState>,
    req: HttpRequest,
    ctx: PageCtx,
    ip: ClientIp,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let request = LoginRequest {
        email: form.email.clone(),
        password: form.password,
        ip: ip.0,
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect()),
    };
    let again = |ctx: PageCtx, errors: FieldErrors, problem: Option<String>| LoginPage {
        ctx,
        email: form.email.clone(),
        next: next.clone().unwrap_or_default(),
        errors,
        problem,
        no_users_yet: false,
    };
    match auth::login(&st, request).await {
        Ok(issued) => {
            let secure = st.base_url.is_https();
            let mut res = if issued.user.must_change_password {
                redirect_with(
                    "/profile#password",
                    Flash::info(
                        "Welcome. Your password was set by an admin: choose your own to continue.",
                    ),
                )
            } else {
                redirect(next.as_deref().unwrap_or("/"))
            };
            res.add_cookie(&session_cookie(&issued.cookie_value, secure))
                .map_err(|e| AppError::Internal(format!("session cookie: {e}")))?;
            res.add_cookie(&removal(ANON_COOKIE, secure))
                .map_err(|e| AppError::Internal(format!("session cookie: {e}")))?;
            Ok(res)
        }
        Err(LoginFailure::Input(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &again(ctx, errors, None))
        }
        Err(LoginFailure::Rejected) => render(
            StatusCode::UNAUTHORIZED,
            &again(
                ctx,
                FieldErrors::new(),
                Some("Wrong e-mail address or password.".into()),
            ),
        ),
        Err(LoginFailure::LockedOut { retry_after }) => {
            let minutes = (retry_after.num_seconds() + 59) / 60;
            let message = format!(
                "Too many failed sign-ins for this account or from this address. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut res = render(
                StatusCode::TOO_MANY_REQUESTS,
                &again(ctx, FieldErrors::new(), Some(message)),
            )?;
            if let Ok(v) = HeaderValue::from_str(&retry_after.num_seconds().to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(res)
        }
        Err(LoginFailure::Error(e)) => Err(e),
    }
}

pub async fn logout(
    st: web::Data<AppState>,
    who: SignedIn,
    ip: ClientIp,
) -> Result<HttpResponse, AppError> {
    auth::logout(&st, &who.0, Some(ip.0)).await?;
    let mut res = redirect_with("/login", Flash::info("You are signed out."));
    res.add_cookie(&removal(SESSION_COOKIE, st.base_url.is_https()))
        .map_err(|e| AppError::Internal(format!("session cookie: {e}")))?;
    Ok(res)
}
