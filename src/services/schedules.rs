//! Duty schedules: create and edit rotations (each edit a new version in force from now, so the
//! past never changes), overrides, and who is on call. The maths is `domain::schedule`; this
//! module loads what it needs, validates input and records the audit trail.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::db::repo::schedules::{
    self as repo, HolidayRow, NewOverride, NewSchedule, OverrideRow, ScheduleRow,
};
use crate::db::repo::{from_db, users};
use crate::db::{DbConn, is_unique_violation};
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::ids::{is_valid_id, new_id};
use crate::domain::schedule::{
    Layer, Override, Restriction, Rotation, RotationUnit, Schedule, ScheduleError, Shift, Version,
    check_override, parse_date, parse_time_of_day, parse_time_zone, parse_weekday,
};
use crate::domain::validation::{FieldErrors, bounded_text};
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

/// How far around an instant overrides are loaded to find the full extent of a shift.
const OVERRIDE_HORIZON: Duration = Duration::days(120);
pub const MAX_LAYERS: usize = 10;
const MAX_PARTICIPANTS: usize = 100;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestrictionInput {
    #[serde(default)]
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LayerInput {
    pub name: String,
    pub every: String,
    pub count: u32,
    /// The first hand-off's local date, `YYYY-MM-DD`.
    pub start: String,
    /// Local hand-off time, `HH:MM`.
    pub handoff: String,
    /// E-mail addresses or user ids, in turn order.
    pub participants: Vec<String>,
    pub restrictions: Vec<RestrictionInput>,
}

#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub layers: Vec<LayerInput>,
}

/// A layer as stored in a version's JSON document.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredLayer {
    name: String,
    every: RotationUnit,
    count: u32,
    start: NaiveDate,
    handoff: NaiveTime,
    participants: Vec<String>,
    #[serde(default)]
    restrictions: Vec<StoredRestriction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRestriction {
    days: Vec<Weekday>,
    from: NaiveTime,
    to: NaiveTime,
}

impl From<&Layer> for StoredLayer {
    fn from(l: &Layer) -> Self {
        StoredLayer {
            name: l.name.clone(),
            every: l.rotation.unit,
            count: l.rotation.count,
            start: l.start,
            handoff: l.handoff,
            participants: l.participants.clone(),
            restrictions: l
                .restrictions
                .iter()
                .map(|r| StoredRestriction {
                    days: r.days.clone(),
                    from: r.from,
                    to: r.to,
                })
                .collect(),
        }
    }
}

impl From<StoredLayer> for Layer {
    fn from(l: StoredLayer) -> Self {
        Layer {
            name: l.name,
            rotation: Rotation {
                unit: l.every,
                count: l.count,
            },
            start: l.start,
            handoff: l.handoff,
            participants: l.participants,
            restrictions: l
                .restrictions
                .into_iter()
                .map(|r| Restriction {
                    days: r.days,
                    from: r.from,
                    to: r.to,
                })
                .collect(),
        }
    }
}

fn layers_json(layers: &[Layer]) -> Result<String, AppError> {
    let stored: Vec<StoredLayer> = layers.iter().map(StoredLayer::from).collect();
    serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.to_string()))
}

fn layers_from_json(raw: &str) -> Result<Vec<Layer>, AppError> {
    let stored: Vec<StoredLayer> = serde_json::from_str(raw)
        .map_err(|e| AppError::Internal(format!("stored schedule layers are invalid: {e}")))?;
    Ok(stored.into_iter().map(Layer::from).collect())
}

/// Someone a schedule can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
}

fn people(conn: &mut DbConn) -> Result<HashMap<String, Person>, AppError> {
    Ok(repo::people(conn)?
        .into_iter()
        .map(|(id, email, name, active)| {
            (
                id.clone(),
                Person {
                    id,
                    email,
                    name,
                    active,
                },
            )
        })
        .collect())
}

fn sorted_active<'a>(people: impl Iterator<Item = &'a Person>) -> Vec<Person> {
    let mut active: Vec<Person> = people.filter(|p| p.active).cloned().collect();
    active.sort_by_key(|p| p.name.to_lowercase());
    active
}

/// Active people by name, for pickers on pages without a schedule loaded.
pub async fn active_people(st: &AppState) -> Result<Vec<Person>, AppError> {
    st.db.read(|c| Ok(sorted_active(people(c)?.values()))).await
}

/// A schedule with everything needed to compute it.
#[derive(Debug, Clone)]
pub struct ScheduleDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    pub time_zone: Tz,
    pub version: i64,
    /// The calendar feed token is signed over this (see `services::feeds`).
    pub feed_generation: i64,
    /// Taken swaps wait for a manager before they become overrides.
    pub swaps_need_approval: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub schedule: Schedule,
    /// The overrides loaded (those near the instant or range asked about), with their reasons.
    pub overrides: Vec<OverrideRow>,
    /// Holidays, by day (local dates in the schedule's zone).
    pub holidays: Vec<HolidayRow>,
    pub people: HashMap<String, Person>,
}

impl ScheduleDetail {
    /// The layers in force at `at`: the version whose span contains it (or the first one).
    pub fn layers_at(&self, at: DateTime<Utc>) -> &[Layer] {
        let versions = &self.schedule.versions;
        versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= at)
            .or_else(|| versions.first())
            .map(|v| v.layers.as_slice())
            .unwrap_or(&[])
    }

    pub fn holiday_on(&self, day: NaiveDate) -> Option<&HolidayRow> {
        self.holidays.iter().find(|h| h.day == day)
    }

    pub fn holiday_days(&self) -> Vec<NaiveDate> {
        self.holidays.iter().map(|h| h.day).collect()
    }

    /// Active people by name, for pickers.
    pub fn active_people(&self) -> Vec<Person> {
        sorted_active(self.people.values())
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.get(id)
    }

    /// Whether `user_id` takes turns in a layer in force at `at`.
    pub fn in_rotation(&self, user_id: &str, at: DateTime<Utc>) -> bool {
        self.layers_at(at)
            .iter()
            .any(|l| l.participants.iter().any(|p| p == user_id))
    }

    fn is_active(&self) -> impl Fn(&str) -> bool + '_ {
        |id: &str| self.people.get(id).is_some_and(|p| p.active)
    }

    pub fn on_call_at(&self, at: DateTime<Utc>) -> Option<Shift> {
        self.schedule.on_call_at(at, &self.is_active())
    }

    /// Who takes over after the shift covering `at` (or the next shift when nobody covers it).
    pub fn next_after(&self, at: DateTime<Utc>) -> Option<Shift> {
        let boundary = match self.on_call_at(at) {
            Some(shift) => shift.end,
            None => at,
        };
        self.final_shifts(boundary, boundary + Duration::days(60))
            .into_iter()
            .next()
    }

    pub fn final_shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        self.schedule.final_shifts(from, to, &self.is_active())
    }

    pub fn gaps(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<crate::domain::schedule::Gap> {
        self.schedule.gaps(from, to, &self.is_active())
    }
}

fn detail(
    row: ScheduleRow,
    versions: Vec<repo::VersionRow>,
    overrides: Vec<OverrideRow>,
    holidays: Vec<HolidayRow>,
    people: HashMap<String, Person>,
) -> Result<ScheduleDetail, AppError> {
    let time_zone = parse_time_zone(&row.time_zone)
        .map_err(|e| AppError::Internal(format!("schedule {}: {e}", row.id)))?;
    let versions = versions
        .into_iter()
        .map(|v| {
            Ok(Version {
                effective_from: from_db(v.effective_from),
                layers: layers_from_json(&v.layers)?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let domain_overrides = overrides
        .iter()
        .map(|o| Override {
            id: o.id.clone(),
            user_id: o.user_id.clone(),
            start: from_db(o.start_at),
            end: from_db(o.end_at),
        })
        .collect();
    Ok(ScheduleDetail {
        id: row.id,
        name: row.name,
        description: row.description,
        time_zone,
        version: row.version,
        feed_generation: row.feed_generation,
        swaps_need_approval: row.swaps_need_approval,
        created_at: from_db(row.created_at),
        updated_at: from_db(row.updated_at),
        schedule: Schedule {
            time_zone,
            versions,
            overrides: domain_overrides,
        },
        overrides,
        holidays,
        people,
    })
}

/// Loads a schedule with the overrides that overlap [from, to).
pub(crate) fn load(
    conn: &mut DbConn,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ScheduleDetail, AppError> {
    if !is_valid_id(id) {
        return Err(AppError::NotFound);
    }
    let row = repo::find(conn, id)?.ok_or(AppError::NotFound)?;
    let ids = [row.id.clone()];
    let versions = repo::versions_of(conn, &ids)?;
    let overrides = repo::overrides_between(conn, &ids, from, to)?;
    let holidays = repo::holidays_of(conn, &ids)?;
    let people = people(conn)?;
    detail(row, versions, overrides, holidays, people)
}

/// Every schedule, with the overrides that overlap [from, to).
fn load_all(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScheduleDetail>, AppError> {
    let rows = repo::list(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut versions: HashMap<String, Vec<repo::VersionRow>> = HashMap::new();
    for v in repo::versions_of(conn, &ids)? {
        versions.entry(v.schedule_id.clone()).or_default().push(v);
    }
    let mut overrides: HashMap<String, Vec<OverrideRow>> = HashMap::new();
    for o in repo::overrides_between(conn, &ids, from, to)? {
        overrides.entry(o.schedule_id.clone()).or_default().push(o);
    }
    let mut holidays: HashMap<String, Vec<HolidayRow>> = HashMap::new();
    for h in repo::holidays_of(conn, &ids)? {
        holidays.entry(h.schedule_id.clone()).or_default().push(h);
    }
    let people = people(conn)?;
    rows.into_iter()
        .map(|row| {
            let v = versions.remove(&row.id).unwrap_or_default();
            let o = overrides.remove(&row.id).unwrap_or_default();
            let h = holidays.remove(&row.id).unwrap_or_default();
            detail(row, v, o, h, people.clone())
        })
        .collect()
}

/// The id of the active person named by e-mail address (any case) or id.
pub(crate) fn resolve_person(people: &HashMap<String, Person>, raw: &str) -> Option<String> {
    let raw = raw.trim();
    let found = if raw.contains('@') {
        people.values().find(|p| p.email.eq_ignore_ascii_case(raw))
    } else {
        people.get(raw)
    };
    found.filter(|p| p.active).map(|p| p.id.clone())
}

struct ValidSchedule {
    name: String,
    description: String,
    time_zone: Tz,
    layers: Vec<Layer>,
}

fn validate(conn: &mut DbConn, input: &ScheduleInput) -> Result<ValidSchedule, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", bounded_text(&input.name, "the name", 120));
    let description = if input.description.trim().is_empty() {
        Some(String::new())
    } else {
        errors.check(
            "description",
            bounded_text(&input.description, "the description", 2000),
        )
    };
    let time_zone = errors.check("time_zone", parse_time_zone(input.time_zone.trim()));
    if input.layers.is_empty() {
        errors.add("layers", "a schedule needs at least one layer");
    }
    if input.layers.len() > MAX_LAYERS {
        errors.add("layers", format!("at most {MAX_LAYERS} layers"));
    }
    let people = people(conn)?;
    let layers: Vec<Layer> = input
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| validate_layer(&people, l, i, &mut errors))
        .collect();
    match (name, description, time_zone) {
        (Some(name), Some(description), Some(time_zone)) if errors.is_empty() => {
            Ok(ValidSchedule {
                name,
                description,
                time_zone,
                layers,
            })
        }
        _ => Err(AppError::Invalid(errors)),
    }
}

/// A layer's errors go under `layers.{index}.{field}` (restrictions under
/// `layers.{index}.restrictions.{n}`), so a form with several layers can show each message next to
/// the field it is about.
fn validate_layer(
    people: &HashMap<String, Person>,
    l: &LayerInput,
    index: usize,
    errors: &mut FieldErrors,
) -> Option<Layer> {
    let field = |name: &str| format!("layers.{index}.{name}");
    let name = errors.check(field("name"), bounded_text(&l.name, "the layer name", 80));
    let unit = errors.check(
        field("every"),
        RotationUnit::parse(l.every.trim()).ok_or("the rotation must be hourly, daily or weekly"),
    );
    let count = errors.check(
        field("count"),
        Some(l.count)
            .filter(|c| (1..=Rotation::MAX_COUNT).contains(c))
            .ok_or(ScheduleError::BadCount),
    );
    let start = errors.check(field("start"), parse_date(&l.start));
    let handoff = errors.check(field("handoff"), parse_time_of_day(&l.handoff));
    let participants = errors.check(field("participants"), participants(people, l));
    let mut restrictions = Vec::new();
    for (n, r) in l.restrictions.iter().enumerate() {
        if let Some(r) = errors.check(field(&format!("restrictions.{n}")), restriction(r)) {
            restrictions.push(r);
        }
    }
    Some(Layer {
        name: name?,
        rotation: Rotation {
            unit: unit?,
            count: count?,
        },
        start: start?,
        handoff: handoff?,
        participants: participants?,
        // One refused window refuses the layer, as any other refused field does.
        restrictions: (restrictions.len() == l.restrictions.len()).then_some(restrictions)?,
    })
}

fn restriction(r: &RestrictionInput) -> Result<Restriction, String> {
    if r.from.trim().is_empty() || r.to.trim().is_empty() {
        return Err("a window needs both a from and a to time".into());
    }
    let days = r
        .days
        .iter()
        .map(|d| parse_weekday(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let from = parse_time_of_day(&r.from).map_err(|e| e.to_string())?;
    let to = parse_time_of_day(&r.to).map_err(|e| e.to_string())?;
    Ok(Restriction { days, from, to })
}

/// The ids of a layer's participants, in turn order.
fn participants(people: &HashMap<String, Person>, l: &LayerInput) -> Result<Vec<String>, String> {
    let named: Vec<&str> = l
        .participants
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if named.is_empty() {
        return Err("a layer needs at least one participant".into());
    }
    if named.len() > MAX_PARTICIPANTS {
        return Err(format!("at most {MAX_PARTICIPANTS} participants"));
    }
    named
        .into_iter()
        .map(|raw| {
            resolve_person(people, raw).ok_or_else(|| format!("'{raw}' is not an active user"))
        })
        .collect()
}

fn name_taken() -> AppError {
    AppError::invalid("name", "a schedule with this name already exists")
}

pub async fn create(
    st: &AppState,
    actor: &Actor,
    input: &ScheduleInput,
) -> Result<ScheduleDetail, AppError> {
    let (input, actor, now) = (input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let valid = validate(c, &input)?;
            if repo::find_by_name(c, &valid.name)?.is_some() {
                return Err(name_taken());
            }
            let id = new_id();
            let inserted = repo::insert(
                c,
                &NewSchedule {
                    id: &id,
                    name: &valid.name,
                    description: &valid.description,
                    time_zone: valid.time_zone.name(),
                    now,
                },
            );
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                other => other?,
            }
            // The first version reaches back to the layers' own start: a rotation that began
            // last Monday is shown from last Monday.
            let effective_from = DateTime::<Utc>::UNIX_EPOCH;
            repo::insert_version(
                c,
                &new_id(),
                &id,
                effective_from,
                &layers_json(&valid.layers)?,
                &actor.label,
                now,
            )?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleCreated,
                Some(("schedule", &id)),
                &format!("schedule '{}'", valid.name),
            )?;
            load(c, &id, now - OVERRIDE_HORIZON, now + OVERRIDE_HORIZON)
        })
        .await
}

/// Replaces name, zone and layers. The new layers are in force from now on; the past keeps the
/// layers it had. `expected_version`, when given, must match (two managers editing at once: the
/// second is told, not silently overwritten).
pub async fn update(
    st: &AppState,
    actor: &Actor,
    id: &str,
    input: &ScheduleInput,
    expected_version: Option<i64>,
) -> Result<ScheduleDetail, AppError> {
    let (id, input, actor, now) = (id.to_owned(), input.clone(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let current = load(c, &id, now, now)?;
            let valid = validate(c, &input)?;
            if let Some(other) = repo::find_by_name(c, &valid.name)?
                && other.id != id
            {
                return Err(name_taken());
            }
            let expected = expected_version.unwrap_or(current.version);
            let changed = repo::update(
                c,
                &id,
                expected,
                &NewSchedule {
                    id: &id,
                    name: &valid.name,
                    description: &valid.description,
                    time_zone: valid.time_zone.name(),
                    now,
                },
            );
            match changed {
                Err(e) if is_unique_violation(&e) => return Err(name_taken()),
                Ok(0) => {
                    return Err(AppError::Conflict(
                        "someone else changed this schedule meanwhile; reload it and apply your change again"
                            .into(),
                    ));
                }
                other => {
                    other?;
                }
            }
            let json = layers_json(&valid.layers)?;
            let latest = repo::versions_of(c, std::slice::from_ref(&id))?
                .into_iter()
                .next_back();
            match latest {
                // Edited twice in the same instant: the later edit replaces the earlier one.
                Some(v) if from_db(v.effective_from) >= now => {
                    repo::replace_version_layers(c, &v.id, &json)?;
                }
                _ => repo::insert_version(c, &new_id(), &id, now, &json, &actor.label, now)?,
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleUpdated,
                Some(("schedule", &id)),
                &format!("schedule '{}': layers in force from now", valid.name),
            )?;
            load(c, &id, now - OVERRIDE_HORIZON, now + OVERRIDE_HORIZON)
        })
        .await
}

/// The schedule with overrides overlapping [from, to).
pub async fn get(
    st: &AppState,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ScheduleDetail, AppError> {
    let id = id.to_owned();
    st.db.read(move |c| load(c, &id, from, to)).await
}

/// The schedule loaded around `at`, enough to tell who is on call then and the shift's extent.
pub async fn get_around(
    st: &AppState,
    id: &str,
    at: DateTime<Utc>,
) -> Result<ScheduleDetail, AppError> {
    get(st, id, at - OVERRIDE_HORIZON, at + OVERRIDE_HORIZON).await
}

/// Every schedule, loaded around `at` (for "on call now and next").
pub async fn list(st: &AppState, at: DateTime<Utc>) -> Result<Vec<ScheduleDetail>, AppError> {
    list_between(st, at - OVERRIDE_HORIZON, at + OVERRIDE_HORIZON).await
}

/// Every schedule, with the overrides that overlap [from, to).
pub async fn list_between(
    st: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScheduleDetail>, AppError> {
    st.db.read(move |c| load_all(c, from, to)).await
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverrideInput {
    /// E-mail or user id.
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub reason: String,
}

pub async fn add_override(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    input: &OverrideInput,
) -> Result<OverrideRow, AppError> {
    let (schedule_id, input, actor, now) = (
        schedule_id.to_owned(),
        input.clone(),
        actor.clone(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let schedule = load(c, &schedule_id, input.start, input.end)?;
            let mut errors = FieldErrors::new();
            let user_id = resolve_person(&schedule.people, &input.user);
            if user_id.is_none() {
                errors.add(
                    "user",
                    format!("'{}' is not an active user", input.user.trim()),
                );
            }
            let reason = if input.reason.trim().is_empty() {
                String::new()
            } else {
                errors
                    .check("reason", bounded_text(&input.reason, "the reason", 500))
                    .unwrap_or_default()
            };
            if input.end - input.start > Duration::days(366) {
                errors.add("end", "an override may last at most a year");
            }
            let id = new_id();
            let new = Override {
                id: id.clone(),
                user_id: user_id.clone().unwrap_or_default(),
                start: input.start,
                end: input.end,
            };
            if let Err(e) = check_override(&new, &schedule.schedule.overrides) {
                errors.add("end", e.to_string());
            }
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors));
            }
            let user_id = user_id.unwrap_or_default();
            write_override(
                c,
                &schedule,
                &NewOverride {
                    id: &id,
                    schedule_id: &schedule_id,
                    user_id: &user_id,
                    start: input.start,
                    end: input.end,
                    reason: &reason,
                    created_by: &actor.label,
                    now,
                },
                &actor,
            )?;
            repo::find_override(c, &id)?.ok_or(AppError::NotFound)
        })
        .await
}

/// Stores a checked override, marks the schedule changed and audits who covers when.
pub(crate) fn write_override(
    c: &mut DbConn,
    schedule: &ScheduleDetail,
    new: &NewOverride<'_>,
    actor: &Actor,
) -> Result<(), AppError> {
    repo::insert_override(c, new)?;
    repo::touch(c, &schedule.id, new.now)?;
    let who = schedule
        .person(new.user_id)
        .map(|p| p.email.clone())
        .unwrap_or_default();
    audit::record(
        c,
        new.now,
        actor,
        AuditAction::ScheduleOverrideAdded,
        Some(("schedule", &schedule.id)),
        &format!(
            "{who} covers '{}' from {} to {}{}",
            schedule.name,
            new.start.to_rfc3339(),
            new.end.to_rfc3339(),
            if new.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", new.reason)
            }
        ),
    )?;
    Ok(())
}

pub async fn remove_override(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    override_id: &str,
) -> Result<(), AppError> {
    let (schedule_id, override_id, actor, now) = (
        schedule_id.to_owned(),
        override_id.to_owned(),
        actor.clone(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            if !is_valid_id(&override_id) {
                return Err(AppError::NotFound);
            }
            let found = repo::find_override(c, &override_id)?
                .filter(|o| o.schedule_id == schedule_id)
                .ok_or(AppError::NotFound)?;
            let (start, end) = (from_db(found.start_at), from_db(found.end_at));
            // Who was on call stays what it was: an override that is over stays, and one under
            // way ends now instead of disappearing.
            if end <= now {
                return Err(AppError::Conflict(
                    "this override is over; past on-call time is kept as it was".into(),
                ));
            }
            if start < now {
                repo::end_override_at(c, &override_id, now)?;
            } else {
                repo::delete_override(c, &override_id)?;
            }
            repo::touch(c, &schedule_id, now)?;
            let who = users::find(c, &found.user_id)?
                .map(|u| u.email)
                .unwrap_or_default();
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleOverrideRemoved,
                Some(("schedule", &schedule_id)),
                &format!(
                    "removed: {who} covering from {} to {}",
                    from_db(found.start_at).to_rfc3339(),
                    from_db(found.end_at).to_rfc3339()
                ),
            )?;
            Ok(())
        })
        .await
}

/// "Create backup from this schedule": the same layers and people, each layer's turn order
/// shifted by one place, so whoever is primary is never their own backup.
pub async fn create_backup(
    st: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<ScheduleDetail, AppError> {
    let now = st.clock.now();
    let primary = get_around(st, id, now).await?;
    let all = list(st, now).await?;
    let base = format!("{} backup", primary.name);
    let taken = |name: &str| all.iter().any(|s| s.name.eq_ignore_ascii_case(name));
    let name = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base} {n}")
            }
        })
        .find(|n| !taken(n))
        .unwrap_or(base);
    let layers = primary
        .layers_at(now)
        .iter()
        .map(|l| {
            let mut participants = l.participants.clone();
            participants.rotate_left(1);
            LayerInput {
                name: l.name.clone(),
                every: l.rotation.unit.as_str().to_owned(),
                count: l.rotation.count,
                start: l.start.format("%Y-%m-%d").to_string(),
                handoff: l.handoff.format("%H:%M").to_string(),
                participants,
                restrictions: l
                    .restrictions
                    .iter()
                    .map(|r| RestrictionInput {
                        days: r.days.iter().map(|d| d.to_string()).collect(),
                        from: r.from.format("%H:%M").to_string(),
                        to: r.to.format("%H:%M").to_string(),
                    })
                    .collect(),
            }
        })
        .collect();
    let input = ScheduleInput {
        name,
        description: format!(
            "Backup for {}: the same people, one place later.",
            primary.name
        ),
        time_zone: primary.time_zone.name().to_owned(),
        layers,
    };
    create(st, actor, &input).await
}

/// What a manager reviews for one schedule: coverage gaps in the coming four weeks, and who
/// carried how much of a month.
pub struct Review {
    pub detail: ScheduleDetail,
    pub gaps_from: DateTime<Utc>,
    pub gaps_to: DateTime<Utc>,
    pub gaps: Vec<crate::domain::schedule::Gap>,
    /// `2026-12`
    pub month: String,
    pub loads: Vec<(Person, crate::domain::oncall_load::PersonLoad)>,
    pub month_hours: f64,
    /// Shifts in the coming four weeks that fall in their person's leave.
    pub conflicts: Vec<(
        crate::domain::time_off::LeaveConflict,
        crate::services::time_off::LeaveView,
    )>,
    /// Taken swaps waiting for a manager.
    pub pending_swaps: Vec<crate::services::swaps::SwapView>,
}

/// The review for `month` (`YYYY-MM`, in the schedule's zone; this month when empty).
pub async fn review(st: &AppState, id: &str, month: Option<&str>) -> Result<Review, AppError> {
    use crate::domain::oncall_load::{PersonLoad, load_by_person, month_bounds, parse_month};
    let now = st.clock.now();
    let probe = get_around(st, id, now).await?;
    let tz = probe.time_zone;
    let (year, month) = match month.map(str::trim).filter(|m| !m.is_empty()) {
        Some(raw) => parse_month(raw).ok_or_else(|| {
            AppError::invalid("month", format!("'{raw}' is not a month (YYYY-MM)"))
        })?,
        None => {
            let local = now.with_timezone(&tz);
            (
                chrono::Datelike::year(&local),
                chrono::Datelike::month(&local),
            )
        }
    };
    let (from, to) =
        month_bounds(tz, year, month).ok_or_else(|| AppError::invalid("month", "not a month"))?;
    let gaps_to = now + Duration::weeks(4);
    let detail = get(st, id, from.min(now), to.max(gaps_to)).await?;
    let shifts = detail.final_shifts(from, to);
    let loads = load_by_person(&shifts, tz, &detail.holiday_days())
        .into_iter()
        .map(|load: PersonLoad| {
            let person = detail.person(&load.user_id).cloned().unwrap_or(Person {
                id: load.user_id.clone(),
                email: String::new(),
                name: "(unknown)".into(),
                active: false,
            });
            (person, load)
        })
        .collect();
    let conflicts = crate::services::time_off::conflicts_in(st, &detail, now, gaps_to).await?;
    let pending_swaps = crate::services::swaps::of_schedule(st, &detail)
        .await?
        .into_iter()
        .filter(|s| s.awaits_approval())
        .collect();
    Ok(Review {
        conflicts,
        pending_swaps,
        gaps: detail.gaps(now, gaps_to),
        gaps_from: now,
        gaps_to,
        month: format!("{year:04}-{month:02}"),
        month_hours: (to - from).num_seconds() as f64 / 3600.0,
        loads,
        detail,
    })
}

/// Marks a day as a holiday on the schedule (shown on the timeline, counted apart in the load).
pub async fn add_holiday(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    day: &str,
    name: &str,
) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    let day = errors.check(
        "day",
        NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
            .map_err(|_| format!("'{}' is not a date (YYYY-MM-DD)", day.trim())),
    );
    let name = errors.check("holiday", bounded_text(name, "the holiday's name", 100));
    let (Some(day), Some(name)) = (day, name) else {
        return Err(AppError::Invalid(errors));
    };
    let (schedule_id, actor, now) = (schedule_id.to_owned(), actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let schedule = load(c, &schedule_id, now, now)?;
            if let Some(existing) = schedule.holiday_on(day) {
                return Err(AppError::invalid(
                    "day",
                    format!("{day} is already a holiday here ({})", existing.name),
                ));
            }
            match repo::insert_holiday(c, &new_id(), &schedule_id, day, &name, now) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(AppError::invalid(
                        "day",
                        format!("{day} is already a holiday here"),
                    ));
                }
                other => other?,
            }
            repo::touch(c, &schedule_id, now)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleUpdated,
                Some(("schedule", &schedule_id)),
                &format!("holiday {day} ({name}) added to '{}'", schedule.name),
            )?;
            Ok(())
        })
        .await
}

pub async fn remove_holiday(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    holiday_id: &str,
) -> Result<(), AppError> {
    let (schedule_id, holiday_id, actor, now) = (
        schedule_id.to_owned(),
        holiday_id.to_owned(),
        actor.clone(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            if !is_valid_id(&holiday_id) || repo::delete_holiday(c, &schedule_id, &holiday_id)? == 0
            {
                return Err(AppError::NotFound);
            }
            repo::touch(c, &schedule_id, now)?;
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleUpdated,
                Some(("schedule", &schedule_id)),
                "holiday removed",
            )?;
            Ok(())
        })
        .await
}

const NOTE_MAX: usize = 4000;

/// Adds a note to the schedule's hand-off log, written by whoever is signed in.
pub async fn add_note(
    st: &AppState,
    actor: &Actor,
    author_name: &str,
    schedule_id: &str,
    body: &str,
) -> Result<repo::NoteRow, AppError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid(
            "body",
            "write something for the next person",
        ));
    }
    if body.chars().count() > NOTE_MAX {
        return Err(AppError::invalid(
            "body",
            format!("a note may be at most {NOTE_MAX} characters"),
        ));
    }
    let (schedule_id, body, actor, author, now) = (
        schedule_id.to_owned(),
        body.to_owned(),
        actor.clone(),
        author_name.to_owned(),
        st.clock.now(),
    );
    st.db
        .write(move |c| {
            let schedule = load(c, &schedule_id, now, now)?;
            let id = new_id();
            repo::insert_note(
                c,
                &id,
                &schedule.id,
                actor.user_id.as_deref(),
                &author,
                &body,
                now,
            )?;
            Ok(repo::NoteRow {
                id,
                schedule_id: schedule.id,
                author_id: actor.user_id.clone(),
                author,
                at: now.naive_utc(),
                body,
            })
        })
        .await
}

/// The schedule's hand-off log, newest first, filtered by the words of `search`.
pub async fn notes(
    st: &AppState,
    schedule_id: &str,
    search: &str,
) -> Result<Vec<repo::NoteRow>, AppError> {
    let words: Vec<String> = search
        .split_whitespace()
        .take(8)
        .map(str::to_owned)
        .collect();
    let id = schedule_id.to_owned();
    st.db
        .read(move |c| repo::notes_of(c, &id, &words, 100).map_err(AppError::from))
        .await
}

/// What the person on call now should read: the notes written during the previous shift (or
/// the last day, when nobody is on call).
pub async fn handoff_notes(
    st: &AppState,
    detail: &ScheduleDetail,
    now: DateTime<Utc>,
) -> Result<Vec<repo::NoteRow>, AppError> {
    let (from, to) = match detail.on_call_at(now) {
        Some(current) => {
            let previous = detail
                .final_shifts(current.start - Duration::days(31), current.start)
                .pop();
            match previous {
                Some(p) => (p.start, now),
                None => (current.start - Duration::days(1), now),
            }
        }
        None => (now - Duration::days(1), now),
    };
    let ids = [detail.id.clone()];
    st.db
        .read(move |c| {
            repo::notes_between(c, &ids, from, to + Duration::seconds(1)).map_err(AppError::from)
        })
        .await
}
