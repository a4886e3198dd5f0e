//! `/schedules/{id}/edit`: a manager edits a schedule's name, zone and every layer on one form.
//!
//! The page works without JavaScript: adding, removing and moving layers (and active windows)
//! are submit buttons (`action=add_layer`, `action=up:1`, ...) that show the form again with the
//! change and save nothing. Only `action=save` saves, as a new version in force from now. Layers
//! are posted with their index in the stack (`l0.name`, `l0.r1.days`, ...; 0 is the bottom).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;

use super::{PageCtx, page, render, time_zone_names};
use crate::domain::schedule::parse_time_zone;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::schedules::{
    self, LayerInput, MAX_LAYERS, Person, RestrictionInput, ScheduleDetail, ScheduleInput,
};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

/// Indices past these are ignored: no page of ours posts them, and they would only cost memory.
/// The layer bound is above the service's limit so that limit is what the person is told.
const FORM_LAYERS: usize = 2 * MAX_LAYERS;
const FORM_WINDOWS: usize = 20;

const WEEKDAYS: [(&str, &str); 7] = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
];

const UNITS: [(&str, &str); 3] = [("hourly", "hours"), ("daily", "days"), ("weekly", "weeks")];

/// The form as posted: text as typed, so a refused form comes back exactly as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditForm {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    /// The schedule version the edit started from; a newer stored one is a conflict.
    pub version: String,
    /// Bottom first, as stored: the last layer wins.
    pub layers: Vec<LayerForm>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerForm {
    pub name: String,
    pub every: String,
    pub count: String,
    pub start: String,
    pub handoff: String,
    /// One e-mail address per line, in turn order.
    pub participants: String,
    pub windows: Vec<WindowForm>,
}

/// A restriction: the layer is active only on these days between these times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowForm {
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

impl WindowForm {
    /// A row added but never filled in; it is dropped rather than refused.
    fn is_blank(&self) -> bool {
        self.days.is_empty() && self.from.trim().is_empty() && self.to.trim().is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Save,
    AddLayer,
    RemoveLayer(usize),
    /// Higher in the stack: it wins over the layer it passes.
    Up(usize),
    Down(usize),
    AddWindow(usize),
    RemoveWindow(usize, usize),
}

impl Action {
    fn parse(raw: &str) -> Option<Action> {
        let mut parts = raw.trim().split(':');
        let verb = parts.next()?;
        let mut number = || parts.next().and_then(|n| n.parse::<usize>().ok());
        let action = match verb {
            "" | "save" => Action::Save,
            "add_layer" => Action::AddLayer,
            "remove_layer" => Action::RemoveLayer(number()?),
            "up" => Action::Up(number()?),
            "down" => Action::Down(number()?),
            "add_window" => Action::AddWindow(number()?),
            "remove_window" => {
                let layer = number()?;
                Action::RemoveWindow(layer, number()?)
            }
            _ => return None,
        };
        parts.next().is_none().then_some(action)
    }
}

impl EditForm {
    /// The schedule as it is in force at `now`.
    fn of(detail: &ScheduleDetail, now: chrono::DateTime<chrono::Utc>) -> EditForm {
        let email = |id: &String| {
            detail
                .person(id)
                .map_or_else(|| id.clone(), |p| p.email.clone())
        };
        EditForm {
            name: detail.name.clone(),
            description: detail.description.clone(),
            time_zone: detail.time_zone.name().to_owned(),
            version: detail.version.to_string(),
            layers: detail
                .layers_at(now)
                .iter()
                .map(|l| LayerForm {
                    name: l.name.clone(),
                    every: l.rotation.unit.as_str().to_owned(),
                    count: l.rotation.count.to_string(),
                    start: l.start.format("%Y-%m-%d").to_string(),
                    handoff: l.handoff.format("%H:%M").to_string(),
                    participants: l
                        .participants
                        .iter()
                        .map(email)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    windows: l
                        .restrictions
                        .iter()
                        .map(|r| WindowForm {
                            days: r
                                .days
                                .iter()
                                .map(|d| d.to_string().to_lowercase())
                                .collect(),
                            from: r.from.format("%H:%M").to_string(),
                            to: r.to.format("%H:%M").to_string(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Form bodies repeat `days` and number their layers, which serde_urlencoded cannot map onto
    /// a struct, so the pairs are gathered by hand.
    fn parse(body: &[u8]) -> Result<(EditForm, Action), AppError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
        let mut form = EditForm::default();
        let mut layers: BTreeMap<usize, LayerForm> = BTreeMap::new();
        let mut windows: BTreeMap<(usize, usize), WindowForm> = BTreeMap::new();
        let mut action = Action::Save;
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value,
                "description" => form.description = value,
                "time_zone" => form.time_zone = value,
                "version" => form.version = value,
                "action" => {
                    action = Action::parse(&value).ok_or_else(|| {
                        AppError::BadRequest(format!("unknown form action '{value}'"))
                    })?;
                }
                _ => match layer_field(&key) {
                    Some((i, None, field)) => {
                        let layer = layers.entry(i).or_default();
                        match field {
                            "name" => layer.name = value,
                            "every" => layer.every = value,
                            "count" => layer.count = value,
                            "start" => layer.start = value,
                            "handoff" => layer.handoff = value,
                            "participants" => layer.participants = value.replace("\r\n", "\n"),
                            _ => {}
                        }
                    }
                    Some((i, Some(j), field)) => {
                        layers.entry(i).or_default();
                        let window = windows.entry((i, j)).or_default();
                        match field {
                            "days" => window.days.push(value),
                            "from" => window.from = value,
                            "to" => window.to = value,
                            _ => {}
                        }
                    }
                    None => {}
                },
            }
        }
        for ((i, _), window) in windows {
            if let Some(layer) = layers.get_mut(&i) {
                layer.windows.push(window);
            }
        }
        form.layers = layers.into_values().collect();
        Ok((form, action))
    }

    /// Applies a button that rearranges the form; indices from an outdated page are ignored.
    fn apply(&mut self, action: Action, today: NaiveDate) {
        let n = self.layers.len();
        match action {
            Action::Save => {}
            Action::AddLayer if n < FORM_LAYERS => self.layers.push(LayerForm {
                name: format!("Layer {}", n + 1),
                every: "weekly".into(),
                count: "1".into(),
                start: today.format("%Y-%m-%d").to_string(),
                handoff: "09:00".into(),
                ..LayerForm::default()
            }),
            Action::AddLayer => {}
            Action::RemoveLayer(i) if i < n => {
                self.layers.remove(i);
            }
            Action::Up(i) if i + 1 < n => self.layers.swap(i, i + 1),
            Action::Down(i) if i > 0 && i < n => self.layers.swap(i, i - 1),
            Action::AddWindow(i) => {
                if let Some(layer) = self.layers.get_mut(i)
                    && layer.windows.len() < FORM_WINDOWS
                {
                    layer.windows.push(WindowForm::default());
                }
            }
            Action::RemoveWindow(i, j) => {
                if let Some(layer) = self.layers.get_mut(i)
                    && j < layer.windows.len()
                {
                    layer.windows.remove(j);
                }
            }
            Action::RemoveLayer(_) | Action::Up(_) | Action::Down(_) => {}
        }
    }

    /// Before saving: rows left empty go, so the indices in the service's error names match the
    /// rows shown.
    fn drop_blank_windows(&mut self) {
        for layer in &mut self.layers {
            layer.windows.retain(|w| !w.is_blank());
        }
    }

    fn input(&self) -> ScheduleInput {
        ScheduleInput {
            name: self.name.clone(),
            description: self.description.clone(),
            time_zone: self.time_zone.clone(),
            layers: self
                .layers
                .iter()
                .map(|l| LayerInput {
                    name: l.name.clone(),
                    every: l.every.clone(),
                    // Not a number: 0, which validation refuses with its own message.
                    count: l.count.trim().parse().unwrap_or(0),
                    start: l.start.clone(),
                    handoff: l.handoff.clone(),
                    participants: l
                        .participants
                        .split(['\n', ','])
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect(),
                    restrictions: l
                        .windows
                        .iter()
                        .map(|w| {
                            // Days ticked and no hours: all of those days, as on the create form.
                            let all_day = w.from.trim().is_empty() && w.to.trim().is_empty();
                            let or_midnight = |t: &str| {
                                if all_day {
                                    "00:00".to_owned()
                                } else {
                                    t.to_owned()
                                }
                            };
                            RestrictionInput {
                                days: w.days.clone(),
                                from: or_midnight(&w.from),
                                to: or_midnight(&w.to),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// `l{layer}.{field}` or `l{layer}.r{window}.{field}`.
fn layer_field(key: &str) -> Option<(usize, Option<usize>, &str)> {
    let (layer, rest) = key.strip_prefix('l')?.split_once('.')?;
    let layer: usize = layer.parse().ok().filter(|i| *i < FORM_LAYERS)?;
    match rest.strip_prefix('r').and_then(|r| r.split_once('.')) {
        Some((window, field)) => {
            let window: usize = window.parse().ok().filter(|j| *j < FORM_WINDOWS)?;
            Some((layer, Some(window), field))
        }
        None => Some((layer, None, rest)),
    }
}

/// One layer as the template shows it: top of the stack first, with its messages.
pub struct LayerView {
    pub index: usize,
    pub number: usize,
    pub top: bool,
    pub bottom: bool,
    pub form: LayerForm,
    pub windows: Vec<WindowView>,
    pub errors: LayerErrors,
}

pub struct WindowView {
    pub index: usize,
    pub form: WindowForm,
    pub error: Option<String>,
}

impl WindowView {
    pub fn checked(&self, day: &str) -> bool {
        self.form
            .days
            .iter()
            .any(|d| d.trim().eq_ignore_ascii_case(day))
    }
}

#[derive(Default)]
pub struct LayerErrors {
    pub name: Option<String>,
    pub every: Option<String>,
    pub count: Option<String>,
    pub start: Option<String>,
    pub handoff: Option<String>,
    pub participants: Option<String>,
}

impl LayerView {
    pub fn every_selected(&self, unit: &str) -> bool {
        self.form.every.trim().eq_ignore_ascii_case(unit)
    }

    pub fn has_error(&self) -> bool {
        let e = &self.errors;
        [
            &e.name,
            &e.every,
            &e.count,
            &e.start,
            &e.handoff,
            &e.participants,
        ]
        .iter()
        .any(|m| m.is_some())
            || self.windows.iter().any(|w| w.error.is_some())
    }
}

#[derive(Template)]
#[template(path = "schedules/edit.html")]
pub struct EditPage {
    pub ctx: PageCtx,
    pub schedule_id: String,
    /// The stored name (the form's may be changed already).
    pub schedule_name: String,
    pub form: EditForm,
    pub layers: Vec<LayerView>,
    pub errors: FieldErrors,
    pub people: Vec<Person>,
    /// Set when someone else saved the schedule since this form was loaded.
    pub conflict: Option<String>,
    pub can_add: bool,
}

impl EditPage {
    fn new(
        ctx: PageCtx,
        detail: &ScheduleDetail,
        form: EditForm,
        errors: FieldErrors,
        conflict: Option<String>,
    ) -> EditPage {
        let n = form.layers.len();
        let message = |i: usize, field: &str| {
            errors
                .get(&format!("layers.{i}.{field}"))
                .map(str::to_owned)
        };
        let layers = form
            .layers
            .iter()
            .enumerate()
            .rev()
            .map(|(i, l)| LayerView {
                index: i,
                number: i + 1,
                top: i + 1 == n,
                bottom: i == 0,
                windows: l
                    .windows
                    .iter()
                    .enumerate()
                    .map(|(j, w)| WindowView {
                        index: j,
                        form: w.clone(),
                        error: message(i, &format!("restrictions.{j}")),
                    })
                    .collect(),
                errors: LayerErrors {
                    name: message(i, "name"),
                    every: message(i, "every"),
                    count: message(i, "count"),
                    start: message(i, "start"),
                    handoff: message(i, "handoff"),
                    participants: message(i, "participants"),
                },
                form: l.clone(),
            })
            .collect();
        EditPage {
            ctx,
            schedule_id: detail.id.clone(),
            schedule_name: detail.name.clone(),
            can_add: n < MAX_LAYERS,
            layers,
            errors,
            people: detail.active_people(),
            conflict,
            form,
        }
    }

    pub fn zones(&self) -> impl Iterator<Item = &'static str> {
        time_zone_names()
    }

    pub fn zone_selected(&self, zone: &str) -> bool {
        self.form.time_zone == zone
    }

    pub fn weekdays(&self) -> [(&'static str, &'static str); 7] {
        WEEKDAYS
    }

    pub fn units(&self) -> [(&'static str, &'static str); 3] {
        UNITS
    }
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Manager>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let detail = schedules::get_around(&st, &path, ctx.now).await?;
    let form = EditForm::of(&detail, ctx.now);
    page(&EditPage::new(ctx, &detail, form, FieldErrors::new(), None))
}

pub async fn submit(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let detail = schedules::get_around(&st, &path, ctx.now).await?;
    let (mut form, action) = EditForm::parse(&body)?;
    if action != Action::Save {
        let zone = parse_time_zone(&form.time_zone).unwrap_or(detail.time_zone);
        form.apply(action, ctx.now.with_timezone(&zone).date_naive());
        return page(&EditPage::new(ctx, &detail, form, FieldErrors::new(), None));
    }
    form.drop_blank_windows();
    let version: i64 = form.version.trim().parse().map_err(|_| {
        AppError::BadRequest("the form does not say which version it edits; reload the page".into())
    })?;
    let actor = who.actor(Some(ip.0));
    match schedules::update(&st, &actor, &detail.id, &form.input(), Some(version)).await {
        Ok(saved) => Ok(redirect_with(
            &format!("/schedules/{}", saved.id),
            Flash::success(format!(
                "Schedule '{}' saved; the new layers apply from now.",
                saved.name
            )),
        )),
        Err(AppError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditPage::new(ctx, &detail, form, errors, None),
        ),
        Err(AppError::Conflict(_)) => {
            // Saving again from here replaces the other edit: the person has now been told.
            let current = schedules::get_around(&st, &path, ctx.now).await?;
            form.version = current.version.to_string();
            let message = "Someone else changed this schedule while you were editing it, so \
                           nothing was saved. Your changes are still below. Look at the current \
                           schedule, then save again to replace it with yours."
                .to_owned();
            render(
                StatusCode::CONFLICT,
                &EditPage::new(ctx, &current, form, FieldErrors::new(), Some(message)),
            )
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &str) -> (EditForm, Action) {
        EditForm::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn actions_name_their_layer() {
        assert_eq!(Action::parse("save"), Some(Action::Save));
        assert_eq!(Action::parse(""), Some(Action::Save));
        assert_eq!(Action::parse("add_layer"), Some(Action::AddLayer));
        assert_eq!(
            Action::parse("remove_layer:2"),
            Some(Action::RemoveLayer(2))
        );
        assert_eq!(Action::parse("up:0"), Some(Action::Up(0)));
        assert_eq!(Action::parse("down:1"), Some(Action::Down(1)));
        assert_eq!(
            Action::parse("remove_window:1:3"),
            Some(Action::RemoveWindow(1, 3))
        );
        for bad in [
            "up",
            "up:x",
            "up:1:2",
            "remove_window:1",
            "delete_everything",
        ] {
            assert_eq!(Action::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn layers_and_windows_are_gathered_by_index() {
        let (form, action) = parsed(
            "name=Ops&time_zone=UTC&version=3&action=up%3A0\
             &l1.name=Top&l1.every=daily&l1.count=2&l1.participants=a%40x.io%0Ab%40x.io\
             &l0.name=Bottom&l0.r1.days=sat&l0.r0.days=mon&l0.r0.days=tue&l0.r0.from=09%3A00&l0.r0.to=17%3A00\
             &l99.name=ignored&l0.r99.days=sun",
        );
        assert_eq!(action, Action::Up(0));
        assert_eq!(form.version, "3");
        let names: Vec<&str> = form.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Bottom", "Top"]);
        assert_eq!(form.layers[0].windows.len(), 2);
        assert_eq!(form.layers[0].windows[0].days, ["mon", "tue"]);
        assert_eq!(form.layers[0].windows[1].days, ["sat"]);
        let input = form.input();
        assert_eq!(input.layers[1].participants, ["a@x.io", "b@x.io"]);
        assert_eq!(input.layers[1].count, 2);
        // Days without hours: the whole of those days.
        assert_eq!(input.layers[0].restrictions[1].from, "00:00");
        assert_eq!(input.layers[0].restrictions[1].to, "00:00");
        assert!(EditForm::parse(b"action=explode").is_err());
    }

    #[test]
    fn buttons_rearrange_without_saving() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let (mut form, _) = parsed("l0.name=A&l1.name=B");
        form.apply(Action::AddLayer, today);
        assert_eq!(form.layers[2].name, "Layer 3");
        assert_eq!(form.layers[2].start, "2026-11-22");
        form.apply(Action::Up(0), today);
        form.apply(Action::Down(2), today);
        let names = |f: &EditForm| f.layers.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&form), ["B", "Layer 3", "A"]);
        // Out of range, as from an outdated page: nothing happens.
        form.apply(Action::Up(2), today);
        form.apply(Action::Down(0), today);
        form.apply(Action::RemoveLayer(7), today);
        assert_eq!(names(&form), ["B", "Layer 3", "A"]);
        form.apply(Action::RemoveLayer(1), today);
        assert_eq!(names(&form), ["B", "A"]);
        form.apply(Action::AddWindow(1), today);
        form.apply(Action::AddWindow(1), today);
        assert_eq!(form.layers[1].windows.len(), 2);
        form.layers[1].windows[1].days.push("sun".into());
        form.apply(Action::RemoveWindow(1, 0), today);
        assert_eq!(form.layers[1].windows[0].days, ["sun"]);
        form.apply(Action::AddWindow(1), today);
        form.drop_blank_windows();
        assert_eq!(form.layers[1].windows.len(), 1);
    }
}
