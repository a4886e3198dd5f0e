//! Queries on `api_tokens`: bearer tokens, stored by the SHA-256 of the secret.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::users::UserRow;
use super::{from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::{api_tokens, users};
use crate::domain::user::User;

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub label: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub created_at: NaiveDateTime,
}

/// A token as its owner sees it: never the secret, only its first characters.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
struct TokenRow {
    id: String,
    user_id: String,
    label: String,
    prefix: String,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            id: r.id,
            user_id: r.user_id,
            label: r.label,
            prefix: r.prefix,
            created_at: from_db(r.created_at),
            last_used_at: r.last_used_at.map(from_db),
            revoked_at: r.revoked_at.map(from_db),
        }
    }
}

pub fn insert(conn: &mut DbConn, new: &NewApiToken<'_>) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// The unrevoked token with this hash and its user, provided the user is active.
pub fn find_live_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<(ApiToken, User)>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::active.eq(true))
        .select((TokenRow::as_select(), UserRow::as_select()))
        .first::<(TokenRow, UserRow)>(conn)
        .optional()?
        .map(|(token, user)| Ok((ApiToken::from(token), User::try_from(user)?)))
        .transpose()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<ApiToken>> {
    Ok(api_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?
        .map(ApiToken::from))
}

/// A user's tokens, live ones first, newest first.
pub fn list_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order((api_tokens::revoked_at.is_not_null(), api_tokens::id.desc()))
        .select(TokenRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ApiToken::from)
        .collect())
}

/// Revokes a live token; returns 0 when it was already revoked.
pub fn revoke(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(to_db(now)))
    .execute(conn)
}

pub fn revoke_all_for_user(
    conn: &mut DbConn,
    user_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(to_db(now)))
    .execute(conn)
}

pub fn touch(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(to_db(now)))
        .execute(conn)
}
