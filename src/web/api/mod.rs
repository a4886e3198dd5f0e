//! The JSON API, `/api/v1/...`: the same use cases as the pages, authenticated with
//! `Authorization: Bearer`. Errors are `{"error", "detail"}` with a 4xx or 5xx status.

pub mod audit;
pub mod contacts;
pub mod escalation;
pub mod holiday_import;
pub mod incidents;
pub mod me;
pub mod schedules;
pub mod services;
pub mod swaps;
pub mod time_off;
pub mod tokens;
pub mod users;

use actix_web::web;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::db::repo::api_tokens::ApiToken;
use crate::domain::user::User;
use crate::error::AppError;

/// Bodies larger than this are refused with 413 (webhooks set their own limit).
pub const JSON_LIMIT: usize = 256 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _req| {
            let e = match err {
                actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
                | actix_web::error::JsonPayloadError::Overflow { .. } => AppError::PayloadTooLarge,
                actix_web::error::JsonPayloadError::ContentType => AppError::BadRequest(
                    "send the body as JSON with Content-Type: application/json".into(),
                ),
                other => AppError::BadRequest(format!("invalid JSON body: {other}")),
            };
            e.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AppError::BadRequest(format!("invalid query string: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into())
}

pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(crate::web::csrf::FORM_LIMIT)
        .error_handler(|err, _req| {
            let e = match err {
                actix_web::error::UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                other => AppError::BadRequest(format!("the form could not be read: {other}")),
            };
            e.into()
        })
}

pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[derive(Debug, Serialize)]
pub struct UserJson {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub time_zone: String,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserJson {
    fn from(u: &User) -> Self {
        UserJson {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.to_string(),
            time_zone: u.time_zone.clone(),
            active: u.active,
            must_change_password: u.must_change_password,
            created_at: rfc3339(&u.created_at),
            updated_at: rfc3339(&u.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TokenJson {
    pub id: String,
    pub label: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiToken> for TokenJson {
    fn from(t: &ApiToken) -> Self {
        TokenJson {
            id: t.id.clone(),
            label: t.label.clone(),
            prefix: t.prefix.clone(),
            created_at: rfc3339(&t.created_at),
            last_used_at: t.last_used_at.as_ref().map(rfc3339),
            revoked_at: t.revoked_at.as_ref().map(rfc3339),
        }
    }
}
