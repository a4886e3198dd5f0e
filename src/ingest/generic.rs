//! Lookout's own generic JSON webhook, for scripts and tools without a dedicated format:
//!
//! ```json
//! {"title": "Disk full on db-1", "severity": "P1", "dedup_key": "disk-db-1",
//!  "status": "firing", "description": "...", "labels": {"team": "db"}, "source": "db-1"}
//! ```
//!
//! Only `title` is required. A client sends one such object, or an array of them (`curl` from a
//! cron job, a CI step). Without a `dedup_key` the alert is identified by its title
//! ([`title_key`]), so re-sending the same title lands on the same incident.

use serde_json::Value;

use super::{
    AlertAction, IngestError, MAX_ALERTS, MAX_TEXT, MAX_TITLE, NormalizedAlert, Object, bounded,
    join, opt_str, parse_json, string_map, truncate,
};
use crate::domain::severity::Severity;

pub const MAX_DEDUP_KEY: usize = 255;

/// Parses one alert object or an array of them.
pub fn parse(body: &[u8]) -> Result<Vec<NormalizedAlert>, IngestError> {
    match parse_json(body)? {
        Value::Object(obj) => Ok(vec![parse_one(&obj, "")?]),
        Value::Array(items) => {
            if items.len() > MAX_ALERTS {
                return Err(IngestError::new(
                    "body",
                    format!(
                        "at most {MAX_ALERTS} alerts per request, got {}",
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let path = format!("[{i}]");
                    let obj = item
                        .as_object()
                        .ok_or_else(|| IngestError::new(path.clone(), "must be an object"))?;
                    parse_one(obj, &path)
                })
                .collect()
        }
        _ => Err(IngestError::new(
            "body",
            "must be a JSON object or an array of objects",
        )),
    }
}

/// The key for an alert known only by its title: lowercase hex SHA-256 of the trimmed title.
/// The service derives the same key, so both agree on which alerts are "the same".
pub fn title_key(title: &str) -> String {
    crate::crypto::sha256_hex(title.trim())
}

fn parse_one(obj: &Object, path: &str) -> Result<NormalizedAlert, IngestError> {
    let title = match opt_str(obj, "title", path)? {
        None => return Err(IngestError::new(join(path, "title"), "is required")),
        Some(t) if t.trim().is_empty() => {
            return Err(IngestError::new(join(path, "title"), "must not be empty"));
        }
        Some(t) => truncate(t.trim(), MAX_TITLE),
    };
    let severity = opt_str(obj, "severity", path)?;
    if let Some(word) = severity
        && word.parse::<Severity>().is_err()
    {
        return Err(IngestError::new(
            join(path, "severity"),
            format!("must be one of P0, P1, P2, P3, got {word:?}"),
        ));
    }
    let action = match opt_str(obj, "status", path)? {
        None | Some("firing") => AlertAction::Trigger,
        Some("resolved") => AlertAction::Resolve,
        Some(other) => {
            return Err(IngestError::new(
                join(path, "status"),
                format!("must be \"firing\" or \"resolved\", got {other:?}"),
            ));
        }
    };
    let dedup_key = match opt_str(obj, "dedup_key", path)? {
        Some("") => {
            return Err(IngestError::new(
                join(path, "dedup_key"),
                "must not be empty",
            ));
        }
        Some(key) if key.chars().count() > MAX_DEDUP_KEY => {
            return Err(IngestError::new(
                join(path, "dedup_key"),
                format!("must be at most {MAX_DEDUP_KEY} characters"),
            ));
        }
        key => key.map(str::to_owned),
    };
    let labels = string_map(obj.get("labels"), &join(path, "labels"))?;
    let description = opt_str(obj, "description", path)?
        .filter(|d| !d.trim().is_empty())
        .map(|d| truncate(d, MAX_TEXT));
    let source = opt_str(obj, "source", path)?
        .filter(|s| !s.trim().is_empty())
        .map(|s| truncate(s, MAX_TITLE));

    // From the stored (cut) title: that is the only title the service will ever see.
    let fingerprint = dedup_key.clone().unwrap_or_else(|| title_key(&title));
    let mut alert = NormalizedAlert::firing(&title, &fingerprint);
    alert.group_key = dedup_key;
    alert.action = action;
    alert.severity = severity.map(str::to_owned);
    alert.description = description;
    alert.labels = bounded(&labels);
    alert.source = source;
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Vec<NormalizedAlert> {
        parse(body.as_bytes()).expect("parses")
    }

    fn field(body: &str) -> String {
        parse(body.as_bytes()).expect_err("refused").field
    }

    #[test]
    fn single_object_maps_every_field() {
        let alerts = ok(
            r#"{"title": " Disk full on db-1 ", "severity": "p1", "dedup_key": "disk-db-1",
            "status": "resolved", "description": "95%", "labels": {"team": "db"}, "source": "db-1",
            "unknown": {"ignored": true}}"#,
        );
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.title, "Disk full on db-1");
        assert_eq!(a.severity.as_deref(), Some("p1"));
        assert_eq!(
            (a.group_key.as_deref(), a.fingerprint.as_str()),
            (Some("disk-db-1"), "disk-db-1")
        );
        assert_eq!(a.action, AlertAction::Resolve);
        assert_eq!(a.description.as_deref(), Some("95%"));
        assert_eq!(a.labels.get("team").map(String::as_str), Some("db"));
        assert_eq!(a.source.as_deref(), Some("db-1"));
        assert!(a.annotations.is_empty() && a.links.is_empty());
        assert_eq!(
            (a.starts_at, a.ends_at, a.group_title.as_deref()),
            (None, None, None)
        );
    }

    #[test]
    fn array_of_objects() {
        let alerts =
            ok(r#"[{"title": "a"}, {"title": "b", "status": "firing", "severity": "P0"}]"#);
        let titles: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
        assert!(
            alerts
                .iter()
                .all(|a| a.action == AlertAction::Trigger && a.group_key.is_none())
        );
        assert_eq!(alerts[0].fingerprint, title_key("a"));
        assert_eq!(alerts[0].severity, None);
        assert!(ok("[]").is_empty());
        let many = format!("[{}]", vec![r#"{"title": "t"}"#; MAX_ALERTS + 1].join(","));
        assert_eq!(field(&many), "body");
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases = [
            ("nope", "body"),
            (r#""title""#, "body"),
            ("{}", "title"),
            (r#"{"title": "  "}"#, "title"),
            (r#"{"title": 1}"#, "title"),
            (
                r#"[{"title": "a"}, {"title": "b"}, {"title": "c"}, {"severity": "P1"}]"#,
                "[3].title",
            ),
            (r#"[{"title": "a"}, 7]"#, "[1]"),
            (r#"{"title": "t", "severity": "P7"}"#, "severity"),
            (r#"[{"title": "t", "severity": 1}]"#, "[0].severity"),
            (r#"{"title": "t", "status": "acknowledged"}"#, "status"),
            (r#"{"title": "t", "labels": ["a"]}"#, "labels"),
            (
                r#"[{"title": "t", "labels": {"team": 1}}]"#,
                "[0].labels.team",
            ),
            (r#"{"title": "t", "dedup_key": ""}"#, "dedup_key"),
            (r#"{"title": "t", "dedup_key": 5}"#, "dedup_key"),
            (r#"{"title": "t", "description": false}"#, "description"),
            (r#"{"title": "t", "source": {}}"#, "source"),
        ];
        for (body, expected) in cases {
            assert_eq!(field(body), expected, "{body}");
        }
        let long = format!(
            r#"{{"title": "t", "dedup_key": "{}"}}"#,
            "k".repeat(MAX_DEDUP_KEY + 1)
        );
        assert_eq!(field(&long), "dedup_key");
        let max = format!(
            r#"{{"title": "t", "dedup_key": "{}"}}"#,
            "k".repeat(MAX_DEDUP_KEY)
        );
        assert_eq!(ok(&max)[0].fingerprint.len(), MAX_DEDUP_KEY);
    }

    #[test]
    fn title_key_is_stable_and_trimmed() {
        assert_eq!(
            title_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(title_key("  abc\n"), title_key("abc"));
        assert_ne!(title_key("Abc"), title_key("abc"));
    }

    #[test]
    fn long_title_is_cut_and_keyed_on_the_cut() {
        let a = &ok(&format!(r#"{{"title": "{}"}}"#, "x".repeat(MAX_TITLE * 2)))[0];
        assert_eq!(a.title.chars().count(), MAX_TITLE);
        assert!(a.title.ends_with('…'));
        assert_eq!(a.fingerprint, title_key(&a.title));
    }
}
