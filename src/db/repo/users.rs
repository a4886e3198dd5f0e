//! Queries on `users`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{corrupt, from_db, to_db};
use crate::db::DbConn;
use crate::db::schema::users;
use crate::domain::user::{Role, User};

/// A `users` row without the password hash; select it with `UserRow::as_select()`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    time_zone: String,
    active: bool,
    must_change_password: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = diesel::result::Error;

    fn try_from(r: UserRow) -> Result<Self, Self::Error> {
        let role = r
            .role
            .parse::<Role>()
            .map_err(|_| corrupt("role", &r.role))?;
        Ok(User {
            id: r.id,
            email: r.email,
            name: r.name,
            role,
            time_zone: r.time_zone,
            active: r.active,
            must_change_password: r.must_change_password,
            created_at: from_db(r.created_at),
            updated_at: from_db(r.updated_at),
        })
    }
}

fn rows_to_users(rows: Vec<UserRow>) -> QueryResult<Vec<User>> {
    rows.into_iter().map(User::try_from).collect()
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub time_zone: &'a str,
    pub active: bool,
    pub must_change_password: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(User::try_from)
        .transpose()
}

/// The user and their password hash, for signing in.
pub fn find_credentials(conn: &mut DbConn, email: &str) -> QueryResult<Option<(User, String)>> {
    users::table
        .filter(users::email.eq(email))
        .select((UserRow::as_select(), users::password_hash))
        .first::<(UserRow, String)>(conn)
        .optional()?
        .map(|(row, hash)| Ok((User::try_from(row)?, hash)))
        .transpose()
}

pub fn password_hash(conn: &mut DbConn, id: &str) -> QueryResult<Option<String>> {
    users::table
        .find(id)
        .select(users::password_hash)
        .first(conn)
        .optional()
}

/// Everyone, active first, then by name.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    let rows = users::table
        .order((users::active.desc(), users::name.asc(), users::email.asc()))
        .select(UserRow::as_select())
        .load(conn)?;
    rows_to_users(rows)
}

/// Ids of active admins, locked against concurrent change on PostgreSQL so that two admins
/// demoting each other at once cannot leave none. (SQLite's `BEGIN IMMEDIATE` already serialises.)
pub fn lock_active_admin_ids(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let query = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .select(users::id);
    match conn {
        DbConn::Postgres(pg) => query.for_update().load(pg),
        DbConn::Sqlite(_) => query.load(conn),
    }
}

pub fn set_role(conn: &mut DbConn, id: &str, role: Role, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::role.eq(role.as_str()),
            users::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}

pub fn set_active(
    conn: &mut DbConn,
    id: &str,
    active: bool,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::active.eq(active), users::updated_at.eq(to_db(now))))
        .execute(conn)
}

pub fn set_password(
    conn: &mut DbConn,
    id: &str,
    hash: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::must_change_password.eq(must_change),
            users::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}

pub fn set_profile(
    conn: &mut DbConn,
    id: &str,
    name: &str,
    time_zone: &str,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::name.eq(name),
            users::time_zone.eq(time_zone),
            users::updated_at.eq(to_db(now)),
        ))
        .execute(conn)
}
