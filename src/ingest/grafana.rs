//! Grafana alerting's webhook contact point (`version: "1"`).
//!
//! Grafana's alertmanager sends the Alertmanager webhook shape plus its own fields: top level
//! `orgId`, `title` (e.g. `[FIRING:1] name (labels)`), `state`, `message`; per alert
//! `silenceURL`, `dashboardURL`, `panelURL`, `values` (may be `null`) and `valueString`. Its
//! `startsAt` carries the server's local offset. With a secret configured it signs the body:
//! `X-Grafana-Alerting-Signature` is the hex HMAC-SHA256 of the body ([`verify_signature`]).
//!
//! Parsing is Alertmanager's ([`super::alertmanager::parse_with`]); this module only reads the
//! extra fields.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::alertmanager::{link, parse_with};
use super::{IngestError, MAX_TEXT, MAX_TITLE, NormalizedAlert, Object, opt_str, truncate};
use crate::crypto::constant_time_eq;

/// Parses a Grafana webhook body into one alert per entry of `alerts`.
pub fn parse(body: &[u8]) -> Result<Vec<NormalizedAlert>, IngestError> {
    parse_with(body, extend)
}

fn extend(
    root: &Object,
    obj: &Object,
    path: &str,
    alert: &mut NormalizedAlert,
) -> Result<(), IngestError> {
    // Last resort only: the title embeds the state and count (`[FIRING:2]`), so it changes
    // between notifications of the same group.
    if alert.group_title.is_none()
        && let Some(title) = opt_str(root, "title", "")?.filter(|t| !t.trim().is_empty())
    {
        alert.group_title = Some(truncate(title, MAX_TITLE));
    }
    for (key, text) in [
        ("dashboardURL", "dashboard"),
        ("panelURL", "panel"),
        ("silenceURL", "silence"),
    ] {
        if let Some(href) = opt_str(obj, key, path)?.filter(|h| !h.is_empty()) {
            alert.links.push(link(href, text));
        }
    }
    if alert.description.is_none()
        && let Some(values) = opt_str(obj, "valueString", path)?.filter(|v| !v.trim().is_empty())
    {
        alert.description = Some(truncate(values, MAX_TEXT));
    }
    Ok(())
}

/// Whether `header` (`X-Grafana-Alerting-Signature`) is the HMAC-SHA256 of `body` under
/// `secret`, as hex in either case. An empty secret verifies nothing: anyone could sign with it.
pub fn verify_signature(body: &[u8], secret: &str, header: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(given) = decode_hex(header) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    constant_time_eq(&mac.finalize().into_bytes(), &given)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::AlertAction;

    const DOCS: &str = include_str!("../../tests/fixtures/grafana/01-firing-docs-example.json");

    fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn docs_example_parses() {
        let alerts = parse(DOCS.as_bytes()).expect("parses");
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.fingerprint, "c6eadffa33fcdf37");
        assert_eq!(
            a.group_key.as_deref(),
            Some(r#"{}:{alertname="High memory usage"}"#)
        );
        assert_eq!(a.action, AlertAction::Trigger);
        assert_eq!(a.title, "This alert was triggered for zone us-1");
        assert_eq!(
            a.description.as_deref(),
            Some("The system has high memory usage")
        );
        // No common summary, no alertname among the group or common labels: Grafana's title.
        assert_eq!(a.group_title.as_deref(), Some("[FIRING:1]  (blue)"));
        assert_eq!(
            a.starts_at,
            Some("2021-10-12T07:51:03.157076Z".parse().expect("ts"))
        );
        assert_eq!(a.ends_at, None);
        assert_eq!(a.labels.get("team").map(String::as_str), Some("blue"));
        let texts: Vec<&str> = a.links.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["source", "silence"]);
        assert!(
            a.links[1]
                .href
                .starts_with("https://play.grafana.org/alerting/silence/new")
        );
    }

    #[test]
    fn grafana_extras_fill_gaps_only() {
        let body = |annotations: &str, common: &str| {
            format!(
                r#"{{"version": "1", "title": "[FIRING:1] A", "commonAnnotations": {common},
                "groupLabels": {{}}, "alerts": [{{"status": "firing", "labels": {{}},
                "annotations": {annotations}, "values": null, "valueString": "[ var='B' value=3 ]",
                "dashboardURL": "http://g/d", "panelURL": "http://g/p", "silenceURL": ""}}]}}"#
            )
        };
        let a = &parse(body("{}", "{}").as_bytes()).expect("parses")[0];
        assert_eq!(a.description.as_deref(), Some("[ var='B' value=3 ]"));
        assert_eq!(a.group_title.as_deref(), Some("[FIRING:1] A"));
        let texts: Vec<&str> = a.links.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["dashboard", "panel"]);

        let b = &parse(body(r#"{"description": "d"}"#, r#"{"summary": "s"}"#).as_bytes())
            .expect("parses")[0];
        assert_eq!(b.description.as_deref(), Some("d"));
        assert_eq!(b.group_title.as_deref(), Some("s"));
    }

    #[test]
    fn grafana_fields_are_checked() {
        let body = r#"{"alerts": [{"status": "firing", "labels": {}, "dashboardURL": 5}]}"#;
        let e = parse(body.as_bytes()).expect_err("refused");
        assert_eq!(e.field, "alerts[0].dashboardURL");
        let body = r#"{"title": [], "alerts": [{"status": "firing", "labels": {}}]}"#;
        assert_eq!(parse(body.as_bytes()).expect_err("refused").field, "title");
        assert_eq!(parse(b"{").expect_err("refused").field, "body");
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        let body = DOCS.as_bytes();
        let header = sign(body, "s3cret");
        assert!(verify_signature(body, "s3cret", &header));
        assert!(verify_signature(body, "s3cret", &header.to_uppercase()));
        // RFC 4231 test case 2.
        let rfc = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(verify_signature(
            b"what do ya want for nothing?",
            "Jefe",
            rfc
        ));
    }

    #[test]
    fn bad_signatures_fail() {
        let body = DOCS.as_bytes();
        let header = sign(body, "s3cret");
        assert!(!verify_signature(body, "other", &header));
        assert!(!verify_signature(b"{}", "s3cret", &header));
        assert!(!verify_signature(body, "s3cret", &header[..62]));
        assert!(!verify_signature(body, "s3cret", &format!("{header}00")));
        assert!(!verify_signature(
            body,
            "s3cret",
            &format!("sha256={}", &header[7..])
        ));
        assert!(!verify_signature(
            body,
            "s3cret",
            &format!("zz{}", &header[2..])
        ));
        assert!(!verify_signature(
            body,
            "s3cret",
            &format!("+f{}", &header[2..])
        ));
        assert!(!verify_signature(body, "s3cret", ""));
        assert!(!verify_signature(body, "", &sign(body, "")));
    }
}
