//! Prometheus Alertmanager's webhook (`webhook_configs`, payload `version: "4"`).
//!
//! Alertmanager POSTs one message per alert group and flush: `groupKey` names the group and
//! stays the same across its later episodes, `alerts` holds each alert with its own
//! `fingerprint` and `status`. It re-sends the identical message after `repeat_interval`, retries
//! 5xx answers within seconds, and sends the group again at every `group_interval`; so parsing
//! must be deterministic for ingest to be idempotent. Firing alerts carry
//! `endsAt: "0001-01-01T00:00:00Z"`, Go's zero time, meaning "not ended". `truncatedAlerts`
//! (alerts left out because of `max_alerts`) says nothing about resolution and is ignored.
//!
//! Grafana's webhook is the same shape with extra fields; [`parse_with`] is the one code path
//! both use, with a hook for the extras.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    AlertAction, AlertLink, IngestError, MAX_ALERTS, MAX_TEXT, MAX_TITLE, NormalizedAlert, Object,
    bounded, join, labels_hash, opt_str, parse_json, parse_timestamp, string_map, truncate,
};

/// Parses an Alertmanager webhook body into one alert per entry of `alerts`.
pub fn parse(body: &[u8]) -> Result<Vec<NormalizedAlert>, IngestError> {
    parse_with(body, |_, _, _, _| Ok(()))
}

/// The Alertmanager parse, then `extend(root, alert_object, alert_path, &mut alert)` on every
/// alert, so a dialect can read its own fields from the same objects. `alert_path` is
/// `alerts[i]`, for naming fields in errors.
pub(super) fn parse_with<F>(body: &[u8], extend: F) -> Result<Vec<NormalizedAlert>, IngestError>
where
    F: Fn(&Object, &Object, &str, &mut NormalizedAlert) -> Result<(), IngestError>,
{
    let value = parse_json(body)?;
    let root = value
        .as_object()
        .ok_or_else(|| IngestError::new("body", "must be a JSON object"))?;
    let alerts = match root.get("alerts") {
        None | Some(Value::Null) => return Err(IngestError::new("alerts", "is required")),
        Some(Value::Array(alerts)) => alerts,
        Some(_) => return Err(IngestError::new("alerts", "must be an array")),
    };
    if alerts.len() > MAX_ALERTS {
        return Err(IngestError::new(
            "alerts",
            format!(
                "at most {MAX_ALERTS} alerts per request, got {}",
                alerts.len()
            ),
        ));
    }

    let group_labels = string_map(root.get("groupLabels"), "groupLabels")?;
    let common_labels = string_map(root.get("commonLabels"), "commonLabels")?;
    let common_annotations = string_map(root.get("commonAnnotations"), "commonAnnotations")?;
    let group_key = match opt_str(root, "groupKey", "")? {
        Some(key) if !key.is_empty() => Some(key.to_owned()),
        _ => derived_group_key(&group_labels),
    };
    let group_title = group_title(&group_labels, &common_labels, &common_annotations);

    let mut out = Vec::with_capacity(alerts.len());
    for (i, alert) in alerts.iter().enumerate() {
        let path = format!("alerts[{i}]");
        let obj = alert
            .as_object()
            .ok_or_else(|| IngestError::new(path.clone(), "must be an object"))?;
        let mut parsed = parse_alert(obj, &path)?;
        parsed.group_key = group_key.clone();
        parsed.group_title = group_title.clone();
        extend(root, obj, &path, &mut parsed)?;
        out.push(parsed);
    }
    Ok(out)
}

fn parse_alert(obj: &Object, path: &str) -> Result<NormalizedAlert, IngestError> {
    let status_field = join(path, "status");
    let action = match opt_str(obj, "status", path)? {
        None => return Err(IngestError::new(status_field, "is required")),
        Some("firing") => AlertAction::Trigger,
        Some("resolved") => AlertAction::Resolve,
        Some(other) => {
            return Err(IngestError::new(
                status_field,
                format!("must be \"firing\" or \"resolved\", got {other:?}"),
            ));
        }
    };
    let labels_field = join(path, "labels");
    let labels = match obj.get("labels") {
        None | Some(Value::Null) => return Err(IngestError::new(labels_field, "is required")),
        labels => string_map(labels, &labels_field)?,
    };
    let annotations = string_map(obj.get("annotations"), &join(path, "annotations"))?;

    let fingerprint = match opt_str(obj, "fingerprint", path)? {
        Some(fp) if !fp.is_empty() => fp.to_owned(),
        _ => labels_hash(&labels),
    };
    let title = non_empty(&annotations, "summary")
        .or_else(|| non_empty(&labels, "alertname"))
        .unwrap_or("alert");
    let generator_url = opt_str(obj, "generatorURL", path)?
        .filter(|url| !url.is_empty())
        .map(str::to_owned);

    let mut links = Vec::new();
    if let Some(runbook) = non_empty(&annotations, "runbook_url") {
        links.push(link(runbook, "runbook"));
    }
    if let Some(url) = &generator_url {
        links.push(link(url, "source"));
    }

    Ok(NormalizedAlert {
        group_key: None,
        fingerprint,
        action,
        title: truncate(title, MAX_TITLE),
        group_title: None,
        description: non_empty(&annotations, "description").map(|d| truncate(d, MAX_TEXT)),
        severity: None,
        starts_at: parse_timestamp(obj.get("startsAt"), &join(path, "startsAt"))?,
        ends_at: parse_timestamp(obj.get("endsAt"), &join(path, "endsAt"))?,
        labels: bounded(&labels),
        annotations: bounded(&annotations),
        generator_url,
        links,
        source: None,
    })
}

pub(super) fn link(href: &str, text: &str) -> AlertLink {
    AlertLink {
        href: href.to_owned(),
        text: text.to_owned(),
    }
}

fn non_empty<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// Alertmanager's own format for a root-route group (`{}:{a="x", b="y"}`, labels sorted), so a
/// sender that leaves `groupKey` out still lands in one stable group.
fn derived_group_key(group_labels: &BTreeMap<String, String>) -> Option<String> {
    if group_labels.is_empty() {
        return None;
    }
    let pairs: Vec<String> = group_labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    Some(format!("{{}}:{{{}}}", pairs.join(", ")))
}

/// The common summary when every alert shares one, else `Name (label=value, ...)` from the
/// grouping labels: what the group is about without any single alert's details.
fn group_title(
    group_labels: &BTreeMap<String, String>,
    common_labels: &BTreeMap<String, String>,
    common_annotations: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(summary) = non_empty(common_annotations, "summary") {
        return Some(truncate(summary, MAX_TITLE));
    }
    let name =
        non_empty(group_labels, "alertname").or_else(|| non_empty(common_labels, "alertname"));
    let others: Vec<String> = group_labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let title = match (name, others.is_empty()) {
        (None, true) => return None,
        (Some(name), true) => name.to_owned(),
        (Some(name), false) => format!("{name} ({})", others.join(", ")),
        (None, false) => others.join(", "),
    };
    Some(truncate(&title, MAX_TITLE))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::ingest::MAX_LABELS;

    const F01: &str =
        include_str!("../../tests/fixtures/alertmanager-webhook/01-firing-2-alerts.json");
    const F02: &str =
        include_str!("../../tests/fixtures/alertmanager-webhook/02-one-resolved-one-firing.json");
    const F03: &str =
        include_str!("../../tests/fixtures/alertmanager-webhook/03-all-resolved.json");
    const F04: &str = include_str!(
        "../../tests/fixtures/alertmanager-webhook/04-max_alerts-2-truncatedAlerts-1.json"
    );
    const F05: &str =
        include_str!("../../tests/fixtures/alertmanager-webhook/05-amtool-added-alert-first.json");
    const F06: &str = include_str!(
        "../../tests/fixtures/alertmanager-webhook/06-repeat_interval-resend-identical.json"
    );
    const F07: &str =
        include_str!("../../tests/fixtures/alertmanager-webhook/07-amtool-resolved.json");
    const F08: &str = include_str!(
        "../../tests/fixtures/alertmanager-webhook/08-send_resolved-false-firing-only.json"
    );

    const HIGH_ERROR_KEY: &str = r#"{}:{alertname="HighErrorRate", scenario="webhook"}"#;
    const CERT_KEY: &str = r#"{}/{scenario="repeat"}:{alertname="CertExpiry", scenario="repeat"}"#;

    fn ok(body: &str) -> Vec<NormalizedAlert> {
        parse(body.as_bytes()).expect("parses")
    }

    fn err(body: &str) -> IngestError {
        parse(body.as_bytes()).expect_err("refused")
    }

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(text.parse().expect("timestamp"))
    }

    /// Body, `(fingerprint, action)` per alert, group key, group title.
    type Capture = (
        &'static str,
        &'static [(&'static str, AlertAction)],
        &'static str,
        &'static str,
    );

    #[test]
    fn every_capture_parses_to_its_alerts() {
        use AlertAction::{Resolve, Trigger};
        let trunc_key = r#"{}/{scenario="trunc"}:{alertname="DiskFull", scenario="trunc"}"#;
        let noresolve_key =
            r#"{}/{scenario="noresolve"}:{alertname="Flappy", scenario="noresolve"}"#;
        let cases: [Capture; 8] = [
            (
                F01,
                &[("87c73a3cfbdf1098", Trigger), ("b2fe236da1f54cab", Trigger)],
                HIGH_ERROR_KEY,
                "HighErrorRate (scenario=webhook)",
            ),
            (
                F02,
                &[("87c73a3cfbdf1098", Resolve), ("b2fe236da1f54cab", Trigger)],
                HIGH_ERROR_KEY,
                "HighErrorRate (scenario=webhook)",
            ),
            (
                F03,
                &[("b2fe236da1f54cab", Resolve)],
                HIGH_ERROR_KEY,
                "5xx rate above 5% on web-2",
            ),
            // truncatedAlerts: 1 changes nothing: two firing alerts, no resolve invented.
            (
                F04,
                &[("72921a3fa0398663", Trigger), ("e46b0e1e32a4551e", Trigger)],
                trunc_key,
                "DiskFull (scenario=trunc)",
            ),
            (
                F05,
                &[("4f5109cb8eb1651c", Trigger)],
                CERT_KEY,
                "TLS cert expires in 3d",
            ),
            (
                F06,
                &[("4f5109cb8eb1651c", Trigger)],
                CERT_KEY,
                "TLS cert expires in 3d",
            ),
            (
                F07,
                &[("4f5109cb8eb1651c", Resolve)],
                CERT_KEY,
                "TLS cert expires in 3d",
            ),
            (
                F08,
                &[("0dde2cb29ff6ac04", Trigger)],
                noresolve_key,
                "noresolve test",
            ),
        ];
        for (body, expected, key, group_title) in cases {
            let alerts = ok(body);
            let got: Vec<(&str, AlertAction)> = alerts
                .iter()
                .map(|a| (a.fingerprint.as_str(), a.action))
                .collect();
            assert_eq!(got, expected);
            for a in &alerts {
                assert_eq!(a.group_key.as_deref(), Some(key));
                assert_eq!(a.group_title.as_deref(), Some(group_title));
                assert_eq!(a.severity, None);
                assert_eq!(a.source, None);
                assert!(a.starts_at.is_some());
                assert_eq!(
                    a.ends_at.is_none(),
                    a.action == Trigger,
                    "{}",
                    a.fingerprint
                );
            }
        }
    }

    #[test]
    fn firing_group_maps_every_field() {
        let alerts = ok(F01);
        let a = &alerts[0];
        assert_eq!(a.title, "5xx rate above 5% on web-1");
        assert_eq!(a.description, None);
        assert_eq!(
            a.labels.get("severity").map(String::as_str),
            Some("critical")
        );
        assert_eq!(a.labels.len(), 6);
        assert_eq!(a.annotations.len(), 2);
        // Nanoseconds cut to microseconds; the zero-time endsAt is "not ended".
        assert_eq!(a.starts_at, at("2026-11-22T03:19:42.824140Z"));
        assert_eq!(a.ends_at, None);
        assert_eq!(
            a.generator_url.as_deref(),
            Some("http://prometheus.example/graph?g0.expr=rate")
        );
        assert_eq!(
            a.links,
            vec![
                link("http://runbooks.example/HighErrorRate", "runbook"),
                link("http://prometheus.example/graph?g0.expr=rate", "source"),
            ]
        );
        let b = &alerts[1];
        assert_eq!(b.title, "5xx rate above 5% on web-2");
        assert_eq!(b.generator_url, None);
        assert!(b.links.is_empty());
    }

    #[test]
    fn resolved_alerts_carry_their_end() {
        assert_eq!(ok(F02)[0].ends_at, at("2026-11-22T03:19:55.340Z"));
        assert_eq!(ok(F07)[0].ends_at, at("2026-11-22T03:25:00Z"));
    }

    #[test]
    fn identical_resend_parses_identically() {
        assert_eq!(F05, F06);
        assert_eq!(ok(F05), ok(F06));
        assert_eq!(ok(F05), ok(F05));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let firing = r#""status": "firing", "labels": {"alertname": "A"}"#;
        let cases = [
            ("not json".to_owned(), "body"),
            ("[1, 2]".to_owned(), "body"),
            ("{}".to_owned(), "alerts"),
            (r#"{"alerts": null}"#.to_owned(), "alerts"),
            (r#"{"alerts": {"a": 1}}"#.to_owned(), "alerts"),
            (r#"{"alerts": ["x"]}"#.to_owned(), "alerts[0]"),
            (
                r#"{"alerts": [{"labels": {}}]}"#.to_owned(),
                "alerts[0].status",
            ),
            (
                r#"{"alerts": [{"status": 1, "labels": {}}]}"#.to_owned(),
                "alerts[0].status",
            ),
            (
                r#"{"alerts": [{"status": "pending", "labels": {}}]}"#.to_owned(),
                "alerts[0].status",
            ),
            (
                r#"{"alerts": [{"status": "firing"}]}"#.to_owned(),
                "alerts[0].labels",
            ),
            (
                r#"{"alerts": [{"status": "firing", "labels": ["a"]}]}"#.to_owned(),
                "alerts[0].labels",
            ),
            (
                format!(
                    r#"{{"alerts": [{{{firing}}}, {{"status": "firing", "labels": {{"severity": 2}}}}]}}"#
                ),
                "alerts[1].labels.severity",
            ),
            (
                format!(r#"{{"alerts": [{{{firing}, "annotations": {{"summary": null}}}}]}}"#),
                "alerts[0].annotations.summary",
            ),
            (
                format!(r#"{{"alerts": [{{{firing}, "startsAt": "yesterday"}}]}}"#),
                "alerts[0].startsAt",
            ),
            (
                format!(r#"{{"alerts": [{{{firing}, "endsAt": 17}}]}}"#),
                "alerts[0].endsAt",
            ),
            (
                format!(r#"{{"alerts": [{{{firing}, "fingerprint": 7}}]}}"#),
                "alerts[0].fingerprint",
            ),
            (
                format!(r#"{{"groupLabels": {{"a": true}}, "alerts": [{{{firing}}}]}}"#),
                "groupLabels.a",
            ),
            (
                format!(r#"{{"groupKey": 3, "alerts": [{{{firing}}}]}}"#),
                "groupKey",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(err(&body).field, field, "{body}");
        }
        assert_eq!(err("{}").message, "is required");
        assert!(err("{\"alerts\": [").message.contains("EOF"));
        assert!(
            err(r#"{"alerts": [{"status": "pending", "labels": {}}]}"#)
                .message
                .contains("\"pending\"")
        );
    }

    #[test]
    fn alert_count_is_bounded() {
        let body = |n: usize| {
            let one = r#"{"status": "firing", "labels": {"alertname": "A"}}"#;
            format!(r#"{{"alerts": [{}]}}"#, vec![one; n].join(","))
        };
        assert_eq!(ok(&body(MAX_ALERTS)).len(), MAX_ALERTS);
        assert_eq!(err(&body(MAX_ALERTS + 1)).field, "alerts");
        assert!(ok(r#"{"alerts": []}"#).is_empty());
    }

    #[test]
    fn long_text_and_many_labels_are_cut() {
        let labels: Vec<String> = (0..MAX_LABELS + 6)
            .map(|i| format!(r#""l{i:03}": "v""#))
            .collect();
        let body = format!(
            r#"{{"alerts": [{{"status": "firing", "labels": {{{}, "zz": "{}"}},
                "annotations": {{"summary": "{}", "description": "{}"}}}}]}}"#,
            labels.join(","),
            "v".repeat(MAX_TEXT + 10),
            "s".repeat(MAX_TITLE + 100),
            "d".repeat(MAX_TEXT + 1),
        );
        let a = &ok(&body)[0];
        assert_eq!(a.title.chars().count(), MAX_TITLE);
        assert!(a.title.ends_with('…'));
        assert_eq!(
            a.description.as_ref().map(|d| d.chars().count()),
            Some(MAX_TEXT)
        );
        assert_eq!(a.labels.len(), MAX_LABELS);
        // The cut keeps the first keys in order, and the fingerprint still sees every label.
        assert!(a.labels.contains_key("l000") && !a.labels.contains_key("zz"));
        let fewer = body.replace(r#""l069": "v","#, "");
        assert_ne!(ok(&fewer)[0].fingerprint, a.fingerprint);
    }

    #[test]
    fn unknown_fields_are_accepted() {
        let body = r#"{"version": "4", "notification_reason": "new", "routeLabels": {"x": 1},
            "future": [1, {"a": null}], "groupKey": "k",
            "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "extra": {"b": 2}}]}"#;
        assert_eq!(ok(body)[0].title, "A");
    }

    #[test]
    fn missing_optional_fields_have_stable_fallbacks() {
        let body = |labels: &str| {
            format!(
                r#"{{"groupLabels": {{"b": "y", "alertname": "A"}}, "alerts": [{{"status": "resolved", "labels": {labels}}}]}}"#
            )
        };
        let a = &ok(&body(r#"{"alertname": "A", "b": "y"}"#))[0];
        assert_eq!(a.group_key.as_deref(), Some(r#"{}:{alertname="A", b="y"}"#));
        assert_eq!(a.group_title.as_deref(), Some("A (b=y)"));
        assert_eq!(a.title, "A");
        assert_eq!((a.starts_at, a.ends_at), (None, None));
        assert_eq!(a.fingerprint.len(), 64);
        assert_eq!(
            ok(&body(r#"{"b": "y", "alertname": "A"}"#))[0].fingerprint,
            a.fingerprint
        );
        assert_ne!(
            ok(&body(r#"{"alertname": "A", "b": "z"}"#))[0].fingerprint,
            a.fingerprint
        );

        let bare = &ok(
            r#"{"groupKey": "", "alerts": [{"status": "firing", "labels": {}, "fingerprint": ""}]}"#,
        )[0];
        assert_eq!(
            (bare.group_key.as_deref(), bare.group_title.as_deref()),
            (None, None)
        );
        assert_eq!(bare.title, "alert");
        assert_eq!(bare.fingerprint, labels_hash(&BTreeMap::new()));
    }

    #[test]
    fn timestamps_are_converted_to_utc() {
        let body = r#"{"alerts": [{"status": "resolved", "labels": {},
            "startsAt": "2021-10-12T09:51:03.157076999+02:00", "endsAt": "0001-01-01T00:00:00.000Z"}]}"#;
        let a = &ok(body)[0];
        assert_eq!(a.starts_at, at("2021-10-12T07:51:03.157076Z"));
        assert_eq!(a.ends_at, None);
    }
}
