//! How a person is reached when paged: contact methods (the account e-mail, more addresses,
//! outbound webhooks) and notification rules (which method, how long after the page).

use std::fmt;

use crate::domain::user::Email;
use crate::domain::validation::bounded_text;

/// Longest wait a rule may have: beyond a day a page is history, not a reminder.
pub const MAX_DELAY_MINUTES: i32 = 24 * 60;
/// Enough for everyone's phone, pager gateway and chat hook, few enough to keep a page's fan-out
/// small.
pub const MAX_METHODS: usize = 10;
pub const MAX_RULES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    Webhook,
}

impl ContactKind {
    pub fn parse(raw: &str) -> Result<ContactKind, String> {
        match raw.trim() {
            "email" => Ok(ContactKind::Email),
            "webhook" => Ok(ContactKind::Webhook),
            other => Err(format!(
                "'{other}' is not a kind of contact: email or webhook"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Webhook => "webhook",
        }
    }

    /// For people: "e-mail", "webhook".
    pub fn label(self) -> &'static str {
        match self {
            ContactKind::Email => "e-mail",
            ContactKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for ContactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An http(s) address Lookout may post to. Empty input is `None`.
pub fn webhook_url(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > 2000 {
        return Err("at most 2000 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("'{raw}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("use an http:// or https:// address".into());
    }
    Ok(Some(url.to_string()))
}

/// The address of a new contact method, normalised for its kind.
pub fn contact_address(kind: ContactKind, raw: &str) -> Result<String, String> {
    match kind {
        ContactKind::Email => Email::parse(raw).map(|e| e.as_str().to_owned()),
        ContactKind::Webhook => webhook_url(raw)?.ok_or_else(|| "an address is required".into()),
    }
}

/// A short name for a method ("phone gateway"); optional.
pub fn contact_label(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    bounded_text(raw, "the label", 60)
}

pub fn rule_delay(minutes: i64) -> Result<i32, String> {
    if (0..=i64::from(MAX_DELAY_MINUTES)).contains(&minutes) {
        i32::try_from(minutes).map_err(|_| "out of range".to_owned())
    } else {
        Err(format!(
            "the delay is 0 (at once) to {MAX_DELAY_MINUTES} minutes"
        ))
    }
}

/// "at once", "after 5 min", for rules on pages and in mail.
pub fn delay_text(minutes: i32) -> String {
    if minutes == 0 {
        "at once".into()
    } else {
        format!(
            "after {} if still unacknowledged",
            crate::domain::escalation::minutes_text(i64::from(minutes))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print_back() {
        for kind in [ContactKind::Email, ContactKind::Webhook] {
            assert_eq!(ContactKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(ContactKind::parse("sms").is_err());
    }

    #[test]
    fn addresses_are_checked_for_their_kind() {
        assert_eq!(
            contact_address(ContactKind::Email, " Ana@Example.ORG ").as_deref(),
            Ok("ana@example.org")
        );
        assert!(contact_address(ContactKind::Email, "not-an-address").is_err());
        assert_eq!(
            contact_address(ContactKind::Webhook, "https://hooks.example.org/page").as_deref(),
            Ok("https://hooks.example.org/page")
        );
        assert!(contact_address(ContactKind::Webhook, "ftp://example.org/").is_err());
        assert!(contact_address(ContactKind::Webhook, "").is_err());
        assert!(contact_address(ContactKind::Webhook, "https://").is_err());
    }

    #[test]
    fn delays_run_from_zero_to_a_day() {
        assert_eq!(rule_delay(0), Ok(0));
        assert_eq!(rule_delay(1440), Ok(1440));
        assert!(rule_delay(-1).is_err());
        assert!(rule_delay(1441).is_err());
        assert_eq!(delay_text(0), "at once");
        assert!(delay_text(5).starts_with("after 5 min"));
    }

    #[test]
    fn labels_are_optional_but_bounded() {
        assert_eq!(contact_label("  "), Ok(String::new()));
        assert_eq!(contact_label(" phone ").as_deref(), Ok("phone"));
        assert!(contact_label(&"x".repeat(61)).is_err());
    }
}
