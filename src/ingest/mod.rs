//! Webhook bodies -> [`NormalizedAlert`]s. One pure parser per format: bytes in, alerts or a
//! precise error out. No I/O, no clock, no database; tested on real captured payloads
//! (`tests/fixtures/`).
//!
//! Limits applied by every parser, so a noisy sender cannot bloat the database: titles are cut
//! to [`MAX_TITLE`] characters, descriptions to [`MAX_TEXT`], at most [`MAX_LABELS`] labels and
//! annotations per alert with values cut to [`MAX_TEXT`], at most [`MAX_ALERTS`] alerts per
//! request. Cut text ends with `…`. Bodies over 1 MiB never reach a parser (413 before).

pub mod alertmanager;
pub mod generic;
pub mod grafana;
pub mod pagerduty;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, SubsecRound, Utc};
use serde_json::{Map, Value};

pub use crate::domain::alert::{AlertAction, AlertLink, NormalizedAlert};

pub const MAX_TITLE: usize = 500;
pub const MAX_TEXT: usize = 4000;
pub const MAX_LABELS: usize = 64;
pub const MAX_ALERTS: usize = 1000;
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a body was refused: which field, and what is wrong with it. Becomes a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct IngestError {
    /// A JSON path such as `alerts[2].status`, or `body` for the whole thing.
    pub field: String,
    pub message: String,
}

impl IngestError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A JSON object, as the parsers walk it.
pub(crate) type Object = Map<String, Value>;

/// The body as JSON, or an error on `body` carrying serde_json's own message (it names the
/// line and column, which is what a sender needs to fix it).
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, IngestError> {
    serde_json::from_slice(body).map_err(|e| IngestError::new("body", e.to_string()))
}

/// `prefix.key`, or just `key` at the top level.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// An optional string field: absent and `null` are `None`, any other non-string is an error.
pub(crate) fn opt_str<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a str>, IngestError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IngestError::new(join(prefix, key), "must be a string")),
    }
}

/// A `{"name": "value"}` object, complete and uncut (fingerprints hash all of it); absent and
/// `null` are empty. Use [`bounded`] before storing it.
pub(crate) fn string_map(
    value: Option<&Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, IngestError> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(obj)) => obj,
        Some(_) => return Err(IngestError::new(field, "must be an object")),
    };
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(IngestError::new(join(field, k), "must be a string")),
        })
        .collect()
}

/// The first [`MAX_LABELS`] entries in key order (so the cut is the same on every re-send),
/// keys cut to [`MAX_TITLE`] and values to [`MAX_TEXT`].
pub(crate) fn bounded(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.iter()
        .take(MAX_LABELS)
        .map(|(k, v)| (truncate(k, MAX_TITLE), truncate(v, MAX_TEXT)))
        .collect()
}

/// SHA-256 hex of a label set. Length prefixes keep `{"a": "bc"}` and `{"ab": "c"}` apart.
pub(crate) fn labels_hash(labels: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (k, v) in labels {
        text.push_str(&format!("{}:{k}{}:{v}", k.len(), v.len()));
    }
    crate::crypto::sha256_hex(&text)
}

/// An optional RFC 3339 timestamp, in UTC cut to microseconds (what the databases store, so a
/// re-sent alert compares equal to the stored one). Go's zero time (`0001-01-01T00:00:00Z`,
/// Alertmanager's "not ended") and empty strings are `None`.
pub(crate) fn parse_timestamp(
    value: Option<&Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, IngestError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(IngestError::new(
                field,
                "must be an RFC 3339 timestamp string",
            ));
        }
    };
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|e| IngestError::new(field, format!("is not an RFC 3339 timestamp: {e}")))?
        .with_timezone(&Utc);
    if parsed.year() <= 1 {
        return Ok(None);
    }
    Ok(Some(parsed.trunc_subsecs(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        assert_eq!(truncate("äöüäöü", 3).chars().count(), 3);
    }

    #[test]
    fn timestamps_become_utc_microseconds() {
        let ts = |s: &str| parse_timestamp(Some(&Value::from(s)), "t");
        let expected: DateTime<Utc> = "2021-10-12T07:51:03.157076Z".parse().expect("ts");
        assert_eq!(ts("2021-10-12T09:51:03.1570769+02:00"), Ok(Some(expected)));
        assert_eq!(ts("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(ts(""), Ok(None));
        assert_eq!(parse_timestamp(None, "t"), Ok(None));
        assert_eq!(
            ts("2021-10-12 09:51").map_err(|e| e.field),
            Err("t".to_owned())
        );
    }

    #[test]
    fn label_hash_separates_keys_from_values() {
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert_ne!(labels_hash(&map("a", "bc")), labels_hash(&map("ab", "c")));
        assert_eq!(labels_hash(&map("a", "b")), labels_hash(&map("a", "b")));
    }
}
