//! PagerDuty Events API v2 (`POST /v2/enqueue`), so anything that pages PagerDuty can page
//! Lookout by changing its URL.
//!
//! Clients (`pdpyras`, Alertmanager's `pagerduty_configs`, ...) send one event per request:
//! `routing_key`, `event_action` (`trigger`, `acknowledge`, `resolve`), `dedup_key`, and for
//! triggers a `payload` with `summary`, `source` and `severity`. They expect
//! `202 {"status":"success","message":"Event processed","dedup_key":...}`, give up on 400 and
//! retry 429 and 5xx. Alertmanager sets `dedup_key` to the SHA-256 hex of its group key, never
//! sends `acknowledge`, may send `payload.source` as `""`, and puts the alerts' text under
//! `payload.custom_details`. Like PagerDuty, validation reports every problem at once.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    AlertAction, AlertLink, IngestError, MAX_LABELS, MAX_TITLE, NormalizedAlert, Object, bounded,
    parse_timestamp, truncate,
};
use crate::crypto::sha256_hex;

pub const MAX_DEDUP_KEY: usize = 255;
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// A valid event: which integration it is for, and the alert it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct PagerDutyEvent {
    pub routing_key: String,
    pub alert: NormalizedAlert,
}

/// PagerDuty's 400 answer: `{"status":"invalid event","message":...,"errors":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}: {}", errors.join("; "))]
pub struct PagerDutyError {
    pub message: String,
    pub errors: Vec<String>,
}

impl PagerDutyError {
    fn invalid(errors: Vec<String>) -> Self {
        PagerDutyError {
            message: "Event object is invalid".to_owned(),
            errors,
        }
    }

    /// The answer body PagerDuty gives, which clients log as is.
    pub fn body(&self) -> Value {
        json!({"status": "invalid event", "message": self.message, "errors": self.errors})
    }
}

impl From<PagerDutyError> for IngestError {
    fn from(e: PagerDutyError) -> Self {
        // Every field error starts with the quoted field name: `'payload.summary' is missing`.
        let field = e
            .errors
            .first()
            .and_then(|first| first.strip_prefix('\'')?.split_once('\''))
            .map_or("body", |(field, _)| field);
        let message = if e.errors.is_empty() {
            e.message.clone()
        } else {
            e.errors.join("; ")
        };
        IngestError::new(field, message)
    }
}

/// Validates one Events v2 body, collecting every problem like PagerDuty does.
pub fn parse(body: &[u8]) -> Result<PagerDutyEvent, PagerDutyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| PagerDutyError {
        message: "Invalid JSON".to_owned(),
        errors: vec![e.to_string()],
    })?;
    let Some(root) = value.as_object() else {
        return Err(PagerDutyError::invalid(vec![
            "Event must be a JSON object".to_owned(),
        ]));
    };
    let mut errors = Vec::new();

    let routing_key = match root.get("routing_key") {
        None | Some(Value::Null) => missing(&mut errors, "routing_key"),
        Some(Value::String(key)) if !key.is_empty() => Some(key.as_str()),
        Some(_) => problem(&mut errors, "'routing_key' must be a non-empty string"),
    };
    let action = match root.get("event_action") {
        None | Some(Value::Null) => missing(&mut errors, "event_action"),
        Some(Value::String(a)) if a == "trigger" => Some(AlertAction::Trigger),
        Some(Value::String(a)) if a == "acknowledge" => Some(AlertAction::Acknowledge),
        Some(Value::String(a)) if a == "resolve" => Some(AlertAction::Resolve),
        Some(_) => problem(
            &mut errors,
            "'event_action' must be one of trigger, acknowledge, resolve",
        ),
    };
    let dedup_key = match root.get("dedup_key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(key)) if key.is_empty() => Ok(None),
        Some(Value::String(key)) if key.chars().count() > MAX_DEDUP_KEY => Err(format!(
            "'dedup_key' must be at most {MAX_DEDUP_KEY} characters"
        )),
        Some(Value::String(key)) => Ok(Some(key.as_str())),
        Some(_) => Err("'dedup_key' must be a string".to_owned()),
    };
    let dedup_key = match dedup_key {
        Ok(None)
            if matches!(
                action,
                Some(AlertAction::Acknowledge | AlertAction::Resolve)
            ) =>
        {
            problem(
                &mut errors,
                "'dedup_key' is required for acknowledge and resolve",
            )
        }
        Ok(key) => key,
        Err(e) => problem(&mut errors, &e),
    };

    // Acknowledge and resolve need no payload (Alertmanager still sends one with its resolve):
    // its fields are used when valid, and its problems only count for triggers.
    let mut payload_errors = Vec::new();
    let payload = Payload::read(root.get("payload"), &mut payload_errors);
    if action == Some(AlertAction::Trigger) {
        errors.append(&mut payload_errors);
    }

    let (Some(routing_key), Some(action), true) = (routing_key, action, errors.is_empty()) else {
        return Err(PagerDutyError::invalid(errors));
    };

    let summary = payload.summary.unwrap_or_default();
    let source = payload.source.unwrap_or_default();
    let title = match (payload.summary, dedup_key) {
        (Some(summary), _) => summary,
        (None, Some(key)) => key,
        (None, None) => "event",
    };
    let fingerprint = dedup_key.map_or_else(
        || {
            let parts = [routing_key, summary, source];
            sha256_hex(&parts.map(|p| format!("{}:{p}", p.len())).concat())
        },
        str::to_owned,
    );

    let mut links: Vec<AlertLink> = links(root.get("links"));
    if let Some(Value::String(url)) = root.get("client_url")
        && !url.is_empty()
    {
        let text = match root.get("client") {
            Some(Value::String(client)) if !client.trim().is_empty() => client.as_str(),
            _ => "client",
        };
        links.push(AlertLink {
            href: url.clone(),
            text: truncate(text, MAX_TITLE),
        });
    }

    Ok(PagerDutyEvent {
        routing_key: routing_key.to_owned(),
        alert: NormalizedAlert {
            group_key: dedup_key.map(str::to_owned),
            fingerprint,
            action,
            title: truncate(title, MAX_TITLE),
            group_title: None,
            description: None,
            severity: payload.severity,
            labels: bounded(&payload.labels),
            annotations: bounded(&payload.details),
            starts_at: payload.timestamp,
            ends_at: None,
            generator_url: None,
            links,
            source: (!source.is_empty()).then(|| truncate(source, MAX_TITLE)),
        },
    })
}

/// The parts of `payload` Lookout uses, each `None` when absent or invalid.
#[derive(Default)]
struct Payload<'a> {
    summary: Option<&'a str>,
    source: Option<&'a str>,
    severity: Option<String>,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
    labels: BTreeMap<String, String>,
    details: BTreeMap<String, String>,
}

impl<'a> Payload<'a> {
    fn read(value: Option<&'a Value>, errors: &mut Vec<String>) -> Self {
        let obj: &Object = match value {
            None | Some(Value::Null) => {
                errors.push("'payload' is missing".to_owned());
                return Payload::default();
            }
            Some(Value::Object(obj)) => obj,
            Some(_) => {
                errors.push("'payload' must be an object".to_owned());
                return Payload::default();
            }
        };
        let summary = match obj.get("summary") {
            None | Some(Value::Null) => missing(errors, "payload.summary"),
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.as_str()),
            Some(_) => problem(errors, "'payload.summary' must be a non-empty string"),
        };
        let source = match obj.get("source") {
            None | Some(Value::Null) => missing(errors, "payload.source"),
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => problem(errors, "'payload.source' must be a string"),
        };
        let severity = match obj.get("severity") {
            None | Some(Value::Null) => missing(errors, "payload.severity"),
            Some(Value::String(s)) if SEVERITIES.contains(&s.to_lowercase().as_str()) => {
                Some(s.to_lowercase())
            }
            Some(_) => problem(
                errors,
                "'payload.severity' must be one of critical, error, warning, info",
            ),
        };
        let timestamp =
            parse_timestamp(obj.get("timestamp"), "payload.timestamp").unwrap_or_else(|_| {
                errors.push("'payload.timestamp' must be an RFC 3339 timestamp".to_owned());
                None
            });
        let labels = ["component", "group", "class"]
            .into_iter()
            .filter_map(|key| match obj.get(key) {
                Some(Value::String(v)) if !v.is_empty() => Some((key.to_owned(), v.clone())),
                _ => None,
            })
            .collect();
        Payload {
            summary,
            source,
            severity,
            timestamp,
            labels,
            details: custom_details(obj.get("custom_details")),
        }
    }
}

/// `custom_details` is free-form: an object becomes one annotation per entry (non-strings as
/// compact JSON), anything else one `details` annotation.
fn custom_details(value: Option<&Value>) -> BTreeMap<String, String> {
    match value {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(obj)) => obj.iter().map(|(k, v)| (k.clone(), compact(v))).collect(),
        Some(other) => BTreeMap::from([("details".to_owned(), compact(other))]),
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `links: [{"href", "text"}]`; entries without an `href` are skipped, as PagerDuty shows nothing
/// for them either.
fn links(value: Option<&Value>) -> Vec<AlertLink> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let href = item.get("href")?.as_str().filter(|h| !h.is_empty())?;
            let text = item
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .unwrap_or(href);
            Some(AlertLink {
                href: href.to_owned(),
                text: truncate(text, MAX_TITLE),
            })
        })
        .take(MAX_LABELS)
        .collect()
}

fn missing<T>(errors: &mut Vec<String>, field: &str) -> Option<T> {
    errors.push(format!("'{field}' is missing"));
    None
}

fn problem<T>(errors: &mut Vec<String>, error: &str) -> Option<T> {
    errors.push(error.to_owned());
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PD_TRIGGER: &str =
        include_str!("../../tests/fixtures/pagerduty-clients/01-pdpyras-trigger.json");
    const PD_ACK: &str =
        include_str!("../../tests/fixtures/pagerduty-clients/02-pdpyras-acknowledge.json");
    const PD_RESOLVE: &str =
        include_str!("../../tests/fixtures/pagerduty-clients/03-pdpyras-resolve.json");
    const AM_TRIGGER: &str =
        include_str!("../../tests/fixtures/alertmanager-pagerduty/01-trigger-2-alerts.json");
    const AM_RESOLVE: &str =
        include_str!("../../tests/fixtures/alertmanager-pagerduty/02-resolve.json");
    const AM_GLOBAL: &str = include_str!(
        "../../tests/fixtures/alertmanager-pagerduty/03-trigger-defaults-global-pagerduty_url.json"
    );
    const AM_AGAIN: &str =
        include_str!("../../tests/fixtures/alertmanager-pagerduty/04-trigger-2-alerts-again.json");
    const AM_DEDUP: &str = "505ee9c30ca4e6531fdf3803cfd979190456529c814e3cfa20d0bac385ad6876";

    fn ok(body: &str) -> PagerDutyEvent {
        parse(body.as_bytes()).expect("valid event")
    }

    fn errors(body: &str) -> Vec<String> {
        let e = parse(body.as_bytes()).expect_err("invalid event");
        assert_eq!(e.message, "Event object is invalid");
        e.errors
    }

    #[test]
    fn pdpyras_trigger_acknowledge_resolve() {
        let t = ok(PD_TRIGGER);
        assert_eq!(t.routing_key, "PDPYRAS0ROUTINGKEY0000000000000");
        let a = &t.alert;
        assert_eq!(
            (a.group_key.as_deref(), a.fingerprint.as_str()),
            (Some("disk-db-7"), "disk-db-7")
        );
        assert_eq!(a.action, AlertAction::Trigger);
        assert_eq!(a.title, "Disk full on db-7");
        assert_eq!(a.severity.as_deref(), Some("warning"));
        assert_eq!(a.source.as_deref(), Some("db-7.prod"));
        assert_eq!(
            a.annotations.get("free_bytes").map(String::as_str),
            Some("1024")
        );
        assert_eq!(
            a.links,
            vec![AlertLink {
                href: "http://x".into(),
                text: "dash".into()
            }]
        );

        for (body, action) in [
            (PD_ACK, AlertAction::Acknowledge),
            (PD_RESOLVE, AlertAction::Resolve),
        ] {
            let a = ok(body).alert;
            assert_eq!(a.action, action);
            assert_eq!(
                (a.group_key.as_deref(), a.fingerprint.as_str()),
                (Some("disk-db-7"), "disk-db-7")
            );
            assert_eq!(
                (a.title.as_str(), a.severity, a.source),
                ("disk-db-7", None, None)
            );
        }
    }

    #[test]
    fn alertmanager_events_parse() {
        let a = ok(AM_TRIGGER).alert;
        assert_eq!(a.group_key.as_deref(), Some(AM_DEDUP));
        assert_eq!(a.action, AlertAction::Trigger);
        assert_eq!(a.title, "[FIRING:2] InstanceDown pd (api critical)");
        assert_eq!(
            (a.severity.as_deref(), a.source.as_deref()),
            (Some("critical"), None)
        );
        let labels: Vec<(&str, &str)> = a
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("class", "InstanceDown"),
                ("component", "api"),
                ("group", "pd")
            ]
        );
        let firing = &a.annotations["firing"];
        assert!(
            firing.starts_with("Labels:\n - alertname = InstanceDown\n")
                && firing.ends_with("Source: \n")
        );
        assert_eq!(a.annotations["num_firing"], "2");
        assert_eq!(a.annotations["resolved"], "");
        let texts: Vec<&str> = a.links.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["runbook", "Alertmanager"]);
        assert_eq!(a.links[1].href, "http://vm:19093/#/alerts?receiver=pd");

        let r = ok(AM_RESOLVE).alert;
        assert_eq!(
            (r.action, r.fingerprint.as_str()),
            (AlertAction::Resolve, AM_DEDUP)
        );
        assert_eq!(r.title, "[RESOLVED] InstanceDown pd (api critical)");
        assert_eq!(ok(AM_AGAIN).alert.group_key, a.group_key);

        let g = ok(AM_GLOBAL);
        assert_eq!(g.routing_key, "GLOBALURLKEY000000000000000000000");
        assert_eq!(
            (g.alert.severity.as_deref(), g.alert.source.as_deref()),
            (Some("error"), Some("Alertmanager"))
        );
        assert_eq!(g.alert.links.len(), 1);
    }

    #[test]
    fn all_problems_are_reported_together() {
        assert_eq!(
            errors(r#"{"payload": {"summary": "s", "source": "", "severity": "info"}}"#),
            ["'routing_key' is missing", "'event_action' is missing"]
        );
        assert_eq!(
            errors(
                r#"{"routing_key": "", "event_action": "trigger", "payload": {"summary": " ", "severity": "fatal"}}"#
            ),
            [
                "'routing_key' must be a non-empty string",
                "'payload.summary' must be a non-empty string",
                "'payload.source' is missing",
                "'payload.severity' must be one of critical, error, warning, info",
            ]
        );
        assert_eq!(
            errors(r#"{"routing_key": "k", "event_action": "trigger"}"#),
            ["'payload' is missing"]
        );
        assert_eq!(
            errors(r#"{"routing_key": "k", "event_action": "escalate"}"#),
            ["'event_action' must be one of trigger, acknowledge, resolve"]
        );
        assert_eq!(
            errors(
                r#"{"routing_key": "k", "event_action": "trigger", "payload": {"summary": "s", "source": "", "severity": "info", "timestamp": "soon"}}"#
            ),
            ["'payload.timestamp' must be an RFC 3339 timestamp"]
        );
    }

    #[test]
    fn dedup_key_rules() {
        let required = ["'dedup_key' is required for acknowledge and resolve"];
        assert_eq!(
            errors(r#"{"routing_key": "k", "event_action": "acknowledge"}"#),
            required
        );
        assert_eq!(
            errors(r#"{"routing_key": "k", "event_action": "resolve", "dedup_key": ""}"#),
            required
        );
        let body = |key: &str| {
            format!(r#"{{"routing_key": "k", "event_action": "resolve", "dedup_key": "{key}"}}"#)
        };
        assert_eq!(
            errors(&body(&"k".repeat(256))),
            ["'dedup_key' must be at most 255 characters"]
        );
        assert_eq!(ok(&body(&"k".repeat(255))).alert.fingerprint.len(), 255);
        assert_eq!(
            errors(r#"{"routing_key": "k", "event_action": "resolve", "dedup_key": 5}"#),
            ["'dedup_key' must be a string"]
        );
    }

    #[test]
    fn trigger_without_dedup_key_gets_a_stable_fingerprint() {
        let body = |summary: &str| {
            format!(
                r#"{{"routing_key": "k", "event_action": "trigger", "payload": {{"summary": "{summary}", "source": "h", "severity": "CRITICAL"}}}}"#
            )
        };
        let a = ok(&body("disk")).alert;
        assert_eq!(
            (a.group_key, a.severity.as_deref()),
            (None, Some("critical"))
        );
        assert_eq!(a.fingerprint, ok(&body("disk")).alert.fingerprint);
        assert_ne!(a.fingerprint, ok(&body("cpu")).alert.fingerprint);
        let long = ok(&body(&"x".repeat(1024))).alert.title;
        assert!(long.chars().count() == MAX_TITLE && long.ends_with('…'));
    }

    #[test]
    fn free_form_fields_are_flattened() {
        let a = ok(r#"{"routing_key": "k", "event_action": "trigger", "client_url": "http://c",
            "links": [{"href": "http://a"}, {"text": "no href"}, {"href": "http://b", "text": "b"}],
            "payload": {"summary": "s", "source": "", "severity": "info", "component": 3,
            "timestamp": "2026-01-02T03:04:05.1234567+01:00", "custom_details": "just text", "new": 1}}"#)
        .alert;
        assert_eq!(
            a.annotations,
            BTreeMap::from([("details".to_owned(), "just text".to_owned())])
        );
        assert!(a.labels.is_empty());
        assert_eq!(
            a.starts_at,
            Some("2026-01-02T02:04:05.123456Z".parse().expect("ts"))
        );
        let links: Vec<(&str, &str)> = a
            .links
            .iter()
            .map(|l| (l.href.as_str(), l.text.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("http://a", "http://a"),
                ("http://b", "b"),
                ("http://c", "client")
            ]
        );
        let nested = ok(
            r#"{"routing_key": "k", "event_action": "trigger", "payload": {"summary": "s",
            "source": "", "severity": "info", "custom_details": {"n": {"a": [1, true]}}}}"#,
        )
        .alert;
        assert_eq!(nested.annotations["n"], r#"{"a":[1,true]}"#);
    }

    #[test]
    fn bad_bodies_and_conversion_to_ingest_error() {
        let e = parse(b"{nope").expect_err("invalid");
        assert_eq!(e.message, "Invalid JSON");
        assert_eq!(IngestError::from(e).field, "body");
        let e = parse(b"[]").expect_err("invalid");
        assert_eq!(e.body()["status"], "invalid event");
        assert_eq!(IngestError::from(e).field, "body");
        let e = parse(br#"{"event_action": "trigger", "routing_key": "k", "payload": {"source": "", "severity": "info"}}"#)
            .expect_err("invalid");
        assert_eq!(
            IngestError::from(e),
            IngestError::new("payload.summary", "'payload.summary' is missing")
        );
    }
}
