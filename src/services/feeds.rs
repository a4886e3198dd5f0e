//! iCalendar feeds of shifts, for calendar apps to subscribe to: one per schedule and one per
//! person. Calendar apps cannot sign in, so the link carries a token: an HMAC of the owner and a
//! generation number under the installation's key. Nothing secret is stored, and bumping the
//! generation revokes every copy of the old link at once.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use icalendar::{Calendar, Component, Event, EventLike};

use crate::crypto::constant_time_eq;
use crate::db::repo::schedules as repo;
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::is_valid_id;
use crate::domain::schedule::Shift;
use crate::error::AppError;
use crate::services::audit;
use crate::services::schedules::{self, ScheduleDetail};
use crate::state::AppState;

/// What a feed covers, around now.
const PAST: Duration = Duration::days(30);
const AHEAD: Duration = Duration::days(180);

fn schedule_token(st: &AppState, schedule_id: &str, generation: i64) -> String {
    st.secret
        .sign("schedule-feed", &format!("{schedule_id}:{generation}"))
}

fn user_token(st: &AppState, user_id: &str, generation: i64) -> String {
    st.secret
        .sign("user-feed", &format!("{user_id}:{generation}"))
}

pub fn schedule_feed_url(st: &AppState, detail: &ScheduleDetail) -> String {
    format!(
        "{}/schedules/{}.ics?token={}",
        st.base_url.as_str().trim_end_matches('/'),
        detail.id,
        schedule_token(st, &detail.id, detail.feed_generation)
    )
}

pub async fn user_feed_url(st: &AppState, user_id: &str) -> Result<String, AppError> {
    let id = user_id.to_owned();
    let generation = st
        .db
        .read(move |c| repo::user_feed_generation(c, &id).map_err(AppError::from))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(format!(
        "{}/users/{}/oncall.ics?token={}",
        st.base_url.as_str().trim_end_matches('/'),
        user_id,
        user_token(st, user_id, generation)
    ))
}

fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn event(detail: &ScheduleDetail, shift: &Shift, now: DateTime<Utc>) -> Event {
    let who = detail
        .person(&shift.user_id)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    // Stable while the shift stays the same: a calendar app updates it in place instead of
    // adding a copy every time it refreshes.
    let uid = format!(
        "{}-{}-{}@lookout",
        detail.id,
        shift.start.timestamp(),
        shift.user_id
    );
    let mut e = Event::new();
    e.uid(&uid)
        .summary(&format!("On call: {who} ({})", detail.name))
        .description(&format!(
            "{who} is on call for {} from {} to {}.",
            detail.name,
            stamp(&shift.start),
            stamp(&shift.end)
        ))
        .starts(shift.start)
        .ends(shift.end)
        .timestamp(now);
    e.done()
}

fn calendar(name: &str, events: Vec<Event>) -> String {
    let mut cal = Calendar::new();
    cal.name(name);
    for e in events {
        cal.push(e);
    }
    cal.done().to_string()
}

/// The schedule's final shifts, when `token` is the schedule's current feed token.
pub async fn schedule_ics(st: &AppState, id: &str, token: &str) -> Result<String, AppError> {
    if !is_valid_id(id) {
        return Err(AppError::NotFound);
    }
    let now = st.clock.now();
    let detail = schedules::get(st, id, now - PAST, now + AHEAD).await?;
    let expected = schedule_token(st, &detail.id, detail.feed_generation);
    if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
        // The same answer as an unknown schedule: a wrong token reveals nothing.
        return Err(AppError::NotFound);
    }
    let events = detail
        .final_shifts(now - PAST, now + AHEAD)
        .iter()
        .map(|s| event(&detail, s, now))
        .collect();
    Ok(calendar(&format!("On call: {}", detail.name), events))
}

/// One person's shifts on every schedule, when `token` is their current feed token.
pub async fn user_ics(st: &AppState, user_id: &str, token: &str) -> Result<String, AppError> {
    if !is_valid_id(user_id) {
        return Err(AppError::NotFound);
    }
    let id = user_id.to_owned();
    let generation = st
        .db
        .read(move |c| repo::user_feed_generation(c, &id).map_err(AppError::from))
        .await?
        .ok_or(AppError::NotFound)?;
    let expected = user_token(st, user_id, generation);
    if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
        return Err(AppError::NotFound);
    }
    let now = st.clock.now();
    let mut events = Vec::new();
    let mut name = String::new();
    for detail in schedules::list_between(st, now - PAST, now + AHEAD).await? {
        if let Some(p) = detail.person(user_id) {
            name.clone_from(&p.name);
        }
        for shift in detail.final_shifts(now - PAST, now + AHEAD) {
            if shift.user_id == user_id {
                events.push(event(&detail, &shift, now));
            }
        }
    }
    Ok(calendar(&format!("On call: {name}"), events))
}

/// A new link for the schedule's feed; the old one stops working.
pub async fn rotate_schedule_feed(st: &AppState, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (id, actor, now) = (id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if !is_valid_id(&id) || repo::bump_feed_generation(c, &id)? == 0 {
                return Err(AppError::NotFound);
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleFeedRotated,
                Some(("schedule", &id)),
                "calendar link replaced; the old one no longer works",
            )?;
            Ok(())
        })
        .await
}

/// A new link for a person's own feed.
pub async fn rotate_user_feed(st: &AppState, actor: &Actor, user_id: &str) -> Result<(), AppError> {
    let (id, actor, now) = (user_id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            if repo::bump_user_feed_generation(c, &id)? == 0 {
                return Err(AppError::NotFound);
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::UserFeedRotated,
                Some(("user", &id)),
                "personal calendar link replaced",
            )?;
            Ok(())
        })
        .await
}
