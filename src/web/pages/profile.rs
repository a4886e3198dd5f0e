//! Everyone's own page: name, time zone, password, API tokens, shifts, leave, and how Lookout
//! reaches them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageCtx, form_errors, page, render, time_zone_names};
use crate::db::repo::api_tokens::ApiToken;
use crate::domain::user::User;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::services::contacts::{self, Reach};
use crate::services::swaps::{self, SwapView};
use crate::services::time_off::{self, LeaveView};
use crate::services::users::{PasswordChange, ProfileInput};
use crate::services::{tokens, users};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, SignedIn, role};
use crate::web::flash::{Flash, redirect_with};
use crate::web::pages::contacts::{MethodForm, RuleForm};
use crate::web::pages::time_off::LeaveForm;

#[derive(Template)]
#[template(path = "profile/profile.html")]
pub struct ProfilePage {
    pub ctx: PageCtx,
    pub user: User,
    pub profile: ProfileForm,
    pub profile_errors: FieldErrors,
    pub password_errors: FieldErrors,
    pub tokens: Vec<ApiToken>,
    pub token_label: String,
    pub token_errors: FieldErrors,
    /// A token just created, shown this once.
    pub new_token: Option<String>,
    pub sessions: i64,
    /// The coming four weeks of the person's own shifts: (schedule id, schedule name, shift).
    pub shifts: Vec<(String, String, crate::domain::schedule::Shift)>,
    /// The personal calendar feed.
    pub feed_url: String,
    /// Leave that has not ended yet.
    pub leave: Vec<LeaveView>,
    pub leave_form: LeaveForm,
    pub leave_errors: FieldErrors,
    /// Swaps the person offered, was offered or took.
    pub swaps: Vec<SwapView>,
    /// How Lookout reaches the person when paged.
    pub reach: Reach,
    pub method_form: MethodForm,
    pub method_errors: FieldErrors,
    pub rule_form: RuleForm,
    pub rule_errors: FieldErrors,
}

impl ProfilePage {
    pub fn time_zones(&self) -> impl Iterator<Item = &'static str> {
        time_zone_names()
    }

    /// The methods a rule can use: (value, text).
    pub fn method_options(&self) -> Vec<(String, String)> {
        contacts::method_options(&self.reach)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    pub name: String,
    pub time_zone: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
    pub confirm_password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub label: String,
}

async fn build(
    st: &AppState,
    ctx: PageCtx,
    principal: &Principal,
) -> Result<ProfilePage, AppError> {
    let user = users::get(st, &principal.user.id).await?;
    Ok(ProfilePage {
        ctx,
        profile: ProfileForm {
            name: user.name.clone(),
            time_zone: user.time_zone.clone(),
        },
        profile_errors: FieldErrors::new(),
        password_errors: FieldErrors::new(),
        tokens: tokens::list_for_user(st, &user.id).await?,
        token_label: String::new(),
        token_errors: FieldErrors::new(),
        new_token: None,
        sessions: users::live_session_count(st, &user.id).await?,
        shifts: my_shifts(st, &user.id).await?,
        feed_url: crate::services::feeds::user_feed_url(st, &user.id).await?,
        leave: time_off::between(
            st,
            Some(&user.id),
            st.clock.now(),
            st.clock.now() + chrono::Duration::days(400),
        )
        .await?,
        leave_form: LeaveForm::default(),
        leave_errors: FieldErrors::new(),
        swaps: swaps::of_user(st, &user.id).await?,
        reach: contacts::reach_of(st, &user).await?,
        method_form: MethodForm {
            kind: "email".into(),
            ..MethodForm::default()
        },
        method_errors: FieldErrors::new(),
        rule_form: RuleForm::default(),
        rule_errors: FieldErrors::new(),
        user,
    })
}

/// The profile page with one of its forms as typed and its errors (set by `fill`).
pub async fn render_with(
    st: &AppState,
    ctx: PageCtx,
    principal: &Principal,
    fill: impl FnOnce(&mut ProfilePage),
) -> Result<HttpResponse, AppError> {
    let mut page_data = build(st, ctx, principal).await?;
    fill(&mut page_data);
    render(StatusCode::UNPROCESSABLE_ENTITY, &page_data)
}

/// The person's shifts on every schedule over the coming four weeks, in time order.
async fn my_shifts(
    st: &AppState,
    user_id: &str,
) -> Result<Vec<(String, String, crate::domain::schedule::Shift)>, AppError> {
    let now = st.clock.now();
    let until = now + chrono::Duration::weeks(4);
    let mut mine = Vec::new();
    for detail in crate::services::schedules::list_between(st, now, until).await? {
        for shift in detail.final_shifts(now, until) {
            if shift.user_id == user_id {
                mine.push((detail.id.clone(), detail.name.clone(), shift));
            }
        }
    }
    mine.sort_by_key(|(_, _, s)| s.start);
    Ok(mine)
}

pub async fn rotate_feed(
    st: web::Data<AppState>,
    who: SignedIn,
    ip: ClientIp,
) -> Result<HttpResponse, AppError> {
    let actor = who.0.actor(Some(ip.0));
    crate::services::feeds::rotate_user_feed(&st, &actor, &who.0.user.id).await?;
    Ok(redirect_with(
        "/profile#shifts",
        Flash::success("Your calendar link was replaced; the old one no longer works."),
    ))
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    page(&build(&st, ctx, &who.0).await?)
}

pub async fn update(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = ProfileInput {
        name: form.name.clone(),
        time_zone: form.time_zone.clone(),
    };
    match users::update_profile(&st, &who, Some(ip.0), &input).await {
        Ok(_) => Ok(redirect_with("/profile", Flash::success("Profile saved."))),
        Err(e) => {
            let mut p = build(&st, ctx, &who).await?;
            p.profile_errors = form_errors(e)?;
            p.profile = form;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

pub async fn change_password(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: SignedIn,
    ip: ClientIp,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let input = PasswordChange {
        current: form.current_password,
        new: form.new_password,
        confirm: form.confirm_password,
    };
    match users::change_password(&st, &who.0, Some(ip.0), &input).await {
        Ok(()) => Ok(redirect_with(
            "/profile",
            Flash::success("Password changed. Your other sessions were signed out."),
        )),
        Err(e) => {
            let mut p = build(&st, ctx, &who.0).await?;
            p.password_errors = form_errors(e)?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

pub async fn create_token(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let actor = who.actor(Some(ip.0));
    match tokens::create(&st, &actor, &who.user, &form.label).await {
        Ok(issued) => {
            let mut p = build(&st, ctx, &who).await?;
            p.new_token = Some(issued.secret);
            render(StatusCode::CREATED, &p)
        }
        Err(e) => {
            let mut p = build(&st, ctx, &who).await?;
            p.token_errors = form_errors(e)?;
            p.token_label = form.into_inner().label;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

pub async fn revoke_token(
    st: web::Data<AppState>,
    who: RequireRole<role::Viewer>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let actor = who.actor(Some(ip.0));
    let token = tokens::revoke(&st, &actor, &who.user, &path.into_inner()).await?;
    Ok(redirect_with(
        "/profile#tokens",
        Flash::success(format!("Token '{}' revoked.", token.label)),
    ))
}
