//! API tokens: created by their owner (page, API or command line), shown once, stored hashed,
//! revocable by the owner or an admin.

use crate::crypto::{random_token, sha256_hex};
use crate::db::repo::api_tokens::{self, ApiToken, NewApiToken};
use crate::db::repo::to_db;
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::new_id;
use crate::domain::user::{Role, User, token_label};
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

/// Tokens look like `lk_` + 43 base64url characters (256 random bits).
const TOKEN_PREFIX: &str = "lk_";
/// How much of a token is kept in clear so people can tell their tokens apart.
const SHOWN_PREFIX_LEN: usize = 10;

pub struct IssuedToken {
    pub token: ApiToken,
    /// The secret itself; shown to its owner this once.
    pub secret: String,
}

pub async fn create(
    st: &AppState,
    actor: &Actor,
    owner: &User,
    label: &str,
) -> Result<IssuedToken, AppError> {
    let label = token_label(label).map_err(|e| AppError::invalid("label", e))?;
    let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
    let prefix: String = secret.chars().take(SHOWN_PREFIX_LEN).collect();
    let hash = sha256_hex(&secret);
    let (actor, owner_id, owner_email, now) = (
        actor.clone(),
        owner.id.clone(),
        owner.email.clone(),
        st.clock.now(),
    );
    let token = st
        .db
        .write(move |c| -> Result<ApiToken, AppError> {
            let id = new_id();
            api_tokens::insert(
                c,
                &NewApiToken {
                    id: &id,
                    user_id: &owner_id,
                    label: &label,
                    token_hash: &hash,
                    prefix: &prefix,
                    created_at: to_db(now),
                },
            )?;
            let detail = format!("token '{label}' ({prefix}…) for {owner_email}");
            audit::record(
                c,
                now,
                &actor,
                AuditAction::TokenCreated,
                Some(("token", &id)),
                &detail,
            )?;
            api_tokens::find(c, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(IssuedToken { token, secret })
}

pub async fn list_for_user(st: &AppState, user_id: &str) -> Result<Vec<ApiToken>, AppError> {
    let user_id = user_id.to_owned();
    st.db
        .read(move |c| api_tokens::list_for_user(c, &user_id).map_err(AppError::from))
        .await
}

/// Revokes a token of `acting` (or anyone's, for an admin). Someone else's token answers
/// "not found" so token ids cannot be probed. Revoking twice is harmless.
pub async fn revoke(
    st: &AppState,
    actor: &Actor,
    acting: &User,
    token_id: &str,
) -> Result<ApiToken, AppError> {
    let (actor, acting, token_id, now) = (
        actor.clone(),
        acting.clone(),
        token_id.to_owned(),
        st.clock.now(),
    );
    st.db
        .write(move |c| -> Result<ApiToken, AppError> {
            let token = api_tokens::find(c, &token_id)?.ok_or(AppError::NotFound)?;
            if token.user_id != acting.id && acting.role != Role::Admin {
                return Err(AppError::NotFound);
            }
            if api_tokens::revoke(c, &token_id, now)? > 0 {
                let detail = format!("token '{}' ({}…)", token.label, token.prefix);
                audit::record(
                    c,
                    now,
                    &actor,
                    AuditAction::TokenRevoked,
                    Some(("token", &token_id)),
                    &detail,
                )?;
            }
            api_tokens::find(c, &token_id)?.ok_or(AppError::NotFound)
        })
        .await
}
