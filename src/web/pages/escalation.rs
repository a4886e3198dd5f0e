//! `/escalation-policies`: who is paged, in what order, when an incident is not acknowledged; and
//! `/admin/severities`, the response times per severity.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{PageCtx, form_errors, page, render};
use crate::domain::escalation::{MAX_STEPS, Target, minutes_text};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::escalation::{self, PolicyDetail, PolicyInput, StepInput, TargetInput};
use crate::services::schedules::{self, Person};
use crate::services::severities::{self, SeverityTimes};
use crate::state::AppState;
use crate::web::extract::{ClientIp, RequireRole, role};
use crate::web::flash::{Flash, redirect_with};

#[derive(Template)]
#[template(path = "escalation/list.html")]
pub struct PoliciesPage {
    pub ctx: PageCtx,
    pub policies: Vec<PolicyDetail>,
}

impl PoliciesPage {
    pub fn target_text(&self, p: &PolicyDetail, t: &Target) -> String {
        match t {
            Target::User(_) => p.target_name(t),
            Target::Schedule(_) => format!("on call: {}", p.target_name(t)),
        }
    }

    pub fn wait(&self, minutes: &u32) -> String {
        minutes_text(i64::from(*minutes))
    }
}

pub async fn list(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
) -> Result<HttpResponse, AppError> {
    page(&PoliciesPage {
        policies: escalation::list(&st).await?,
        ctx,
    })
}

/// One step as typed.
#[derive(Debug, Clone, Default)]
pub struct StepForm {
    pub delay: String,
    /// `user:EMAIL` or `schedule:ID`.
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PolicyForm {
    pub name: String,
    pub description: String,
    pub repeat: String,
    pub version: String,
    pub steps: Vec<StepForm>,
    pub retrigger_stale_ack: bool,
}

enum Action {
    Save,
    AddStep,
    RemoveStep(usize),
}

fn step_index(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix('s')?;
    let (n, field) = rest.split_once('.')?;
    Some((n.parse().ok().filter(|n| *n < MAX_STEPS * 2)?, field))
}

fn parse_form(body: &[u8]) -> Result<(PolicyForm, Action), AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
    let mut form = PolicyForm::default();
    let mut action = Action::Save;
    for (k, v) in pairs {
        match k.as_str() {
            "name" => form.name = v,
            "description" => form.description = v,
            "repeat" => form.repeat = v,
            "version" => form.version = v,
            "retrigger_stale_ack" => form.retrigger_stale_ack = !v.is_empty(),
            "action" => {
                action = match v.as_str() {
                    "add_step" => Action::AddStep,
                    other => match other.strip_prefix("remove_step:").map(str::parse) {
                        Some(Ok(n)) => Action::RemoveStep(n),
                        _ => Action::Save,
                    },
                }
            }
            other => {
                if let Some((n, field)) = step_index(other) {
                    if form.steps.len() <= n {
                        form.steps.resize(n + 1, StepForm::default());
                    }
                    match field {
                        "delay" => form.steps[n].delay = v,
                        "targets" if !v.is_empty() => form.steps[n].targets.push(v),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok((form, action))
}

impl PolicyForm {
    fn from_detail(p: &PolicyDetail) -> Self {
        PolicyForm {
            name: p.name.clone(),
            description: p.description.clone(),
            repeat: p.policy.repeat.to_string(),
            version: p.version.to_string(),
            retrigger_stale_ack: p.retrigger_stale_ack,
            steps: p
                .policy
                .steps
                .iter()
                .map(|s| StepForm {
                    delay: s.delay_minutes.to_string(),
                    targets: s
                        .targets
                        .iter()
                        .map(|t| match t {
                            Target::User(_) => {
                                format!("user:{}", p.target_email(t).unwrap_or_default())
                            }
                            Target::Schedule(id) => format!("schedule:{id}"),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The service's input, or the field errors of what cannot even be read.
    fn input(&self) -> Result<PolicyInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let repeat = if self.repeat.trim().is_empty() {
            0
        } else {
            errors
                .check(
                    "repeat",
                    self.repeat
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| "repeat must be a whole number from 0 to 9"),
                )
                .unwrap_or(0)
        };
        let mut steps = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let delay = match s.delay.trim().parse::<u32>() {
                Ok(d) => d,
                Err(_) => {
                    errors.add(
                        "steps",
                        format!("step {}: wait a whole number of minutes", i + 1),
                    );
                    0
                }
            };
            let targets = s
                .targets
                .iter()
                .filter_map(|t| match t.split_once(':') {
                    Some(("user", email)) => Some(TargetInput::User {
                        email: email.to_owned(),
                    }),
                    Some(("schedule", id)) => Some(TargetInput::Schedule { id: id.to_owned() }),
                    _ => None,
                })
                .collect();
            steps.push(StepInput {
                delay_minutes: delay,
                targets,
            });
        }
        if errors.is_empty() {
            Ok(PolicyInput {
                name: self.name.clone(),
                description: self.description.clone(),
                repeat,
                steps,
                retrigger_stale_ack: self.retrigger_stale_ack,
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Template)]
#[template(path = "escalation/edit.html")]
pub struct PolicyPage {
    pub ctx: PageCtx,
    /// None while creating.
    pub policy: Option<PolicyDetail>,
    pub form: PolicyForm,
    pub errors: FieldErrors,
    pub conflict: Option<String>,
    pub people: Vec<Person>,
    /// (id, name)
    pub schedules: Vec<(String, String)>,
}

impl PolicyPage {
    pub fn action(&self) -> String {
        match &self.policy {
            Some(p) => format!("/escalation-policies/{}", p.id),
            None => "/escalation-policies".into(),
        }
    }

    pub fn picked(&self, step: &StepForm, value: &str) -> bool {
        step.targets.iter().any(|t| t == value)
    }

    pub fn user_value(&self, p: &Person) -> String {
        format!("user:{}", p.email)
    }

    pub fn schedule_value(&self, id: &str) -> String {
        format!("schedule:{id}")
    }

    pub fn max_steps(&self) -> usize {
        MAX_STEPS
    }
}

async fn policy_page(
    st: &AppState,
    ctx: PageCtx,
    policy: Option<PolicyDetail>,
    form: PolicyForm,
    errors: FieldErrors,
    conflict: Option<String>,
) -> Result<PolicyPage, AppError> {
    let now = ctx.now;
    let schedules = schedules::list(st, now)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(PolicyPage {
        people: schedules::active_people(st).await?,
        schedules,
        policy,
        form,
        errors,
        conflict,
        ctx,
    })
}

pub async fn new(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Manager>,
) -> Result<HttpResponse, AppError> {
    let form = PolicyForm {
        repeat: "0".into(),
        steps: vec![StepForm {
            delay: "15".into(),
            targets: Vec::new(),
        }],
        ..PolicyForm::default()
    };
    page(&policy_page(&st, ctx, None, form, FieldErrors::new(), None).await?)
}

pub async fn show(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Viewer>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let policy = escalation::get(&st, &path).await?;
    let form = PolicyForm::from_detail(&policy);
    page(&policy_page(&st, ctx, Some(policy), form, FieldErrors::new(), None).await?)
}

/// Shared by create and update: the add/remove buttons re-render, save saves.
async fn submit(
    st: &AppState,
    ctx: PageCtx,
    who: &RequireRole<role::Manager>,
    ip: ClientIp,
    existing: Option<PolicyDetail>,
    body: &[u8],
) -> Result<HttpResponse, AppError> {
    let (mut form, action) = parse_form(body)?;
    match action {
        Action::AddStep => {
            if form.steps.len() < MAX_STEPS {
                form.steps.push(StepForm {
                    delay: "15".into(),
                    targets: Vec::new(),
                });
            }
            return page(&policy_page(st, ctx, existing, form, FieldErrors::new(), None).await?);
        }
        Action::RemoveStep(n) => {
            if n < form.steps.len() {
                form.steps.remove(n);
            }
            return page(&policy_page(st, ctx, existing, form, FieldErrors::new(), None).await?);
        }
        Action::Save => {}
    }
    let actor = who.actor(Some(ip.0));
    let saved = match form.input() {
        Err(errors) => Err(Ok(errors)),
        Ok(input) => match &existing {
            None => escalation::create(st, &actor, &input).await,
            Some(p) => {
                let version = form.version.trim().parse::<i64>().ok();
                escalation::update(st, &actor, &p.id, &input, version).await
            }
        }
        .map_err(form_errors),
    };
    match saved {
        Ok(policy) => Ok(redirect_with(
            &format!("/escalation-policies/{}", policy.id),
            Flash::success(format!("Escalation policy '{}' saved.", policy.name)),
        )),
        Err(Ok(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &policy_page(st, ctx, existing, form, errors, None).await?,
        ),
        Err(Err(AppError::Conflict(message))) => {
            // Keep what was typed; the next save knowingly replaces the other change.
            let current = match &existing {
                Some(p) => Some(escalation::get(st, &p.id).await?),
                None => None,
            };
            if let Some(c) = &current {
                form.version = c.version.to_string();
            }
            render(
                StatusCode::CONFLICT,
                &policy_page(st, ctx, current, form, FieldErrors::new(), Some(message)).await?,
            )
        }
        Err(Err(e)) => Err(e),
    }
}

pub async fn create(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    submit(&st, ctx, &who, ip, None, &body).await
}

pub async fn update(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Manager>,
    ip: ClientIp,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let existing = escalation::get(&st, &path).await?;
    submit(&st, ctx, &who, ip, Some(existing), &body).await
}

#[derive(Template)]
#[template(path = "escalation/severities.html")]
pub struct SeveritiesPage {
    pub ctx: PageCtx,
    pub rows: Vec<SeverityTimes>,
    pub errors: FieldErrors,
}

pub async fn severities(
    st: web::Data<AppState>,
    ctx: PageCtx,
    _who: RequireRole<role::Admin>,
) -> Result<HttpResponse, AppError> {
    page(&SeveritiesPage {
        rows: severities::list(&st).await?,
        errors: FieldErrors::new(),
        ctx,
    })
}

pub async fn set_severities(
    st: web::Data<AppState>,
    ctx: PageCtx,
    who: RequireRole<role::Admin>,
    ip: ClientIp,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("the form could not be read: {e}")))?;
    let field = |name: String| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut typed = Vec::new();
    for severity in crate::domain::severity::Severity::ALL {
        let (ack, resolve) = (
            field(format!("{severity}.ack")),
            field(format!("{severity}.resolve")),
        );
        // Unreadable numbers become -1, which the service refuses with the severity named.
        let number = |raw: &str| raw.parse::<i64>().unwrap_or(-1);
        rows.push((severity.as_str().to_owned(), number(&ack), number(&resolve)));
        typed.push(SeverityTimes {
            severity,
            ack_within_minutes: number(&ack),
            resolve_within_minutes: number(&resolve),
        });
    }
    match severities::update(&st, &who.actor(Some(ip.0)), &rows)
        .await
        .map_err(form_errors)
    {
        Ok(_) => Ok(redirect_with(
            "/admin/severities",
            Flash::success("Response times saved. New incidents get these deadlines."),
        )),
        Err(Ok(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SeveritiesPage {
                rows: typed,
                errors,
                ctx,
            },
        ),
        Err(Err(e)) => Err(e),
    }
}
