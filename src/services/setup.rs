//! First run: while nobody can sign in, a one-time link lets someone create the first admin.
//!
//! The link's secret is stored hashed in `app_settings`. Creating the admin consumes it in the
//! same transaction (a conditional delete only one request can win), so the link works once.

use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::db::repo::{app_settings, users};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::user::User;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::users::{NewUserInput, insert_user};
use crate::services::{audit, passwords};
use crate::state::AppState;

const SETUP_TOKEN: &str = "setup_token_sha256";

/// When no user exists yet, issues a fresh setup secret (replacing any earlier one) and returns
/// it; returns `None` once someone can sign in.
pub async fn issue_token_if_needed(st: &AppState) -> Result<Option<String>, AppError> {
    let now = st.clock.now();
    st.db
        .write(move |c| {
            if users::count(c)? > 0 {
                return Ok(None);
            }
            let token = random_token(32);
            app_settings::put(c, SETUP_TOKEN, &sha256_hex(&token), now)?;
            Ok(Some(token))
        })
        .await
}

/// Whether `token` opens the setup form right now.
pub async fn token_is_valid(st: &AppState, token: &str) -> Result<bool, AppError> {
    let presented = sha256_hex(token);
    st.db
        .read(move |c| -> Result<bool, AppError> {
            if users::count(c)? > 0 {
                return Ok(false);
            }
            let stored = app_settings::get(c, SETUP_TOKEN)?;
            Ok(stored.is_some_and(|s| constant_time_eq(s.as_bytes(), presented.as_bytes())))
        })
        .await
}

#[derive(Debug, Clone, Default)]
pub struct SetupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub confirm: String,
    pub time_zone: String,
}

pub enum SetupFailure {
    Input(FieldErrors),
    /// The link was used already, replaced by a restart, or someone can sign in anyway.
    LinkInvalid,
    Error(AppError),
}

impl From<AppError> for SetupFailure {
    fn from(e: AppError) -> Self {
        SetupFailure::Error(e)
    }
}

/// Creates the first admin and consumes the link.
pub async fn complete(
    st: &AppState,
    token: &str,
    input: &SetupInput,
    ip: Option<String>,
) -> Result<User, SetupFailure> {
    if !token_is_valid(st, token).await? {
        return Err(SetupFailure::LinkInvalid);
    }
    let new_user = NewUserInput {
        email: input.email.clone(),
        name: input.name.clone(),
        role: "admin".into(),
        password: Some(input.password.clone()),
        time_zone: Some(input.time_zone.clone()),
    };
    let validated = new_user.validate();
    let mut errors = validated.as_ref().err().cloned().unwrap_or_default();
    if errors.get("password").is_none() && input.password != input.confirm {
        errors.add("confirm", "the two passwords differ");
    }
    let valid = match validated {
        Ok(valid) if errors.is_empty() => valid,
        _ => return Err(SetupFailure::Input(errors)),
    };
    let hash = passwords::hash(&valid.password).await?;
    let presented = sha256_hex(token);
    let now = st.clock.now();
    let created = st
        .db
        .write(move |c| -> Result<Option<User>, AppError> {
            if !app_settings::take(c, SETUP_TOKEN, &presented)? || users::count(c)? > 0 {
                return Ok(None);
            }
            let actor = Actor::anonymous(ip);
            let user = insert_user(c, now, &actor, &valid, &hash)?;
            let detail = format!("first admin {} created from the setup link", user.email);
            audit::record(
                c,
                now,
                &actor,
                AuditAction::SetupCompleted,
                Some(("user", &user.id)),
                &detail,
            )?;
            Ok(Some(user))
        })
        .await?;
    created.ok_or(SetupFailure::LinkInvalid)
}
