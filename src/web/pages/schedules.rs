//! `/oncall` and `/schedules`: who is on call now and next, the rotations, their timeline and
//! overrides.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::{PageCtx, form_errors, page, render, time_zone_names};
use crate::db::repo::schedules::NoteRow;
use crate::domain::schedule::{Layer, Shift, Source};
use crate::domain::time_off::LeaveConflict;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::schedules::{
    self, LayerInput, OverrideInput, Person, RestrictionInput, ScheduleDetail, ScheduleInput,
};
use crate::services::swaps::{self, SwapView};
use crate::services::time_off::{self, LeaveView};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

/// One schedule's line on `/oncall`.
pub struct OnCallRow {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    pub now: Option<(Shift, Person)>,
    pub next: Option<(Shift, Person)>,
    /// The hand-off notes of the previous shift (on `/oncall` only).
    pub notes: Vec<NoteRow>,
}

fn with_person(detail: &ScheduleDetail, shift: Option<Shift>) -> Option<(Shift, Person)> {
    let shift = shift?;
    let person = detail.person(&shift.user_id)?.clone();
    Some((shift, person))
}

fn on_call_row(detail: &ScheduleDetail, now: DateTime<Utc>) -> OnCallRow {
    OnCallRow {
        id: detail.id.clone(),
        name: detail.name.clone(),
        time_zone: detail.time_zone.name().to_owned(),
        now: with_person(detail, detail.on_call_at(now)),
        next: with_person(detail, detail.next_after(now)),
        notes: Vec::new(),
    }
}

#[derive(Template)]
#[template(path = "schedules/oncall.html")]
pub struct OnCallPage {
    pub ctx: PageCtx,
    pub rows: Vec<OnCallRow>,
}

pub async fn on_call(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let now = ctx.now;
    let mut rows = Vec::new();
    for detail in schedules::list(&st, now).await? {
        let mut row = on_call_row(&detail, now);
        row.notes = schedules::handoff_notes(&st, &detail, now).await?;
        rows.push(row);
    }
    page(&OnCallPage { ctx, rows })
}

#[derive(Template)]
#[template(path = "schedules/list.html")]
pub struct SchedulesPage {
    pub ctx: PageCtx,
    pub rows: Vec<OnCallRow>,
    pub people: Vec<Person>,
    pub form: ScheduleForm,
    pub errors: FieldErrors,
}

impl SchedulesPage {
    pub fn zones(&self) -> impl Iterator<Item = &'static str> {
        time_zone_names()
    }

    pub fn weekdays(&self) -> [(&'static str, &'static str); 7] {
        WEEKDAYS
    }

    pub fn day_checked(&self, day: &str) -> bool {
        self.form.days.iter().any(|d| d == day)
    }

    pub fn zone_selected(&self, zone: &str) -> bool {
        self.form.time_zone == zone
    }

    pub fn every_selected(&self, every: &str) -> bool {
        self.form.every == every
    }
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
];

/// The "new schedule" form: one layer; more layers are added through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ScheduleForm {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub layer_name: String,
    pub every: String,
    pub count: String,
    pub start: String,
    pub handoff: String,
    /// One e-mail address per line (or separated by commas), in turn order.
    pub participants: String,
    /// Restrict to a daily window: days ticked plus from/to. Empty = always.
    pub days: Vec<String>,
    pub window_from: String,
    pub window_to: String,
}

impl Default for ScheduleForm {
    fn default() -> Self {
        ScheduleForm {
            name: String::new(),
            description: String::new(),
            time_zone: "UTC".into(),
            layer_name: "Primary".into(),
            every: "weekly".into(),
            count: "1".into(),
            start: String::new(),
            handoff: "09:00".into(),
            participants: String::new(),
            days: Vec::new(),
            window_from: String::new(),
            window_to: String::new(),
        }
    }
}

impl ScheduleForm {
    fn input(&self) -> ScheduleInput {
        let restricted = !self.window_from.trim().is_empty() || !self.window_to.trim().is_empty();
        let restrictions = if restricted || !self.days.is_empty() {
            vec![RestrictionInput {
                days: self.days.clone(),
                from: if restricted {
                    self.window_from.clone()
                } else {
                    "00:00".into()
                },
                to: if restricted {
                    self.window_to.clone()
                } else {
                    "00:00".into()
                },
            }]
        } else {
            Vec::new()
        };
        ScheduleInput {
            name: self.name.clone(),
            description: self.description.clone(),
            time_zone: self.time_zone.clone(),
            layers: vec![LayerInput {
                name: self.layer_name.clone(),
                every: self.every.clone(),
                // Not a number: 0, which validation refuses with its own message.
                count: self.count.trim().parse().unwrap_or(0),
                start: self.start.clone(),
                handoff: self.handoff.clone(),
                participants: self
                    .participants
                    .split(['\n', ','])
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect(),
                restrictions,
            }],
        }
    }
}

/// Form bodies may repeat `days`; serde_urlencoded cannot collect repeats, so they are gathered
/// by hand.
fn parse_schedule_form(body: &[u8]) -> Result<ScheduleForm, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
    let mut form = ScheduleForm {
        time_zone: String::new(),
        layer_name: String::new(),
        every: String::new(),
        count: String::new(),
        handoff: String::new(),
        ..ScheduleForm::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "name" => form.name = v,
            "description" => form.description = v,
            "time_zone" => form.time_zone = v,
            "layer_name" => form.layer_name = v,
            "every" => form.every = v,
            "count" => form.count = v,
            "start" => form.start = v,
            "handoff" => form.handoff = v,
            "participants" => form.participants = v,
            "days" => form.days.push(v),
            "window_from" => form.window_from = v,
            "window_to" => form.window_to = v,
            _ => {}
        }
    }
    Ok(form)
}

async fn list_page(
    st: &AppState,
    ctx: PageCtx,
    form: ScheduleForm,
    errors: FieldErrors,
) -> Result<SchedulesPage, AppError> {
    let now = ctx.now;
    let rows = schedules::list(st, now)
        .await?
        .iter()
        .map(|d| on_call_row(d, now))
        .collect();
    Ok(SchedulesPage {
        rows,
        people: schedules::active_people(st).await?,
        form,
        errors,
        ctx,
    })
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    let form = ScheduleForm {
        time_zone: ctx.tz.name().to_owned(),
        start: ctx
            .now
            .with_timezone(&ctx.tz)
            .format("%Y-%m-%d")
            .to_string(),
        ..ScheduleForm::default()
    };
    page(&list_page(&st, ctx, form, FieldErrors::new()).await?)
}

pub async fn create(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form = parse_schedule_form(&body)?;
    match schedules::create(&st, &who.actor(Some(ip.0)), &form.input()).await {
        Ok(detail) => Ok(redirect_with(
            &format!("/schedules/{}", detail.id),
            Flash::success(format!("Schedule '{}' created.", detail.name)),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &list_page(&st, ctx, form, errors).await?,
            )
        }
    }
}

/// A bar on the timeline, placed in percent of the range shown.
pub struct Bar {
    pub left: f64,
    pub width: f64,
    pub label: String,
    pub title: String,
    /// A stable hue per person, so one person has one colour everywhere.
    pub hue: u32,
}

pub struct TimelineRow {
    pub label: String,
    pub bars: Vec<Bar>,
    /// Spans nobody covers (final row only), in red.
    pub gaps: Vec<Bar>,
    /// Spans whose person is on leave (final row only), hatched.
    pub conflicts: Vec<Bar>,
}

pub struct DayMark {
    pub left: f64,
    pub label: String,
    pub today: bool,
    pub weekend: bool,
    /// The holiday's name, when the day is one.
    pub holiday: Option<String>,
}

/// The override list under the timeline.
pub struct OverrideLine {
    pub id: String,
    pub who: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "schedules/show.html")]
pub struct SchedulePage {
    pub ctx: PageCtx,
    pub detail: ScheduleDetail,
    pub weeks: i64,
    pub days: Vec<DayMark>,
    pub rows: Vec<TimelineRow>,
    pub now_left: Option<f64>,
    pub on_call: Option<(Shift, Person)>,
    pub next: Option<(Shift, Person)>,
    pub layers: Vec<Layer>,
    pub overrides: Vec<OverrideLine>,
    pub people: Vec<Person>,
    pub form: OverrideForm,
    pub errors: FieldErrors,
    pub feed_url: String,
    pub holiday_form: HolidayForm,
    pub holiday_errors: FieldErrors,
    pub notes: Vec<NoteRow>,
    pub search: String,
    pub note_error: Option<String>,
    pub swaps: Vec<SwapView>,
    /// The viewer's own coming shifts by rotation, which they may offer.
    pub my_shifts: Vec<Shift>,
    /// Who takes turns here now, for "offer to".
    pub rotation_people: Vec<Person>,
    pub swap_form: SwapForm,
    pub swap_errors: FieldErrors,
    pub conflicts: Vec<(LeaveConflict, LeaveView)>,
}

/// The offer form: one of the viewer's shifts, or a stretch typed in the schedule's zone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SwapForm {
    /// `start|end` in RFC 3339, from the list of the viewer's shifts.
    pub shift: String,
    pub start: String,
    pub end: String,
    pub offered_to: String,
    pub note: String,
}

impl SchedulePage {
    pub fn viewer_id(&self) -> &str {
        self.ctx.user.as_ref().map_or("", |u| u.id.as_str())
    }

    /// The value the offer form's shift list uses for `shift`.
    pub fn shift_value(&self, shift: &Shift) -> String {
        format!("{}|{}", shift.start.to_rfc3339(), shift.end.to_rfc3339())
    }

    pub fn local_input(&self, t: &DateTime<Utc>) -> String {
        datetime_local(self.detail.time_zone, t)
    }

    /// A time in the schedule's own zone.
    pub fn sched(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.detail.time_zone)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }

    /// Whether the viewer's zone differs from the schedule's (then both are shown).
    pub fn other_zone(&self) -> bool {
        self.ctx.tz != self.detail.time_zone
    }

    pub fn person_name(&self, id: &str) -> String {
        self.detail
            .person(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "(unknown)".into())
    }

    pub fn rotation_text(&self, layer: &Layer) -> String {
        let unit = match (layer.rotation.unit.as_str(), layer.rotation.count) {
            ("hourly", 1) => "every hour".to_owned(),
            ("daily", 1) => "every day".to_owned(),
            ("weekly", 1) => "every week".to_owned(),
            ("hourly", n) => format!("every {n} hours"),
            ("daily", n) => format!("every {n} days"),
            (_, n) => format!("every {n} weeks"),
        };
        format!(
            "Hands off {unit} at {} from {}",
            layer.handoff.format("%H:%M"),
            layer.start.format("%Y-%m-%d")
        )
    }

    pub fn restriction_text(&self, layer: &Layer) -> String {
        if layer.restrictions.is_empty() {
            return "always".into();
        }
        layer
            .restrictions
            .iter()
            .map(|r| {
                let days = if r.days.is_empty() {
                    "every day".to_owned()
                } else {
                    r.days
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if r.from == r.to {
                    format!("{days}, all day")
                } else {
                    format!(
                        "{days}, {}-{}",
                        r.from.format("%H:%M"),
                        r.to.format("%H:%M")
                    )
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn shift_weeks(&self) -> [i64; 2] {
        [2, 4]
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OverrideForm {
    pub user: String,
    /// `datetime-local` values, in the schedule's zone.
    pub start: String,
    pub end: String,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowQuery {
    pub weeks: Option<i64>,
    /// Words to find in the hand-off log.
    pub q: String,
    /// Pre-fill the override form (`datetime-local` values): "cover this leave conflict".
    pub cover_from: String,
    pub cover_to: String,
}

fn hue(id: &str) -> u32 {
    // FNV-1a: stable across runs and versions, unlike the standard hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // Twelve hues 30 degrees apart: neighbours on a timeline stay easy to tell apart.
    (h % 12) * 30
}

fn percent(t: DateTime<Utc>, from: DateTime<Utc>, range: Duration) -> f64 {
    let offset = (t - from).num_seconds() as f64;
    (offset / range.num_seconds() as f64 * 100.0).clamp(0.0, 100.0)
}

fn bar(
    detail: &ScheduleDetail,
    shift: &Shift,
    from: DateTime<Utc>,
    range: Duration,
    describe: &dyn Fn(&DateTime<Utc>) -> String,
) -> Bar {
    let left = percent(shift.start, from, range);
    let right = percent(shift.end, from, range);
    let name = detail
        .person(&shift.user_id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "(unknown)".into());
    let via = shift.source.label();
    Bar {
        left,
        width: (right - left).max(0.0),
        title: format!(
            "{name}: {} to {} ({via})",
            describe(&shift.start),
            describe(&shift.end)
        ),
        label: name,
        hue: hue(&shift.user_id),
    }
}

pub(super) async fn schedule_page(
    st: &AppState,
    ctx: PageCtx,
    id: &str,
    weeks: i64,
    form: OverrideForm,
    errors: FieldErrors,
) -> Result<SchedulePage, AppError> {
    let now = ctx.now;
    // Loaded around now: enough for the four weeks shown, "on call now" and "next".
    let detail = schedules::get_around(st, id, now).await?;
    let zone = detail.time_zone;
    // The timeline starts at the beginning of today in the schedule's zone.
    let today = now.with_timezone(&zone).date_naive();
    let from = zone_midnight(zone, today);
    let to = zone_midnight(zone, today + Duration::days(7 * weeks));
    let range = to - from;
    let describe = |t: &DateTime<Utc>| {
        t.with_timezone(&zone)
            .format("%a %d %b %H:%M %Z")
            .to_string()
    };
    let mut rows = Vec::new();
    let layers = detail.layers_at(now).to_vec();
    for (index, layer) in layers.iter().enumerate().rev() {
        let bars = layer
            .shifts(index, zone, from, to)
            .iter()
            .map(|s| bar(&detail, s, from, range, &describe))
            .collect();
        rows.push(TimelineRow {
            label: layer.name.clone(),
            bars,
            gaps: Vec::new(),
            conflicts: Vec::new(),
        });
    }
    let override_bars = detail
        .schedule
        .overrides
        .iter()
        .filter(|o| o.end > from && o.start < to)
        .map(|o| {
            let shift = Shift {
                user_id: o.user_id.clone(),
                start: o.start.max(from),
                end: o.end.min(to),
                source: Source::Override { id: o.id.clone() },
            };
            bar(&detail, &shift, from, range, &describe)
        })
        .collect();
    rows.push(TimelineRow {
        label: "Overrides".into(),
        bars: override_bars,
        gaps: Vec::new(),
        conflicts: Vec::new(),
    });
    let final_shifts = detail.final_shifts(from, to);
    let conflicts = time_off::conflicts_in(st, &detail, from, to).await?;
    let conflict_bars = conflicts
        .iter()
        .map(|(c, leave)| {
            let left = percent(c.start, from, range);
            Bar {
                left,
                width: (percent(c.end, from, range) - left).max(0.0),
                label: "on leave".into(),
                title: format!(
                    "{} is on leave: {} to {}",
                    leave.user_name,
                    describe(&c.start),
                    describe(&c.end)
                ),
                hue: 0,
            }
        })
        .collect();
    let viewer = ctx.user.as_ref().map(|u| u.id.clone()).unwrap_or_default();
    let my_shifts: Vec<Shift> = final_shifts
        .iter()
        .filter(|s| s.user_id == viewer && s.end > now && matches!(s.source, Source::Layer { .. }))
        .map(|s| Shift {
            start: s.start.max(now),
            ..s.clone()
        })
        .take(20)
        .collect();
    let final_bars = final_shifts
        .iter()
        .map(|s| bar(&detail, s, from, range, &describe))
        .collect();
    let gaps = detail
        .gaps(from, to)
        .iter()
        .map(|g| {
            let left = percent(g.start, from, range);
            Bar {
                left,
                width: (percent(g.end, from, range) - left).max(0.0),
                label: "nobody".into(),
                title: format!(
                    "Nobody on call: {} to {}",
                    describe(&g.start),
                    describe(&g.end)
                ),
                hue: 0,
            }
        })
        .collect();
    rows.push(TimelineRow {
        label: "On call".into(),
        bars: final_bars,
        gaps,
        conflicts: conflict_bars,
    });
    let days = (0..7 * weeks)
        .map(|d| {
            let date = today + Duration::days(d);
            let start = zone_midnight(zone, date);
            let weekday = date.format("%a").to_string();
            DayMark {
                left: percent(start, from, range),
                label: date.format("%a %d").to_string(),
                today: d == 0,
                weekend: weekday == "Sat" || weekday == "Sun",
                holiday: detail.holiday_on(date).map(|h| h.name.clone()),
            }
        })
        .collect();
    let mut overrides: Vec<OverrideLine> = detail
        .overrides
        .iter()
        .filter(|o| o.end_at.and_utc() > now && o.start_at.and_utc() < to)
        .map(|o| OverrideLine {
            id: o.id.clone(),
            who: detail
                .person(&o.user_id)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            start: o.start_at.and_utc(),
            end: o.end_at.and_utc(),
            reason: o.reason.clone(),
        })
        .collect();
    overrides.sort_by_key(|o| o.start);
    let mut rotation_people: Vec<Person> = detail
        .active_people()
        .into_iter()
        .filter(|p| p.id != viewer && detail.in_rotation(&p.id, now))
        .collect();
    rotation_people.sort_by_key(|p| p.name.to_lowercase());
    Ok(SchedulePage {
        swaps: swaps::of_schedule(st, &detail).await?,
        my_shifts,
        rotation_people,
        swap_form: SwapForm::default(),
        swap_errors: FieldErrors::new(),
        conflicts,
        weeks,
        days,
        rows,
        now_left: (now >= from && now < to).then(|| percent(now, from, range)),
        on_call: with_person(&detail, detail.on_call_at(now)),
        next: with_person(&detail, detail.next_after(now)),
        layers,
        overrides,
        people: detail.active_people(),
        feed_url: crate::services::feeds::schedule_feed_url(st, &detail),
        detail,
        form,
        errors,
        holiday_form: HolidayForm::default(),
        holiday_errors: FieldErrors::new(),
        notes: schedules::notes(st, id, "").await?,
        search: String::new(),
        note_error: None,
        ctx,
    })
}

/// A `datetime-local` value in `zone`, to pre-fill a form.
fn datetime_local(zone: Tz, t: &DateTime<Utc>) -> String {
    t.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

/// Local midnight of `date` in `zone` (the first instant of the day where midnight is skipped).
fn zone_midnight(zone: Tz, date: chrono::NaiveDate) -> DateTime<Utc> {
    crate::domain::schedule::local_to_utc(zone, date, chrono::NaiveTime::MIN)
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let weeks = if query.weeks == Some(4) { 4 } else { 2 };
    let cover = OverrideForm {
        start: query.cover_from.trim().chars().take(16).collect(),
        end: query.cover_to.trim().chars().take(16).collect(),
        ..OverrideForm::default()
    };
    let mut page_data = schedule_page(&st, ctx, &path, weeks, cover, FieldErrors::new()).await?;
    if !query.q.trim().is_empty() {
        page_data.notes = schedules::notes(&st, &path, &query.q).await?;
        page_data.search = query.q.trim().to_owned();
    }
    page(&page_data)
}

/// A `datetime-local` value (`2026-12-24T18:00`) in the schedule's zone; a time the clocks
/// skip moves past the gap, a repeated one takes its first occurrence (as hand-offs do).
pub(super) fn parse_local(
    zone: Tz,
    raw: &str,
    field: &'static str,
) -> Result<DateTime<Utc>, FieldErrors> {
    let raw = raw.trim();
    let parsed = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M"))
        .map_err(|_| FieldErrors::single(field, format!("'{raw}' is not a date and time")))?;
    Ok(crate::domain::schedule::local_to_utc(
        zone,
        parsed.date(),
        parsed.time(),
    ))
}

pub async fn add_override(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<OverrideForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let detail = schedules::get_around(&st, &path, ctx.now).await?;
    let zone = detail.time_zone;
    let times = parse_local(zone, &form.start, "start")
        .and_then(|start| parse_local(zone, &form.end, "end").map(|end| (start, end)));
    let result = match times {
        Ok((start, end)) => {
            let input = OverrideInput {
                user: form.user.clone(),
                start,
                end,
                reason: form.reason.clone(),
            };
            schedules::add_override(&st, &who.actor(Some(ip.0)), &path, &input)
                .await
                .map_err(form_errors)
        }
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/schedules/{}", detail.id),
            Flash::success("Override added."),
        )),
        Err(Ok(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &schedule_page(&st, ctx, &path, 2, form, errors).await?,
        ),
        Err(Err(e)) => Err(e),
    }
}

pub async fn remove_override(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (schedule_id, override_id) = path.into_inner();
    schedules::remove_override(&st, &who.actor(Some(ip.0)), &schedule_id, &override_id).await?;
    Ok(redirect_with(
        &format!("/schedules/{schedule_id}"),
        Flash::success("Override removed."),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FeedQuery {
    pub token: String,
}

fn calendar_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(body)
}

/// `GET /schedules/{id}.ics?token=...`: for calendar apps, which cannot sign in.
pub async fn schedule_feed(
    st: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    let body = crate::services::feeds::schedule_ics(&st, &path, &query.token).await?;
    Ok(calendar_response(body))
}

/// `GET /users/{id}/oncall.ics?token=...`: one person's shifts on every schedule.
pub async fn user_feed(
    st: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    let body = crate::services::feeds::user_ics(&st, &path, &query.token).await?;
    Ok(calendar_response(body))
}

pub async fn rotate_feed(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    crate::services::feeds::rotate_schedule_feed(&st, &who.actor(Some(ip.0)), &path).await?;
    Ok(redirect_with(
        &format!("/schedules/{}", path.as_str()),
        Flash::success("Calendar link replaced; the old one no longer works."),
    ))
}

pub async fn create_backup(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let backup = schedules::create_backup(&st, &who.actor(Some(ip.0)), &path).await?;
    Ok(redirect_with(
        &format!("/schedules/{}", backup.id),
        Flash::success(format!(
            "Schedule '{}' created: the same people, one place later.",
            backup.name
        )),
    ))
}

/// One person's bar in the load chart: widths in percent of the heaviest load.
pub struct LoadBar {
    pub name: String,
    pub shifts: usize,
    pub total: f64,
    pub night: f64,
    pub weekend: f64,
    pub holiday: f64,
    pub share: f64,
    pub width: f64,
    pub y: usize,
}

#[derive(Template)]
#[template(path = "schedules/review.html")]
pub struct ReviewPage {
    pub ctx: PageCtx,
    pub review: schedules::Review,
    pub bars: Vec<LoadBar>,
    pub chart_height: usize,
    pub previous: String,
    pub next: String,
}

impl ReviewPage {
    pub fn sched(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.review.detail.time_zone)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn local_input(&self, t: &DateTime<Utc>) -> String {
        datetime_local(self.review.detail.time_zone, t)
    }

    pub fn hours(&self, h: &f64) -> String {
        format!("{h:.1}")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewQuery {
    pub month: String,
}

fn shift_month(month: &str, by: i32) -> String {
    let (y, m) = crate::domain::oncall_load::parse_month(month).unwrap_or((2000, 1));
    let index = y * 12 + i32::try_from(m).unwrap_or(1) - 1 + by;
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

pub async fn review(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Manager>,
    path: web::Path<String>,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, AppError> {
    let review = schedules::review(&st, &path, Some(&query.month)).await?;
    let hours = |d: Duration| crate::domain::oncall_load::PersonLoad::hours(d);
    let heaviest = review
        .loads
        .iter()
        .map(|(_, l)| hours(l.total))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let bars = review
        .loads
        .iter()
        .enumerate()
        .map(|(i, (person, load))| LoadBar {
            name: person.name.clone(),
            shifts: load.shifts,
            total: hours(load.total),
            night: hours(load.night),
            weekend: hours(load.weekend),
            holiday: hours(load.holiday),
            share: hours(load.total) / review.month_hours * 100.0,
            width: hours(load.total) / heaviest * 100.0,
            y: i * 28,
        })
        .collect::<Vec<_>>();
    page(&ReviewPage {
        chart_height: bars.len().max(1) * 28,
        previous: shift_month(&review.month, -1),
        next: shift_month(&review.month, 1),
        bars,
        review,
        ctx,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HolidayForm {
    pub day: String,
    pub holiday: String,
}

pub async fn add_holiday(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<HolidayForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match schedules::add_holiday(&st, &who.actor(Some(ip.0)), &path, &form.day, &form.holiday).await
    {
        Ok(()) => Ok(redirect_with(
            &format!("/schedules/{}#holidays", path.as_str()),
            Flash::success(format!("{} marked as a holiday.", form.day.trim())),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let mut page = schedule_page(
                &st,
                ctx,
                &path,
                2,
                OverrideForm::default(),
                FieldErrors::new(),
            )
            .await?;
            page.holiday_form = form;
            page.holiday_errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub async fn remove_holiday(
    st: web::Data<AppState>,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (schedule_id, holiday_id) = path.into_inner();
    schedules::remove_holiday(&st, &who.actor(Some(ip.0)), &schedule_id, &holiday_id).await?;
    Ok(redirect_with(
        &format!("/schedules/{schedule_id}#holidays"),
        Flash::success("Holiday removed."),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    pub body: String,
}

pub async fn add_note(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Responder>,
    ip: ClientIp,
    path: web::Path<String>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let actor = who.actor(Some(ip.0));
    match schedules::add_note(&st, &actor, &who.user.name, &path, &form.body).await {
        Ok(_) => Ok(redirect_with(
            &format!("/schedules/{}#handoff", path.as_str()),
            Flash::success("Note added to the hand-off log."),
        )),
        Err(AppError::Invalid(errors)) => {
            let mut page_data = schedule_page(
                &st,
                ctx,
                &path,
                2,
                OverrideForm::default(),
                FieldErrors::new(),
            )
            .await?;
            page_data.note_error = errors.get("body").map(str::to_owned);
            render(StatusCode::UNPROCESSABLE_ENTITY, &page_data)
        }
        Err(e) => Err(e),
    }
}
