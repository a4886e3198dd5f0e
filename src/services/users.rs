//! Managing people: creating them, roles, deactivation, password resets, and each person's own
//! profile and password.
//!
//! Rules kept here: e-mail addresses are unique; there is always at least one active admin;
//! deactivating someone ends their sessions and revokes their tokens in the same transaction.

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::db::repo::{api_tokens, sessions, to_db, users};
use crate::db::{DbConn, is_unique_violation};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::new_id;
use crate::domain::user::{Email, NewPassword, PersonName, Role, TimeZoneName, User};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::services::{audit, passwords};
use crate::state::AppState;

/// What a form or API call gives to create a person.
#[derive(Debug, Clone, Default)]
pub struct NewUserInput {
    pub email: String,
    pub name: String,
    pub role: String,
    /// `None`: generate a temporary password the person must change at first sign-in.
    pub password: Option<String>,
    pub time_zone: Option<String>,
}

/// A validated new person.
pub struct ValidNewUser {
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    pub password: NewPassword,
    pub must_change_password: bool,
    pub time_zone: TimeZoneName,
}

impl NewUserInput {
    pub fn validate(&self) -> Result<ValidNewUser, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", Email::parse(&self.email));
        let name = errors.check("name", PersonName::parse(&self.name));
        let role = errors.check("role", self.role.parse::<Role>());
        let time_zone = match self.time_zone.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(tz) => errors.check("time_zone", TimeZoneName::parse(tz)),
            None => TimeZoneName::parse("UTC").ok(),
        };
        let (password, must_change_password) = match &self.password {
            Some(p) => (errors.check("password", NewPassword::parse(p)), false),
            None => (NewPassword::parse(&temporary_password()).ok(), true),
        };
        match (email, name, role, password, time_zone) {
            (Some(email), Some(name), Some(role), Some(password), Some(time_zone))
                if errors.is_empty() =>
            {
                Ok(ValidNewUser {
                    email,
                    name,
                    role,
                    password,
                    must_change_password,
                    time_zone,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A readable random password (about 80 bits), e.g. `k7rm-2qzd-hx4t-9cwp`.
pub fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub struct CreatedUser {
    pub user: User,
    /// Shown once to whoever created the account, when the password was generated.
    pub temporary_password: Option<String>,
}

/// Inserts a validated person and audits it; runs inside the caller's transaction.
pub(crate) fn insert_user(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    actor: &Actor,
    valid: &ValidNewUser,
    password_hash: &str,
) -> Result<User, AppError> {
    if users::find_by_email(conn, valid.email.as_str())?.is_some() {
        return Err(duplicate_email());
    }
    let id = new_id();
    let name = valid.name.clone().into_string();
    let inserted = users::insert(
        conn,
        &users::NewUser {
            id: &id,
            email: valid.email.as_str(),
            name: &name,
            role: valid.role.as_str(),
            password_hash,
            time_zone: valid.time_zone.name(),
            active: true,
            must_change_password: valid.must_change_password,
            created_at: to_db(now),
            updated_at: to_db(now),
        },
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(duplicate_email()),
        other => other?,
    }
    let detail = format!("created {} ({}) as {}", name, valid.email, valid.role);
    audit::record(
        conn,
        now,
        actor,
        AuditAction::UserCreated,
        Some(("user", &id)),
        &detail,
    )?;
    users::find(conn, &id)?.ok_or(AppError::NotFound)
}

const DUPLICATE_EMAIL: &str = "a user with this e-mail address already exists";

fn duplicate_email() -> AppError {
    AppError::invalid("email", DUPLICATE_EMAIL)
}

pub async fn create(
    st: &AppState,
    actor: &Actor,
    input: &NewUserInput,
) -> Result<CreatedUser, AppError> {
    let valid = match input.validate() {
        Ok(valid) => valid,
        Err(mut errors) => {
            // Report a taken address along with the other problems, not after they are fixed.
            if errors.get("email").is_none() && find_by_email(st, &input.email).await?.is_some() {
                errors.add("email", DUPLICATE_EMAIL);
            }
            return Err(AppError::Invalid(errors));
        }
    };
    let hash = passwords::hash(&valid.password).await?;
    let temporary_password = valid
        .must_change_password
        .then(|| valid.password.expose().to_owned());
    let now = st.clock.now();
    let actor = actor.clone();
    let user = st
        .db
        .write(move |c| insert_user(c, now, &actor, &valid, &hash))
        .await?;
    Ok(CreatedUser {
        user,
        temporary_password,
    })
}

pub async fn list(st: &AppState) -> Result<Vec<User>, AppError> {
    st.db.read(|c| users::list(c).map_err(AppError::from)).await
}

pub async fn get(st: &AppState, id: &str) -> Result<User, AppError> {
    let id = id.to_owned();
    st.db
        .read(move |c| users::find(c, &id).map_err(AppError::from))
        .await?
        .ok_or(AppError::NotFound)
}

fn load(conn: &mut DbConn, id: &str) -> Result<User, AppError> {
    users::find(conn, id)?.ok_or(AppError::NotFound)
}

/// Refuses a change that would leave no active admin. Locks the admin rows on PostgreSQL.
fn ensure_other_admin_remains(conn: &mut DbConn, target: &User) -> Result<(), AppError> {
    let admins = users::lock_active_admin_ids(conn)?;
    if admins.iter().all(|id| id == &target.id) {
        return Err(AppError::Conflict(format!(
            "{} is the last active admin; make someone else an admin first",
            target.email
        )));
    }
    Ok(())
}

/// Changes to someone's account that an admin may make, applied together or not at all.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub role: Option<String>,
    pub active: Option<bool>,
}

pub async fn change_role(
    st: &AppState,
    actor: &Actor,
    id: &str,
    role: &str,
) -> Result<User, AppError> {
    let change = AccountChange {
        role: Some(role.to_owned()),
        active: None,
    };
    change_account(st, actor, id, &change).await
}

/// Deactivates or reactivates someone. Deactivation ends their sessions and revokes their tokens
/// at once; nobody can deactivate themselves or the last admin.
pub async fn set_active(
    st: &AppState,
    actor: &Actor,
    id: &str,
    active: bool,
) -> Result<User, AppError> {
    let change = AccountChange {
        role: None,
        active: Some(active),
    };
    change_account(st, actor, id, &change).await
}

pub async fn change_account(
    st: &AppState,
    actor: &Actor,
    id: &str,
    change: &AccountChange,
) -> Result<User, AppError> {
    let role = change.role.clone();
    let active = change.active;
    let (id, actor, now) = (id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            // An unknown person is "not found" whatever else is wrong with the request.
            load(c, &id)?;
            let role = role
                .map(|r| r.parse::<Role>().map_err(|e| AppError::invalid("role", e)))
                .transpose()?;
            if let Some(role) = role {
                apply_role(c, now, &actor, &id, role)?;
            }
            if let Some(active) = active {
                apply_active(c, now, &actor, &id, active)?;
            }
            load(c, &id)
        })
        .await
}

fn apply_role(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    role: Role,
) -> Result<(), AppError> {
    let user = load(conn, id)?;
    if user.role == role {
        return Ok(());
    }
    if user.role == Role::Admin && user.active {
        ensure_other_admin_remains(conn, &user)?;
    }
    users::set_role(conn, id, role, now)?;
    let detail = format!("{}: {} -> {}", user.email, user.role, role);
    audit::record(
        conn,
        now,
        actor,
        AuditAction::UserRoleChanged,
        Some(("user", id)),
        &detail,
    )?;
    Ok(())
}

fn apply_active(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    active: bool,
) -> Result<(), AppError> {
    let user = load(conn, id)?;
    if user.active == active {
        return Ok(());
    }
    if active {
        users::set_active(conn, id, true, now)?;
        let detail = format!("reactivated {}", user.email);
        return Ok(audit::record(
            conn,
            now,
            actor,
            AuditAction::UserReactivated,
            Some(("user", id)),
            &detail,
        )?);
    }
    if actor.user_id.as_deref() == Some(id) {
        return Err(AppError::Conflict(
            "you cannot deactivate your own account".into(),
        ));
    }
    if user.role == Role::Admin {
        ensure_other_admin_remains(conn, &user)?;
    }
    users::set_active(conn, id, false, now)?;
    let ended = sessions::delete_for_user(conn, id, None)?;
    let revoked = api_tokens::revoke_all_for_user(conn, id, now)?;
    let detail = format!(
        "deactivated {}; ended {ended} session(s), revoked {revoked} token(s)",
        user.email
    );
    audit::record(
        conn,
        now,
        actor,
        AuditAction::UserDeactivated,
        Some(("user", id)),
        &detail,
    )?;
    Ok(())
}

/// Gives someone a new temporary password (returned once) and ends their sessions; they must
/// choose their own password at the next sign-in.
pub async fn reset_password(
    st: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<(User, String), AppError> {
    let temporary = temporary_password();
    let hash =
        passwords::hash(&NewPassword::parse(&temporary).map_err(AppError::Internal)?).await?;
    let (id, actor, now) = (id.to_owned(), actor.clone(), st.clock.now());
    let user = st
        .db
        .write(move |c| {
            let user = load(c, &id)?;
            users::set_password(c, &id, &hash, true, now)?;
            sessions::delete_for_user(c, &id, None)?;
            let detail = format!("reset the password of {}", user.email);
            audit::record(
                c,
                now,
                &actor,
                AuditAction::UserPasswordReset,
                Some(("user", &id)),
                &detail,
            )?;
            load(c, &id)
        })
        .await?;
    Ok((user, temporary))
}

#[derive(Debug, Clone, Default)]
pub struct ProfileInput {
    pub name: String,
    pub time_zone: String,
}

pub async fn update_profile(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    input: &ProfileInput,
) -> Result<User, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", PersonName::parse(&input.name));
    let tz = errors.check("time_zone", TimeZoneName::parse(&input.time_zone));
    let (Some(name), Some(tz)) = (name, tz) else {
        return Err(AppError::Invalid(errors));
    };
    let actor = principal.actor(ip);
    let (id, now) = (principal.user.id.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let before = load(c, &id)?;
            let name = name.into_string();
            users::set_profile(c, &id, &name, tz.name(), now)?;
            if before.name != name || before.time_zone != tz.name() {
                let detail = format!("name '{}', time zone {}", name, tz.name());
                audit::record(
                    c,
                    now,
                    &actor,
                    AuditAction::UserProfileUpdated,
                    Some(("user", &id)),
                    &detail,
                )?;
            }
            load(c, &id)
        })
        .await
}

#[derive(Debug, Clone, Default)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
    pub confirm: String,
}

/// Changes one's own password after checking the current one; ends one's other sessions.
pub async fn change_password(
    st: &AppState,
    principal: &Principal,
    ip: Option<String>,
    input: &PasswordChange,
) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    if input.current.is_empty() {
        errors.add("current_password", "enter your current password");
    }
    let new = errors.check("new_password", NewPassword::parse(&input.new));
    if new.is_some() && input.new != input.confirm {
        errors.add("confirm_password", "the two new passwords differ");
    }
    if new.is_some() && input.new == input.current {
        errors.add(
            "new_password",
            "choose a password different from the current one",
        );
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let id = principal.user.id.clone();
    let stored = st
        .db
        .read(move |c| users::password_hash(c, &id).map_err(AppError::from))
        .await?;
    if !passwords::verify(stored, &input.current).await? {
        return Err(AppError::invalid(
            "current_password",
            "this is not your current password",
        ));
    }
    let hash = passwords::hash(&new).await?;
    let actor = principal.actor(ip);
    let keep = principal.session_id().map(str::to_owned);
    let (id, now) = (principal.user.id.clone(), st.clock.now());
    st.db
        .write(move |c| -> Result<(), AppError> {
            users::set_password(c, &id, &hash, false, now)?;
            let ended = sessions::delete_for_user(c, &id, keep.as_deref())?;
            let detail = format!("changed own password; ended {ended} other session(s)");
            audit::record(
                c,
                now,
                &actor,
                AuditAction::UserPasswordChanged,
                Some(("user", &id)),
                &detail,
            )?;
            Ok(())
        })
        .await
}

pub async fn find_by_email(st: &AppState, email: &str) -> Result<Option<User>, AppError> {
    let email = Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
    st.db
        .read(move |c| users::find_by_email(c, email.as_str()).map_err(AppError::from))
        .await
}

pub async fn live_session_count(st: &AppState, id: &str) -> Result<i64, AppError> {
    let (id, now) = (id.to_owned(), st.clock.now());
    st.db
        .read(move |c| sessions::count_live_for_user(c, &id, now).map_err(AppError::from))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_are_valid_and_differ() {
        let a = temporary_password();
        assert_eq!(a.len(), 19);
        assert!(NewPassword::parse(&a).is_ok());
        assert_ne!(a, temporary_password());
    }

    #[test]
    fn validation_collects_every_field_error() {
        let input = NewUserInput {
            email: "nope".into(),
            name: " ".into(),
            role: "root".into(),
            password: Some("short".into()),
            time_zone: Some("Mars/Base".into()),
        };
        let errors = input.validate().err().expect("invalid");
        for field in ["email", "name", "role", "password", "time_zone"] {
            assert!(errors.get(field).is_some(), "{field} not reported");
        }
    }

    #[test]
    fn a_missing_password_becomes_a_temporary_one() {
        let input = NewUserInput {
            email: "ana@example.com".into(),
            name: "Ana".into(),
            role: "responder".into(),
            password: None,
            time_zone: None,
        };
        let valid = input.validate().expect("valid");
        assert!(valid.must_change_password);
        assert_eq!(valid.time_zone.name(), "UTC");
    }
}
