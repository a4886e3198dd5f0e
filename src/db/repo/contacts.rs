//! Queries on `contact_methods` and `notification_rules`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::to_db;
use crate::db::DbConn;
use crate::db::schema::{contact_methods, notification_rules};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_methods)]
pub struct ContactRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub address: String,
    pub label: String,
    pub secret: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_rules)]
pub struct RuleRow {
    pub id: String,
    pub user_id: String,
    pub contact_method_id: Option<String>,
    pub delay_minutes: i32,
    pub created_at: NaiveDateTime,
}

pub struct NewContact<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub address: &'a str,
    pub label: &'a str,
    pub secret: Option<&'a str>,
    pub now: DateTime<Utc>,
}

pub fn insert_contact(conn: &mut DbConn, new: &NewContact<'_>) -> QueryResult<()> {
    diesel::insert_into(contact_methods::table)
        .values((
            contact_methods::id.eq(new.id),
            contact_methods::user_id.eq(new.user_id),
            contact_methods::kind.eq(new.kind),
            contact_methods::address.eq(new.address),
            contact_methods::label.eq(new.label),
            contact_methods::secret.eq(new.secret),
            contact_methods::created_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn contacts_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ContactRow>> {
    contact_methods::table
        .filter(contact_methods::user_id.eq(user_id))
        .order((contact_methods::created_at.asc(), contact_methods::id.asc()))
        .select(ContactRow::as_select())
        .load(conn)
}

pub fn find_contact(conn: &mut DbConn, id: &str) -> QueryResult<Option<ContactRow>> {
    contact_methods::table
        .find(id)
        .select(ContactRow::as_select())
        .first(conn)
        .optional()
}

/// Removes a method and (by the foreign key's cascade, done here too for SQLite connections
/// without it) the rules that use it.
pub fn delete_contact(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(notification_rules::table.filter(notification_rules::contact_method_id.eq(id)))
        .execute(conn)?;
    diesel::delete(contact_methods::table.find(id)).execute(conn)
}

pub struct NewRule<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub contact_method_id: Option<&'a str>,
    pub delay_minutes: i32,
    pub now: DateTime<Utc>,
}

pub fn insert_rule(conn: &mut DbConn, new: &NewRule<'_>) -> QueryResult<()> {
    diesel::insert_into(notification_rules::table)
        .values((
            notification_rules::id.eq(new.id),
            notification_rules::user_id.eq(new.user_id),
            notification_rules::contact_method_id.eq(new.contact_method_id),
            notification_rules::delay_minutes.eq(new.delay_minutes),
            notification_rules::created_at.eq(to_db(new.now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A person's rules, soonest first.
pub fn rules_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<RuleRow>> {
    notification_rules::table
        .filter(notification_rules::user_id.eq(user_id))
        .order((
            notification_rules::delay_minutes.asc(),
            notification_rules::created_at.asc(),
            notification_rules::id.asc(),
        ))
        .select(RuleRow::as_select())
        .load(conn)
}

pub fn find_rule(conn: &mut DbConn, id: &str) -> QueryResult<Option<RuleRow>> {
    notification_rules::table
        .find(id)
        .select(RuleRow::as_select())
        .first(conn)
        .optional()
}

pub fn delete_rule(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(notification_rules::table.find(id)).execute(conn)
}
