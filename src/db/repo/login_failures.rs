//! Queries on `login_failures`: recent failed sign-ins by account and by address, for lockout.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::to_db;
use crate::db::DbConn;
use crate::db::schema::login_failures;

pub fn record(
    conn: &mut DbConn,
    id: &str,
    email: &str,
    ip: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(id),
            login_failures::email.eq(email),
            login_failures::ip.eq(ip),
            login_failures::at.eq(to_db(at)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn count_for_email_since(
    conn: &mut DbConn,
    email: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::email.eq(email))
        .filter(login_failures::at.gt(to_db(since)))
        .count()
        .get_result(conn)
}

pub fn count_for_ip_since(conn: &mut DbConn, ip: &str, since: DateTime<Utc>) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(to_db(since)))
        .count()
        .get_result(conn)
}

/// The oldest failure inside the window, for telling people when they may try again.
pub fn oldest_since(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    since: DateTime<Utc>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let t = login_failures::table
        .filter(
            login_failures::email
                .eq(email)
                .or(login_failures::ip.eq(ip)),
        )
        .filter(login_failures::at.gt(to_db(since)))
        .select(diesel::dsl::min(login_failures::at))
        .first::<Option<chrono::NaiveDateTime>>(conn)?;
    Ok(t.map(super::from_db))
}

pub fn clear_for_email(conn: &mut DbConn, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

pub fn purge_before(conn: &mut DbConn, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(to_db(before)))).execute(conn)
}
