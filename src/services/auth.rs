//! Signing in and out, and finding who a request belongs to (session cookie or bearer token).
//!
//! Lockout: after 5 failed sign-ins within 15 minutes for one account or from one address,
//! further attempts are refused until the oldest failure leaves the window. Refused attempts do
//! not count as failures, so an attacker cannot extend the lockout forever.

use chrono::{DateTime, Duration, Utc};

use crate::crypto::{random_token, sha256_hex};
use crate::db::repo::{api_tokens, login_failures, sessions, to_db};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::new_id;
use crate::domain::user::{Email, User};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::{audit, passwords};
use crate::state::AppState;

pub const SESSION_TTL: Duration = Duration::days(14);
/// How stale `last_seen_at` may get before a request refreshes it; avoids a write per request.
const SESSION_TOUCH_AFTER: Duration = Duration::minutes(10);
const TOKEN_TOUCH_AFTER: Duration = Duration::minutes(1);
pub const LOCKOUT_WINDOW: Duration = Duration::minutes(15);
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// Longer passwords than this are not hashed at all: they cannot be valid (see `NewPassword`).
const MAX_PASSWORD_INPUT: usize = 1024;

/// Who is making a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub method: AuthMethod,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// Browser session; `id` is the SHA-256 of the cookie secret.
    Session {
        id: String,
    },
    Token {
        id: String,
    },
}

impl Principal {
    pub fn session_id(&self) -> Option<&str> {
        match &self.method {
            AuthMethod::Session { id } => Some(id),
            AuthMethod::Token { .. } => None,
        }
    }

    pub fn actor(&self, ip: Option<String>) -> Actor {
        Actor::user(&self.user.id, &self.user.email, ip)
    }
}

pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub ip: String,
    pub user_agent: Option<String>,
}

#[derive(Debug)]
pub enum LoginFailure {
    /// The form itself is incomplete.
    Input(FieldErrors),
    /// Unknown e-mail, wrong password or deactivated account: deliberately indistinguishable.
    Rejected,
    LockedOut {
        retry_after: Duration,
    },
    Error(AppError),
}

impl From<AppError> for LoginFailure {
    fn from(e: AppError) -> Self {
        LoginFailure::Error(e)
    }
}

/// A new browser session: the cookie value is shown to the browser once and stored hashed.
pub struct IssuedSession {
    pub cookie_value: String,
    pub user: User,
}

pub async fn login(st: &AppState, req: LoginRequest) -> Result<IssuedSession, LoginFailure> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", Email::parse(&req.email));
    if req.password.is_empty() {
        errors.add("password", "password is required");
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(LoginFailure::Input(errors));
    };
    let email = email.into_string();
    let now = st.clock.now();

    let since = now - LOCKOUT_WINDOW;
    let (lock_email, lock_ip) = (email.clone(), req.ip.clone());
    let locked_until = st
        .db
        .read(move |c| -> Result<Option<DateTime<Utc>>, AppError> {
            let by_email = login_failures::count_for_email_since(c, &lock_email, since)?;
            let by_ip = login_failures::count_for_ip_since(c, &lock_ip, since)?;
            if by_email < LOCKOUT_THRESHOLD && by_ip < LOCKOUT_THRESHOLD {
                return Ok(None);
            }
            let oldest = login_failures::oldest_since(c, &lock_email, &lock_ip, since)?;
            Ok(Some(oldest.unwrap_or(now) + LOCKOUT_WINDOW))
        })
        .await?;
    if let Some(until) = locked_until {
        st.metrics.count_login("locked");
        tracing::warn!(ip = %req.ip, "sign-in refused: locked out");
        return Err(LoginFailure::LockedOut {
            retry_after: (until - now).max(Duration::seconds(1)),
        });
    }

    let lookup = email.clone();
    let credentials = st
        .db
        .read(move |c| crate::db::repo::users::find_credentials(c, &lookup).map_err(AppError::from))
        .await?;
    let (user, hash) = match credentials {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password_ok =
        req.password.len() <= MAX_PASSWORD_INPUT && passwords::verify(hash, &req.password).await?;

    match user {
        Some(user) if password_ok && user.active => {
            let cookie_value = random_token(32);
            let session_id = sha256_hex(&cookie_value);
            let actor = Actor::user(&user.id, &user.email, Some(req.ip.clone()));
            let u = user.clone();
            st.db
                .write(move |c| -> Result<(), AppError> {
                    sessions::insert(
                        c,
                        &sessions::NewSession {
                            id: &session_id,
                            user_id: &u.id,
                            created_at: to_db(now),
                            last_seen_at: to_db(now),
                            expires_at: to_db(now + SESSION_TTL),
                            ip: Some(&req.ip),
                            user_agent: req.user_agent.as_deref(),
                        },
                    )?;
                    login_failures::clear_for_email(c, &u.email)?;
                    sessions::delete_expired(c, now)?;
                    audit::record(
                        c,
                        now,
                        &actor,
                        AuditAction::Login,
                        Some(("user", &u.id)),
                        "signed in",
                    )?;
                    Ok(())
                })
                .await?;
            st.metrics.count_login("success");
            Ok(IssuedSession { cookie_value, user })
        }
        user => {
            record_failure(st, &email, &req.ip, user.as_ref(), now).await?;
            st.metrics.count_login("failure");
            Err(LoginFailure::Rejected)
        }
    }
}

async fn record_failure(
    st: &AppState,
    email: &str,
    ip: &str,
    user: Option<&User>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let (email, ip) = (email.to_owned(), ip.to_owned());
    let target_user = user.map(|u| u.id.clone());
    st.db
        .write(move |c| -> Result<(), AppError> {
            login_failures::record(c, &new_id(), &email, &ip, now)?;
            let actor = Actor::anonymous(Some(ip.clone()));
            let target = target_user.as_deref().map(|id| ("user", id));
            let detail = format!("failed sign-in for {email}");
            audit::record(c, now, &actor, AuditAction::LoginFailed, target, &detail)?;
            let since = now - LOCKOUT_WINDOW;
            // Audited once, when the threshold is reached, rather than on every refused attempt.
            if login_failures::count_for_email_since(c, &email, since)? == LOCKOUT_THRESHOLD {
                let detail = format!("{email} locked out after {LOCKOUT_THRESHOLD} failed sign-ins in 15 minutes");
                audit::record(c, now, &actor, AuditAction::LoginLockedOut, target, &detail)?;
            }
            if login_failures::count_for_ip_since(c, &ip, since)? == LOCKOUT_THRESHOLD {
                let detail = format!("address {ip} locked out after {LOCKOUT_THRESHOLD} failed sign-ins in 15 minutes");
                audit::record(c, now, &actor, AuditAction::LoginLockedOut, None, &detail)?;
            }
            login_failures::purge_before(c, now - Duration::days(1))?;
            Ok(())
        })
        .await
}

pub async fn logout(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
) -> Result<(), AppError> {
    let Some(session_id) = principal.session_id().map(str::to_owned) else {
        return Ok(());
    };
    let actor = principal.actor(ip);
    let user_id = principal.user.id.clone();
    let now = st.clock.now();
    st.db
        .write(move |c| -> Result<(), AppError> {
            if sessions::delete(c, &session_id)? > 0 {
                audit::record(
                    c,
                    now,
                    &actor,
                    AuditAction::Logout,
                    Some(("user", &user_id)),
                    "signed out",
                )?;
            }
            Ok(())
        })
        .await
}

/// The session a cookie names, if it is live. `refreshed` says the expiry was extended, so the
/// caller should send the cookie again with a new lifetime.
pub struct ResolvedSession {
    pub principal: Principal,
    pub refreshed: bool,
}

pub async fn resolve_session(
    st: &AppState,
    cookie_value: &str,
) -> Result<Option<ResolvedSession>, AppError> {
    let id = sha256_hex(cookie_value);
    let now = st.clock.now();
    let found = st
        .db
        .read(move |c| sessions::find_live(c, &id, now).map_err(AppError::from))
        .await?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    let refreshed = now - session.last_seen_at >= SESSION_TOUCH_AFTER;
    if refreshed {
        let id = session.id.clone();
        st.db
            .write(move |c| sessions::touch(c, &id, now, now + SESSION_TTL).map_err(AppError::from))
            .await?;
    }
    Ok(Some(ResolvedSession {
        principal: Principal {
            user,
            method: AuthMethod::Session { id: session.id },
        },
        refreshed,
    }))
}

pub async fn resolve_bearer(st: &AppState, token: &str) -> Result<Option<Principal>, AppError> {
    let hash = sha256_hex(token);
    let found = st
        .db
        .read(move |c| api_tokens::find_live_by_hash(c, &hash).map_err(AppError::from))
        .await?;
    let Some((token, user)) = found else {
        return Ok(None);
    };
    let now = st.clock.now();
    if token
        .last_used_at
        .is_none_or(|t| now - t >= TOKEN_TOUCH_AFTER)
    {
        let id = token.id.clone();
        st.db
            .write(move |c| api_tokens::touch(c, &id, now).map_err(AppError::from))
            .await?;
    }
    Ok(Some(Principal {
        user,
        method: AuthMethod::Token { id: token.id },
    }))
}
