//! Delivering the outbox: notifications the engine queued, sent after their transaction
//! committed, with retries and backoff. At least once: a row is leased before sending and marked
//! after; an instance that dies in between leaves the lease to expire and the row is sent again,
//! with the same Message-ID (its idempotency key) so the copy can be recognised.

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use crate::db::repo::escalation::{self as repo, NotificationRow, Outcome};
use crate::db::repo::{incidents, services as service_repo, timeline, users};
use crate::domain::escalation::retry_delay;
use crate::domain::ids::new_id;
use crate::error::AppError;
use crate::metrics::NotificationLabels;
use crate::notify::mail::{MailError, OutgoingMail};
use crate::notify::page_mail::PageMail;
use crate::state::AppState;

/// How long a delivery may take before another instance may try it.
const LEASE: Duration = Duration::minutes(2);
const BATCH: i64 = 32;
/// Deliveries under way at once.
const PARALLEL: usize = 8;

/// What happened to one attempt.
enum Attempt {
    Sent,
    Retry(String),
    Failed(String),
    Off,
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
        let results: Vec<Result<(), AppError>> = futures_util::stream::iter(by_incident)
            .map(|group| async move {
                for n in group {
                    deliver_one(st, n).await?;
                }
                Ok(())
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for r in results {
            r?;
        }
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

async fn deliver_one(st: &AppState, n: NotificationRow) -> Result<(), AppError> {
    if n.channel == "webhook" {
        let result = post_webhook(st, &n).await?;
        return record(st, &n, result).await;
    }
    let result = match &st.mailer {
        None => Attempt::Off,
        Some(mailer) => match compose(st, &n).await? {
            None => Attempt::Failed("the incident or the person is gone".into()),
            Some(mail) => match mailer.send(&mail).await {
                Ok(()) => Attempt::Sent,
                Err(MailError::Transient(e)) => Attempt::Retry(e),
                Err(MailError::Permanent(e)) => Attempt::Failed(e),
                Err(MailError::Config(e)) => Attempt::Retry(e),
            },
        },
    };
    record(st, &n, result).await
}

/// Posts an incident change to a service's webhook: Lookout's JSON, or Slack's `{"text"}`,
/// signed with HMAC-SHA256 under the service's secret in `X-Lookout-Signature`.
async fn post_webhook(st: &AppState, n: &NotificationRow) -> Result<Attempt, AppError> {
    let incident_id = n.incident_id.clone();
    let loaded = st
        .db
        .read(move |c| {
            let Some(incident) = incidents::find(c, &incident_id)? else {
                return Ok(None);
            };
            let service = service_repo::find(c, &incident.service_id)?;
            Ok::<_, AppError>(service.map(|s| (incident, s)))
        })
        .await?;
    let Some((incident, service)) = loaded else {
        return Ok(Attempt::Failed(
            "the incident or its service is gone".into(),
        ));
    };
    let url = st.base_url.join(&format!("/incidents/{}", incident.number));
    let body = if service.webhook_format == "slack" {
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
        serde_json::json!({
            "event": n.event,
            "message": n.reason,
            "delivery": n.idempotency_key,
            "incident": {
                "id": incident.id,
                "number": incident.number,
                "title": incident.title,
                "severity": incident.severity.as_str(),
                "status": incident.status.as_str(),
                "service": service.name,
                "service_id": service.id,
                "ack_deadline": incident.ack_deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "sla_breached": incident.sla_breached,
                "url": url,
            },
        })
    };
    let body = serde_json::to_vec(&body).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut request = st
        .http
        .post(&n.address)
        .header("Content-Type", "application/json")
        .header("X-Lookout-Event", &n.event)
        .header("X-Lookout-Delivery", &n.idempotency_key);
    if let Some(secret) = &service.webhook_secret {
        request = request.header(
            "X-Lookout-Signature",
            format!("sha256={}", crate::crypto::hmac_sha256_hex(secret, &body)),
        );
    }
    Ok(match request.body(body).send().await {
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
async fn compose(st: &AppState, n: &NotificationRow) -> Result<Option<OutgoingMail>, AppError> {
    let (incident_id, user_id) = (n.incident_id.clone(), n.user_id.clone());
    let loaded = st
        .db
        .read(move |c| {
            let Some(incident) = incidents::find(c, &incident_id)? else {
                return Ok(None);
            };
            let service = service_repo::find(c, &incident.service_id)?
                .map(|s| s.name)
                .unwrap_or_default();
            let user = match user_id {
                Some(id) => users::find(c, &id)?,
                None => None,
            };
            Ok::<_, AppError>(Some((incident, service, user)))
        })
        .await?;
    let Some((incident, service, user)) = loaded else {
        return Ok(None);
    };
    let url = st.base_url.join(&format!("/incidents/{}", incident.number));
    let zone = user.as_ref().map_or(chrono_tz::UTC, |u| u.tz());
    let ack_url = match (&user, incident.status) {
        (Some(u), crate::domain::incident::IncidentStatus::Triggered) => Some(
            crate::services::ack_links::url(st, &incident.id, &u.id, st.clock.now()),
        ),
        _ => None,
    };
    let mail = PageMail {
        incident_number: incident.number,
        title: &incident.title,
        severity: incident.severity.as_str(),
        status: incident.status.as_str(),
        service: &service,
        reason: &n.reason,
        ack_deadline: incident.ack_deadline,
        resolve_deadline: incident.resolve_deadline,
        incident_url: &url,
        ack_url: ack_url.as_deref(),
        runbook_url: None,
        time_zone: zone,
    }
    .render(&n.address, &format!("<{}@lookout>", n.idempotency_key))
    .map_err(|e| AppError::Internal(format!("page mail: {e}")))?;
    Ok(Some(mail))
}

fn wait_text(wait: Duration) -> String {
    if wait < Duration::minutes(1) {
        format!("{} s", wait.num_seconds())
    } else {
        crate::domain::escalation::minutes_text(wait.num_minutes())
    }
}

async fn record(st: &AppState, n: &NotificationRow, result: Attempt) -> Result<(), AppError> {
    let now = st.clock.now();
    let who = n.address.clone();
    let webhook = n.channel == "webhook";
    let what = if webhook {
        format!("webhook ({})", n.event)
    } else {
        "e-mail".to_owned()
    };
    let (state, error, retry_at, message, label) = match &result {
        Attempt::Sent if webhook => (
            "sent",
            None,
            None,
            format!("posted {} to the service's webhook", n.event),
            "sent",
        ),
        Attempt::Sent => ("sent", None, None, format!("paged {who} by e-mail"), "sent"),
        Attempt::Retry(e) => {
            let wait = retry_delay(n.attempts + 1);
            (
                "pending",
                Some(e.clone()),
                Some(now + wait),
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
    };
    let kind = if matches!(result, Attempt::Sent) {
        "notified"
    } else {
        "notification_failed"
    };
    st.metrics
        .notifications
        .get_or_create(&NotificationLabels {
            channel: if webhook { "webhook" } else { "email" },
            result: label,
        })
        .inc();
    let (id, incident_id, error) = (n.id.clone(), n.incident_id.clone(), error);
    st.db
        .write(move |c| {
            repo::record_outcome(
                c,
                &Outcome {
                    id: &id,
                    state,
                    error: error.as_deref(),
                    retry_at,
                    now,
                },
            )?;
            timeline::insert(
                c,
                &timeline::NewEntry {
                    id: &new_id(),
                    incident_id: &incident_id,
                    kind,
                    actor_id: None,
                    actor: "Lookout",
                    message: &message,
                    alert_fingerprint: None,
                    repeats: 1,
                    now,
                },
            )?;
            Ok::<_, AppError>(())
        })
        .await?;
    st.events.incident_changed(&n.incident_id);
    Ok(())
}
