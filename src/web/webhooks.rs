//! Monitoring tools' webhooks: raw body -> key check -> parser -> group-commit writer -> answer.
//!
//! The answer is 2xx only after the alerts are committed. Every refusal is a 4xx with a JSON body
//! naming what is wrong, and changes nothing: the key is checked, the body read within its limit
//! and parsed, and the rate limit applied before anything is written. Unknown and revoked keys
//! are both 404, so a caller cannot tell which keys exist.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use crate::domain::alert::NormalizedAlert;
use crate::domain::service::Integration;
use crate::error::AppError;
use crate::ingest::{self, IngestError, MAX_BODY};
use crate::services::alert_intake::{AlertResult, Delivery};
use crate::state::AppState;

/// Why a webhook was refused, with the outcome label it is counted under.
enum Refusal {
    TooLarge,
    UnknownKey,
    Invalid(IngestError),
    PagerDuty(ingest::pagerduty::PagerDutyError),
    BadSignature,
    RateLimited(u64),
    Failed(AppError),
}

impl Refusal {
    fn outcome(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "too_large",
            Refusal::UnknownKey => "unknown_key",
            Refusal::Invalid(_) | Refusal::PagerDuty(_) => "invalid",
            Refusal::BadSignature => "bad_signature",
            Refusal::RateLimited(_) => "rate_limited",
            Refusal::Failed(_) => "error",
        }
    }

    fn response(self) -> HttpResponse {
        let body = |status: StatusCode, error: &str, detail: String| {
            HttpResponse::build(status).json(json!({ "error": error, "detail": detail }))
        };
        match self {
            Refusal::TooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                format!("the body is larger than {} bytes", MAX_BODY),
            ),
            Refusal::UnknownKey => body(
                StatusCode::NOT_FOUND,
                "Not found",
                "unknown integration key".into(),
            ),
            Refusal::Invalid(e) => HttpResponse::BadRequest().json(json!({
                "error": "Invalid input",
                "detail": e.to_string(),
                "field": e.field,
            })),
            // PagerDuty's own error shape, which its clients read.
            Refusal::PagerDuty(e) => HttpResponse::BadRequest().json(e.body()),
            Refusal::BadSignature => body(
                StatusCode::UNAUTHORIZED,
                "Bad signature",
                "X-Grafana-Alerting-Signature does not match the body and the integration's secret"
                    .into(),
            ),
            Refusal::RateLimited(after) => {
                let mut res = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    format!("this integration's alert rate limit is exceeded; retry in {after} s"),
                );
                if let Ok(v) = HeaderValue::from_str(&after.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            Refusal::Failed(e) => actix_web::ResponseError::error_response(&e),
        }
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Failed(e)
    }
}

/// Reads the body, refusing it as soon as it passes the limit.
async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, Refusal> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Refusal::Invalid(IngestError::new("body", format!("could not be read: {e}")))
        })?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Refusal::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn integration_for(st: &AppState, key: &str) -> Result<Integration, Refusal> {
    if key.is_empty() || key.len() > 200 {
        return Err(Refusal::UnknownKey);
    }
    st.keys.resolve(st, key).await?.ok_or(Refusal::UnknownKey)
}

fn rate_limit(st: &AppState, integration: &Integration, alerts: usize) -> Result<(), Refusal> {
    let Some(limit) = integration.rate_limit else {
        return Ok(());
    };
    let cost = u32::try_from(alerts.max(1)).unwrap_or(u32::MAX);
    st.limiter
        .take(&integration.id, limit, cost, st.clock.now())
        .map_err(Refusal::RateLimited)
}

async fn deliver(
    st: &AppState,
    integration: Integration,
    alerts: Vec<NormalizedAlert>,
) -> Result<Vec<AlertResult>, Refusal> {
    rate_limit(st, &integration, alerts.len())?;
    Ok(st
        .ingest
        .submit(Delivery {
            integration,
            alerts,
        })
        .await?)
}

fn finish(
    st: &AppState,
    kind: &'static str,
    alerts: usize,
    result: Result<HttpResponse, Refusal>,
) -> HttpResponse {
    let count = alerts as u64;
    match result {
        Ok(res) => {
            st.metrics.count_webhook(kind, "accepted", count);
            res
        }
        Err(refusal) => {
            st.metrics.count_webhook(kind, refusal.outcome(), count);
            if let Refusal::Failed(e) = &refusal {
                tracing::error!(error = %e, kind, "webhook failed");
            }
            refusal.response()
        }
    }
}

fn accepted(results: &[AlertResult]) -> HttpResponse {
    HttpResponse::Accepted().json(json!({
        "status": "ok",
        "alerts": results.len(),
        "results": results,
    }))
}

type Parser = fn(&[u8]) -> Result<Vec<NormalizedAlert>, IngestError>;

/// Alertmanager, Grafana and generic: the key is in the path.
async fn keyed(
    st: &AppState,
    req: &HttpRequest,
    kind: &'static str,
    key: &str,
    payload: web::Payload,
    parse: Parser,
) -> HttpResponse {
    let mut alerts = 0;
    let result = async {
        let integration = integration_for(st, key).await?;
        let body = read_body(payload).await?;
        if kind == "grafana"
            && let Some(secret) = integration.signing_secret.as_deref()
        {
            let signature = req
                .headers()
                .get("x-grafana-alerting-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ingest::grafana::verify_signature(&body, secret, signature) {
                return Err(Refusal::BadSignature);
            }
        }
        let parsed = parse(&body).map_err(Refusal::Invalid)?;
        alerts = parsed.len();
        let results = deliver(st, integration, parsed).await?;
        Ok(accepted(&results))
    }
    .await;
    finish(st, kind, alerts, result)
}

pub async fn alertmanager(
    st: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    keyed(
        &st,
        &req,
        "alertmanager",
        &key,
        payload,
        ingest::alertmanager::parse,
    )
    .await
}

pub async fn grafana(
    st: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    keyed(&st, &req, "grafana", &key, payload, ingest::grafana::parse).await
}

pub async fn generic(
    st: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    keyed(&st, &req, "generic", &key, payload, ingest::generic::parse).await
}

/// PagerDuty Events API v2: the key is the event's `routing_key`.
pub async fn pagerduty(st: web::Data<AppState>, payload: web::Payload) -> HttpResponse {
    let result = async {
        let body = read_body(payload).await?;
        let event = ingest::pagerduty::parse(&body).map_err(Refusal::PagerDuty)?;
        let integration = integration_for(&st, &event.routing_key).await?;
        let results = deliver(&st, integration, vec![event.alert]).await?;
        let dedup_key = results
            .first()
            .map(|r| r.dedup_key.clone())
            .unwrap_or_default();
        Ok(HttpResponse::Accepted().json(json!({
            "status": "success",
            "message": "Event processed",
            "dedup_key": dedup_key,
        })))
    }
    .await;
    finish(&st, "pagerduty", 1, result)
}
