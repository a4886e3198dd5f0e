//! Delivering the outbox: notifications the engine queued, sent after their transaction
//! committed, with retries and backoff. At least once: a row is leased before sending and marked
//! after; an instance that dies in between leaves the lease to expire and the row is sent again,
//! with the same Message-ID (its idempotency key) so the copy can be recognised.
//!
//! A batch is loaded with what its messages need in one read, sent side by side (one incident's
//! in order), and recorded in one write: the writer is shared with webhook ingest and the
//! escalation jobs, and a transaction per message would queue them behind the outbox.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use crate::db::repo::contacts::ContactRow;
use crate::db::repo::escalation::{self as repo, NotificationRow, Outcome};
use crate::db::repo::{contacts, incidents, services as service_repo, timeline, users};
use crate::domain::escalation::retry_delay;
use crate::domain::ids::new_id;
use crate::domain::incident::{Incident, IncidentStatus};
use crate::domain::service::Service;
use crate::domain::user::User;
use crate::error::AppError;
use crate::metrics::NotificationLabels;
use crate::notify::mail::{MailError, OutgoingMail};
use crate::notify::page_mail::PageMail;
use crate::notify::webhook::signed_post;
use crate::state::AppState;

/// How long a delivery may take before another instance may try it.
const LEASE: Duration = Duration::minutes(2);
/// Sends a batch starts after this are put back for the next round instead; with the 10 s limit
/// per send the batch is then recorded well within `LEASE`.
const SEND_WITHIN: Duration = Duration::minutes(1);
/// A batch is recorded when its last message is done; larger ones would hold finished pages
/// back from the timeline (measured: 256 sent no faster than 64, see docs/PERFORMANCE.md).
const BATCH: i64 = 64;
/// Deliveries under way at once (the mailer keeps as many SMTP connections).
const PARALLEL: usize = 16;

/// What happened to one attempt.
enum Attempt {
    Sent,
    Retry(String),
    Failed(String),
    Off,
    /// Not sent: a page for an incident somebody acknowledged or resolved meanwhile.
    Dropped(IncidentStatus),
    /// Not tried: its batch ran out of time. Due again at once, with nothing on the timeline.
    Deferred,
}

/// What a batch's messages refer to, loaded once for the batch.
#[derive(Default)]
struct Context {
    incidents: HashMap<String, Incident>,
    services: HashMap<String, Service>,
    users: HashMap<String, User>,
    contacts: HashMap<String, ContactRow>,
}

impl Context {
    async fn load(st: &AppState, rows: &[NotificationRow]) -> Result<Context, AppError> {
        let wanted: Vec<(String, Option<String>, Option<String>)> = rows
            .iter()
            .map(|n| {
                (
                    n.incident_id.clone(),
                    n.user_id.clone(),
                    n.contact_method_id.clone(),
                )
            })
            .collect();
        st.db
            .read(move |c| {
                let mut ctx = Context::default();
                for (incident_id, user_id, contact_id) in wanted {
                    if !ctx.incidents.contains_key(&incident_id)
                        && let Some(i) = incidents::find(c, &incident_id)?
                    {
                        if !ctx.services.contains_key(&i.service_id)
                            && let Some(s) = service_repo::find(c, &i.service_id)?
                        {
                            ctx.services.insert(s.id.clone(), s);
                        }
                        ctx.incidents.insert(incident_id, i);
                    }
                    if let Some(id) = user_id
                        && !ctx.users.contains_key(&id)
                        && let Some(u) = users::find(c, &id)?
                    {
                        ctx.users.insert(id, u);
                    }
                    if let Some(id) = contact_id
                        && !ctx.contacts.contains_key(&id)
                        && let Some(m) = contacts::find_contact(c, &id)?
                    {
                        ctx.contacts.insert(id, m);
                    }
                }
                Ok::<_, AppError>(ctx)
            })
            .await
    }

    fn incident_of(&self, n: &NotificationRow) -> Option<(&Incident, Option<&Service>)> {
        let incident = self.incidents.get(&n.incident_id)?;
        Some((incident, self.services.get(&incident.service_id)))
    }
}

/// One finished attempt, waiting to be recorded with the rest of its batch.
struct Done {
    row: NotificationRow,
    attempt: Attempt,
    at: DateTime<Utc>,
}

/// Delivers everything due; returns when the outbox next needs attention.
pub async fn deliver_due(st: &AppState) -> Result<Option<DateTime<Utc>>, AppError> {
    loop {
        let now = st.clock.now();
        let leased = st
            .db
            .write(move |c| {
                repo::lease_deliveries(c, now, now + LEASE, BATCH).map_err(AppError::from)
            })
            .await?;
        let count = leased.len();
        if count == 0 {
            break;
        }
        let ctx = Context::load(st, &leased).await?;
        // One incident's messages go out in the order they were queued (step 2 after step 1);
        // different incidents' go out side by side.
        let mut by_incident: Vec<Vec<NotificationRow>> = Vec::new();
        for n in leased {
            match by_incident
                .iter_mut()
                .find(|g| g.first().is_some_and(|f| f.incident_id == n.incident_id))
            {
                Some(group) => group.push(n),
                None => by_incident.push(vec![n]),
            }
        }
        let ctx = &ctx;
        let done: Vec<Vec<Done>> = futures_util::stream::iter(by_incident)
            .map(|group| async move {
                let mut done = Vec::with_capacity(group.len());
                for row in group {
                    // A long group behind a slow relay must not outlive the lease, or another
                    // instance would take the rest and send it twice: what is left goes back.
                    let attempt = if st.clock.now() - now >= SEND_WITHIN {
                        Attempt::Deferred
                    } else {
                        attempt(st, ctx, &row).await
                    };
                    done.push(Done {
                        row,
                        attempt,
                        at: st.clock.now(),
                    });
                }
                done
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        record(st, ctx, done.into_iter().flatten().collect()).await?;
        if (count as i64) < BATCH {
            break;
        }
    }
    st.db
        .read(|c| repo::earliest_delivery(c).map_err(AppError::from))
        .await
}

/// Whether anything is left to do at the clock's now: due jobs, or deliveries due or under way.
pub async fn busy(st: &AppState) -> Result<bool, AppError> {
    let now = st.clock.now();
    st.db
        .read(move |c| {
            let job_due = crate::db::repo::escalation::earliest_job(c)?.is_some_and(|t| t <= now);
            Ok::<_, AppError>(job_due || repo::deliveries_outstanding(c, now)? > 0)
        })
        .await
}

async fn attempt(st: &AppState, ctx: &Context, n: &NotificationRow) -> Attempt {
    let Some((incident, service)) = ctx.incident_of(n) else {
        return Attempt::Failed("the incident is gone".into());
    };
    if n.only_while_triggered && incident.status != IncidentStatus::Triggered {
        return Attempt::Dropped(incident.status);
    }
    let result = if n.channel == "webhook" {
        post_webhook(st, ctx, n, incident, service).await
    } else {
        send_mail(st, ctx, n, incident, service).await
    };
    result.unwrap_or_else(|e| Attempt::Retry(e.to_string()))
}

async fn send_mail(
    st: &AppState,
    ctx: &Context,
    n: &NotificationRow,
    incident: &Incident,
    service: Option<&Service>,
) -> Result<Attempt, AppError> {
    let Some(mailer) = &st.mailer else {
        return Ok(Attempt::Off);
    };
    let mail = compose(st, ctx, n, incident, service)?;
    Ok(match mailer.send(&mail).await {
        Ok(()) => {
            if st.mail_health.clear() {
                tracing::info!("mail goes out again: the SMTP settings problem is over");
            }
            Attempt::Sent
        }
        Err(MailError::Transient(e)) => Attempt::Retry(e),
        Err(MailError::Permanent(e)) => Attempt::Failed(e),
        // Every message would fail alike until an admin fixes the settings: keep the page and
        // try again with backoff, and tell the admins on every page they open.
        Err(MailError::Config(e)) => {
            if st.mail_health.report(&e, st.clock.now()) {
                tracing::error!(error = %e, "mail cannot be sent: fix LOOKOUT_SMTP_URL");
            }
            Attempt::Retry(e)
        }
    })
}

/// A service webhook's event (opened, escalated, ...), or `page` for a person's.
fn event_of(n: &NotificationRow) -> &str {
    if n.event.is_empty() { "page" } else { &n.event }
}

/// The JSON both kinds of webhook carry: what happened and the incident as it is now.
fn incident_json(
    st: &AppState,
    n: &NotificationRow,
    incident: &Incident,
    service: Option<&Service>,
) -> serde_json::Value {
    let url = st.base_url.join(&format!("/incidents/{}", incident.number));
    serde_json::json!({
        "event": event_of(n),
        "message": n.reason,
        "delivery": n.idempotency_key,
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "severity": incident.severity.as_str(),
            "status": incident.status.as_str(),
            "service": service.map(|s| s.name.as_str()),
            "service_id": incident.service_id,
            "ack_deadline": incident.ack_deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "sla_breached": incident.sla_breached,
            "url": url,
        },
    })
}

/// Posts to a webhook: a service's (Lookout's JSON, or Slack's `{"text"}`) or a person's contact
/// method (Lookout's JSON with the recipient), signed with HMAC-SHA256 under the owner's secret
/// in `X-Lookout-Signature`.
async fn post_webhook(
    st: &AppState,
    ctx: &Context,
    n: &NotificationRow,
    incident: &Incident,
    service: Option<&Service>,
) -> Result<Attempt, AppError> {
    let (body, secret) = match &n.contact_method_id {
        Some(method_id) => {
            let Some(method) = ctx.contacts.get(method_id) else {
                return Ok(Attempt::Failed("the contact method was removed".into()));
            };
            let mut body = incident_json(st, n, incident, service);
            if let Some(u) = n.user_id.as_ref().and_then(|id| ctx.users.get(id)) {
                body["recipient"] =
                    serde_json::json!({"id": u.id, "email": u.email, "name": u.name});
            }
            if n.only_while_triggered {
                body["acknowledge_url"] =
                    serde_json::Value::from(n.user_id.as_ref().map(|u| {
                        crate::services::ack_links::url(st, &incident.id, u, st.clock.now())
                    }));
            }
            (body, method.secret.clone())
        }
        None => {
            let Some(service) = service else {
                return Ok(Attempt::Failed("the service is gone".into()));
            };
            let body = if service.webhook_format == "slack" {
                let url = st.base_url.join(&format!("/incidents/{}", incident.number));
                serde_json::json!({
                    "text": format!(
                        "[{}] #{} {} ({}): {} <{url}|open>",
                        incident.severity.as_str(),
                        incident.number,
                        incident.title,
                        service.name,
                        n.reason
                    )
                })
            } else {
                incident_json(st, n, incident, Some(service))
            };
            (body, service.webhook_secret.clone())
        }
    };
    let body = serde_json::to_vec(&body).map_err(|e| AppError::Internal(e.to_string()))?;
    let request = signed_post(&st.http, &n.address, event_of(n), secret.as_deref(), body)
        .header("X-Lookout-Delivery", &n.idempotency_key);
    Ok(match request.send().await {
        Ok(r) if r.status().is_success() => Attempt::Sent,
        // The receiver is busy or down: try again. Anything else it refused for good.
        Ok(r) if r.status().is_server_error() || matches!(r.status().as_u16(), 408 | 429) => {
            Attempt::Retry(format!("HTTP {}", r.status().as_u16()))
        }
        Ok(r) => Attempt::Failed(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Attempt::Retry(e.without_url().to_string()),
    })
}

/// The e-mail for a notification: the incident as it is now, in the recipient's time zone.
fn compose(
    st: &AppState,
    ctx: &Context,
    n: &NotificationRow,
    incident: &Incident,
    service: Option<&Service>,
) -> Result<OutgoingMail, AppError> {
    let user = n.user_id.as_ref().and_then(|id| ctx.users.get(id));
    let url = st.base_url.join(&format!("/incidents/{}", incident.number));
    let zone = user.map_or(chrono_tz::UTC, User::tz);
    let ack_url = match (user, incident.status) {
        (Some(u), IncidentStatus::Triggered) => Some(crate::services::ack_links::url(
            st,
            &incident.id,
            &u.id,
            st.clock.now(),
        )),
        _ => None,
    };
    PageMail {
        incident_number: incident.number,
        title: &incident.title,
        severity: incident.severity.as_str(),
        status: incident.status.as_str(),
        service: service.map_or("", |s| s.name.as_str()),
        reason: &n.reason,
        ack_deadline: incident.ack_deadline,
        resolve_deadline: incident.resolve_deadline,
        incident_url: &url,
        ack_url: ack_url.as_deref(),
        runbook_url: None,
        time_zone: zone,
    }
    .render(&n.address, &format!("<{}@lookout>", n.idempotency_key))
    .map_err(|e| AppError::Internal(format!("page mail: {e}")))
}

fn wait_text(wait: Duration) -> String {
    if wait < Duration::minutes(1) {
        format!("{} s", wait.num_seconds())
    } else {
        crate::domain::escalation::minutes_text(wait.num_minutes())
    }
}

/// What one attempt puts in the outbox row, on the timeline and in the metrics.
struct Entry {
    state: &'static str,
    error: Option<String>,
    retry_at: Option<DateTime<Utc>>,
    message: String,
    label: &'static str,
    kind: &'static str,
}

fn entry(ctx: &Context, d: &Done) -> Entry {
    let n = &d.row;
    let person = n.user_id.as_ref().and_then(|id| ctx.users.get(id));
    let service_hook = n.channel == "webhook" && n.contact_method_id.is_none();
    let who = match (person, n.channel.as_str()) {
        (Some(p), "webhook") => format!("{}'s webhook", p.name),
        _ => n.address.clone(),
    };
    let what = if service_hook {
        format!("webhook ({})", n.event)
    } else if n.channel == "webhook" {
        "page".to_owned()
    } else {
        "e-mail".to_owned()
    };
    let (state, error, retry_at, message, label) = match &d.attempt {
        Attempt::Sent if service_hook => (
            "sent",
            None,
            None,
            format!("posted {} to the service's webhook", n.event),
            "sent",
        ),
        Attempt::Sent if n.channel == "webhook" => (
            "sent",
            None,
            None,
            format!(
                "paged {} by webhook",
                person.map_or("someone", |p| p.name.as_str())
            ),
            "sent",
        ),
        Attempt::Sent => ("sent", None, None, format!("paged {who} by e-mail"), "sent"),
        Attempt::Retry(e) => {
            let wait = retry_delay(n.attempts + 1);
            (
                "pending",
                Some(e.clone()),
                Some(d.at + wait),
                format!(
                    "{what} to {who} failed ({e}); trying again in {}",
                    wait_text(wait)
                ),
                "retried",
            )
        }
        Attempt::Failed(e) => (
            "failed",
            Some(e.clone()),
            None,
            format!("{what} to {who} failed for good: {e}"),
            "failed",
        ),
        Attempt::Off => (
            "off",
            None,
            None,
            format!("e-mail is off (LOOKOUT_SMTP_URL is not set): {who} was not mailed"),
            "off",
        ),
        Attempt::Deferred => ("pending", None, Some(d.at), String::new(), "deferred"),
        Attempt::Dropped(status) => (
            "cancelled",
            None,
            None,
            format!(
                "did not page {who}: the incident is {} now",
                status.as_str()
            ),
            "cancelled",
        ),
    };
    Entry {
        kind: match d.attempt {
            Attempt::Sent => "notified",
            Attempt::Dropped(_) => "notification_cancelled",
            _ => "notification_failed",
        },
        state,
        error,
        retry_at,
        message,
        label,
    }
}

/// Records a batch's attempts in one transaction: outbox rows, timeline entries, metrics.
async fn record(st: &AppState, ctx: &Context, done: Vec<Done>) -> Result<(), AppError> {
    if done.is_empty() {
        return Ok(());
    }
    let entries: Vec<(Done, Entry)> = done
        .into_iter()
        .map(|d| {
            let e = entry(ctx, &d);
            (d, e)
        })
        .collect();
    for (d, e) in entries.iter().filter(|(_, e)| !e.message.is_empty()) {
        st.metrics
            .notifications
            .get_or_create(&NotificationLabels {
                channel: if d.row.channel == "webhook" {
                    "webhook"
                } else {
                    "email"
                },
                result: e.label,
            })
            .inc();
    }
    let touched = st
        .db
        .write(move |c| {
            let mut touched: Vec<String> = Vec::new();
            for (d, e) in &entries {
                repo::record_outcome(
                    c,
                    &Outcome {
                        id: &d.row.id,
                        state: e.state,
                        error: e.error.as_deref(),
                        retry_at: e.retry_at,
                        now: d.at,
                    },
                )?;
                // A deferred send was not tried: nothing to tell.
                if e.message.is_empty() {
                    continue;
                }
                timeline::insert(
                    c,
                    &timeline::NewEntry {
                        id: &new_id(),
                        incident_id: &d.row.incident_id,
                        kind: e.kind,
                        actor_id: None,
                        actor: "Lookout",
                        message: &e.message,
                        alert_fingerprint: None,
                        repeats: 1,
                        now: d.at,
                    },
                )?;
                if !touched.contains(&d.row.incident_id) {
                    touched.push(d.row.incident_id.clone());
                }
            }
            Ok::<_, AppError>(touched)
        })
        .await?;
    for id in &touched {
        st.events.incident_changed(id);
    }
    Ok(())
}
