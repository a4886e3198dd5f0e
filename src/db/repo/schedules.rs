//! Queries on `schedules`, their rotation versions and their overrides.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{escape_like, lower, to_db};
use crate::db::DbConn;
use crate::db::schema::{
    handoff_notes, schedule_holidays, schedule_overrides, schedule_versions, schedules, users,
};

/// A schedule as stored; its layers live in [`VersionRow`]s.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schedules)]
pub struct ScheduleRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub feed_generation: i64,
    pub swaps_need_approval: bool,
}

/// One version of a schedule's layers: a JSON document, read and written whole.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schedule_versions)]
pub struct VersionRow {
    pub id: String,
    pub schedule_id: String,
    pub effective_from: NaiveDateTime,
    pub layers: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schedule_overrides)]
pub struct OverrideRow {
    pub id: String,
    pub schedule_id: String,
    pub user_id: String,
    pub start_at: NaiveDateTime,
    pub end_at: NaiveDateTime,
    pub reason: String,
    pub created_at: NaiveDateTime,
    pub created_by: String,
}

pub struct NewSchedule<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub time_zone: &'a str,
    pub now: DateTime<Utc>,
}

pub fn insert(conn: &mut DbConn, new: &NewSchedule<'_>) -> QueryResult<()> {
    diesel::insert_into(schedules::table)
        .values((
            schedules::id.eq(new.id),
            schedules::name.eq(new.name),
            schedules::name_key.eq(new.name.to_lowercase()),
            schedules::description.eq(new.description),
            schedules::time_zone.eq(new.time_zone),
            schedules::created_at.eq(to_db(new.now)),
            schedules::updated_at.eq(to_db(new.now)),
            schedules::version.eq(1_i64),
        ))
        .execute(conn)?;
    Ok(())
}

/// Changes name, description and zone if the schedule is still at `expected_version`; 0 when
/// someone else changed it first.
pub fn update(
    conn: &mut DbConn,
    id: &str,
    expected_version: i64,
    new: &NewSchedule<'_>,
) -> QueryResult<usize> {
    diesel::update(
        schedules::table
            .find(id)
            .filter(schedules::version.eq(expected_version)),
    )
    .set((
        schedules::name.eq(new.name),
        schedules::name_key.eq(new.name.to_lowercase()),
        schedules::description.eq(new.description),
        schedules::time_zone.eq(new.time_zone),
        schedules::updated_at.eq(to_db(new.now)),
        schedules::version.eq(schedules::version + 1),
    ))
    .execute(conn)
}

/// Marks a change that touched only overrides, so concurrent editors notice it too.
pub fn touch(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(schedules::table.find(id))
        .set((
            schedules::updated_at.eq(to_db(now)),
            schedules::version.eq(schedules::version + 1),
        ))
        .execute(conn)
}

/// Whether taken swaps wait for a manager; a change like any other (the version moves on).
pub fn set_swaps_need_approval(
    conn: &mut DbConn,
    id: &str,
    required: bool,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(schedules::table.find(id))
        .set((
            schedules::swaps_need_approval.eq(required),
            schedules::updated_at.eq(to_db(now)),
            schedules::version.eq(schedules::version + 1),
        ))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<ScheduleRow>> {
    schedules::table
        .find(id)
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_name(conn: &mut DbConn, name: &str) -> QueryResult<Option<ScheduleRow>> {
    schedules::table
        .filter(schedules::name_key.eq(name.trim().to_lowercase()))
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<ScheduleRow>> {
    schedules::table
        .order(schedules::name_key.asc())
        .select(ScheduleRow::as_select())
        .load(conn)
}

pub fn insert_version(
    conn: &mut DbConn,
    id: &str,
    schedule_id: &str,
    effective_from: DateTime<Utc>,
    layers_json: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(schedule_versions::table)
        .values((
            schedule_versions::id.eq(id),
            schedule_versions::schedule_id.eq(schedule_id),
            schedule_versions::effective_from.eq(to_db(effective_from)),
            schedule_versions::layers.eq(layers_json),
            schedule_versions::created_at.eq(to_db(now)),
            schedule_versions::created_by.eq(created_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces the layers of a version that has not started yet (or starts now).
pub fn replace_version_layers(
    conn: &mut DbConn,
    id: &str,
    layers_json: &str,
) -> QueryResult<usize> {
    diesel::update(schedule_versions::table.find(id))
        .set(schedule_versions::layers.eq(layers_json))
        .execute(conn)
}

/// Every version of the schedules named, oldest first. Schedules have few versions: one per edit.
pub fn versions_of(conn: &mut DbConn, schedule_ids: &[String]) -> QueryResult<Vec<VersionRow>> {
    schedule_versions::table
        .filter(schedule_versions::schedule_id.eq_any(schedule_ids))
        .order((
            schedule_versions::schedule_id,
            schedule_versions::effective_from.asc(),
        ))
        .select(VersionRow::as_select())
        .load(conn)
}

pub struct NewOverride<'a> {
    pub id: &'a str,
    pub schedule_id: &'a str,
    pub user_id: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: &'a str,
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
}

pub fn insert_override(conn: &mut DbConn, new: &NewOverride<'_>) -> QueryResult<()> {
    diesel::insert_into(schedule_overrides::table)
        .values((
            schedule_overrides::id.eq(new.id),
            schedule_overrides::schedule_id.eq(new.schedule_id),
            schedule_overrides::user_id.eq(new.user_id),
            schedule_overrides::start_at.eq(to_db(new.start)),
            schedule_overrides::end_at.eq(to_db(new.end)),
            schedule_overrides::reason.eq(new.reason),
            schedule_overrides::created_at.eq(to_db(new.now)),
            schedule_overrides::created_by.eq(new.created_by),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_override(conn: &mut DbConn, id: &str) -> QueryResult<Option<OverrideRow>> {
    schedule_overrides::table
        .find(id)
        .select(OverrideRow::as_select())
        .first(conn)
        .optional()
}

/// Cuts an override short: it ends at `end`.
pub fn end_override_at(conn: &mut DbConn, id: &str, end: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(schedule_overrides::table.find(id))
        .set(schedule_overrides::end_at.eq(to_db(end)))
        .execute(conn)
}

pub fn delete_override(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(schedule_overrides::table.find(id)).execute(conn)
}

/// Overrides of the schedules named that overlap [from, to), by start.
pub fn overrides_between(
    conn: &mut DbConn,
    schedule_ids: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<OverrideRow>> {
    schedule_overrides::table
        .filter(schedule_overrides::schedule_id.eq_any(schedule_ids))
        .filter(schedule_overrides::end_at.gt(to_db(from)))
        .filter(schedule_overrides::start_at.lt(to_db(to)))
        .order(schedule_overrides::start_at.asc())
        .select(OverrideRow::as_select())
        .load(conn)
}

/// (id, e-mail, name, active) of every user: schedules name people by id, pages by name.
pub fn people(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String, bool)>> {
    users::table
        .select((users::id, users::email, users::name, users::active))
        .load(conn)
}

/// Revokes the schedule's calendar link: the token is signed over the generation.
pub fn bump_feed_generation(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(schedules::table.find(id))
        .set(schedules::feed_generation.eq(schedules::feed_generation + 1))
        .execute(conn)
}

pub fn user_feed_generation(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<i64>> {
    users::table
        .find(user_id)
        .filter(users::active.eq(true))
        .select(users::feed_generation)
        .first(conn)
        .optional()
}

pub fn bump_user_feed_generation(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set(users::feed_generation.eq(users::feed_generation + 1))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schedule_holidays)]
pub struct HolidayRow {
    pub id: String,
    pub schedule_id: String,
    pub day: NaiveDate,
    pub name: String,
}

pub fn insert_holiday(
    conn: &mut DbConn,
    id: &str,
    schedule_id: &str,
    day: NaiveDate,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(schedule_holidays::table)
        .values((
            schedule_holidays::id.eq(id),
            schedule_holidays::schedule_id.eq(schedule_id),
            schedule_holidays::day.eq(day),
            schedule_holidays::name.eq(name),
            schedule_holidays::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_holiday(conn: &mut DbConn, schedule_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        schedule_holidays::table
            .find(id)
            .filter(schedule_holidays::schedule_id.eq(schedule_id)),
    )
    .execute(conn)
}

/// Holidays of the schedules named, by day.
pub fn holidays_of(conn: &mut DbConn, schedule_ids: &[String]) -> QueryResult<Vec<HolidayRow>> {
    schedule_holidays::table
        .filter(schedule_holidays::schedule_id.eq_any(schedule_ids))
        .order(schedule_holidays::day.asc())
        .select(HolidayRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = handoff_notes)]
pub struct NoteRow {
    pub id: String,
    pub schedule_id: String,
    pub author_id: Option<String>,
    pub author: String,
    pub at: NaiveDateTime,
    pub body: String,
}

pub fn insert_note(
    conn: &mut DbConn,
    id: &str,
    schedule_id: &str,
    author_id: Option<&str>,
    author: &str,
    body: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(handoff_notes::table)
        .values((
            handoff_notes::id.eq(id),
            handoff_notes::schedule_id.eq(schedule_id),
            handoff_notes::author_id.eq(author_id),
            handoff_notes::author.eq(author),
            handoff_notes::at.eq(to_db(now)),
            handoff_notes::body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Notes of a schedule, newest first; `words` (case-insensitive) must all appear when given.
pub fn notes_of(
    conn: &mut DbConn,
    schedule_id: &str,
    words: &[String],
    limit: i64,
) -> QueryResult<Vec<NoteRow>> {
    let mut query = handoff_notes::table
        .filter(handoff_notes::schedule_id.eq(schedule_id))
        .select(NoteRow::as_select())
        .into_boxed();
    for word in words {
        let pattern = format!("%{}%", escape_like(&word.to_lowercase()));
        query = query.filter(lower(handoff_notes::body).like(pattern).escape('\\'));
    }
    query
        .order(handoff_notes::at.desc())
        .limit(limit)
        .load(conn)
}

/// Notes of the schedules named written in [from, to), oldest first.
pub fn notes_between(
    conn: &mut DbConn,
    schedule_ids: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<NoteRow>> {
    handoff_notes::table
        .filter(handoff_notes::schedule_id.eq_any(schedule_ids))
        .filter(handoff_notes::at.ge(to_db(from)))
        .filter(handoff_notes::at.lt(to_db(to)))
        .order(handoff_notes::at.asc())
        .select(NoteRow::as_select())
        .load(conn)
}
