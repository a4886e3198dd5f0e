//! Queries on `app_settings`: small named values of this installation (secret key, setup token).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::to_db;
use crate::db::schema::app_settings;
use crate::db::{DbConn, is_unique_violation};

pub fn get(conn: &mut DbConn, name: &str) -> QueryResult<Option<String>> {
    app_settings::table
        .find(name)
        .select(app_settings::value)
        .first(conn)
        .optional()
}

/// Sets `name` to `value`, replacing what was there.
pub fn put(conn: &mut DbConn, name: &str, value: &str, now: DateTime<Utc>) -> QueryResult<()> {
    let updated = diesel::update(app_settings::table.find(name))
        .set((
            app_settings::value.eq(value),
            app_settings::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(app_settings::table)
            .values((
                app_settings::name.eq(name),
                app_settings::value.eq(value),
                app_settings::updated_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stores `value` unless `name` already has one, and returns the value that is stored. Must run
/// outside a transaction: on PostgreSQL a refused insert would abort it.
pub fn get_or_insert(
    conn: &mut DbConn,
    name: &str,
    value: &str,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    if let Some(existing) = get(conn, name)? {
        return Ok(existing);
    }
    let inserted = diesel::insert_into(app_settings::table)
        .values((
            app_settings::name.eq(name),
            app_settings::value.eq(value),
            app_settings::updated_at.eq(to_db(now)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value.to_owned()),
        // Another instance won the race; use its value.
        Err(e) if is_unique_violation(&e) => get(conn, name)?.ok_or(e),
        Err(e) => Err(e),
    }
}

/// Deletes `name` only if it still holds `value`; returns whether it did. Used to consume
/// one-time values exactly once.
pub fn take(conn: &mut DbConn, name: &str, value: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        app_settings::table
            .filter(app_settings::name.eq(name))
            .filter(app_settings::value.eq(value)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}
