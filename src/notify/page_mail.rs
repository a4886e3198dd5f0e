//! The mail that pages a person about an incident: a plain-text part for any client and an HTML
//! part built for a phone, both from `templates/email/`.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::mail::OutgoingMail;

pub struct PageMail<'a> {
    pub incident_number: i64,
    pub title: &'a str,
    pub severity: &'a str,
    pub status: &'a str,
    pub service: &'a str,
    /// Why this person is paged now, e.g. "escalated to step 2: not acknowledged within 15 min".
    pub reason: &'a str,
    pub ack_deadline: DateTime<Utc>,
    pub resolve_deadline: DateTime<Utc>,
    pub incident_url: &'a str,
    /// One-click acknowledge link.
    pub ack_url: Option<&'a str>,
    pub runbook_url: Option<&'a str>,
    /// The recipient's, so that the deadlines read as their local time.
    pub time_zone: Tz,
}

/// What both templates show, computed once.
struct View<'a> {
    subject: String,
    incident_number: i64,
    title: &'a str,
    severity: &'a str,
    severity_colour: &'static str,
    status: &'a str,
    service: &'a str,
    reason: &'a str,
    ack_deadline: String,
    resolve_deadline: String,
    zone: &'static str,
    incident_url: &'a str,
    ack_url: Option<&'a str>,
    runbook_url: Option<&'a str>,
    /// Only http(s) runbooks become links: the value comes from service settings, and a
    /// `javascript:` link has no place in a mail.
    runbook_is_link: bool,
}

#[derive(Template)]
#[template(path = "email/page.txt")]
struct PageText<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/page.html")]
struct PageHtml<'a> {
    v: &'a View<'a>,
}

impl PageMail<'_> {
    pub fn render(&self, to: &str, message_id: &str) -> Result<OutgoingMail, askama::Error> {
        let title = self.title.trim();
        let view = View {
            subject: format!(
                "[{}] #{} {} ({})",
                self.severity, self.incident_number, title, self.status
            ),
            incident_number: self.incident_number,
            title,
            severity: self.severity,
            severity_colour: severity_colour(self.severity),
            status: self.status,
            service: self.service,
            reason: self.reason,
            ack_deadline: local_time(self.ack_deadline, self.time_zone),
            resolve_deadline: local_time(self.resolve_deadline, self.time_zone),
            zone: self.time_zone.name(),
            incident_url: self.incident_url,
            ack_url: self.ack_url,
            runbook_url: self.runbook_url,
            runbook_is_link: self
                .runbook_url
                .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")),
        };
        Ok(OutgoingMail {
            to: to.to_owned(),
            text: PageText { v: &view }.render()?,
            html: PageHtml { v: &view }.render()?,
            subject: view.subject,
            message_id: message_id.to_owned(),
        })
    }
}

/// "Tue 14 May 2024, 16:30 CEST (Europe/Berlin)": the abbreviation alone is ambiguous (IST, CST)
/// and some zones only have an offset, so the zone's name follows.
fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    let abbreviation = local.format("%Z").to_string();
    let shown = local.format("%a %-d %b %Y, %H:%M %Z");
    if abbreviation == tz.name() {
        shown.to_string()
    } else {
        format!("{shown} ({})", tz.name())
    }
}

/// The severity is always written out too; the colour only helps it stand out.
fn severity_colour(severity: &str) -> &'static str {
    match severity {
        "P0" => "#b91c1c",
        "P1" => "#c2410c",
        "P2" => "#a16207",
        _ => "#4b5563",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn page<'a>(title: &'a str) -> PageMail<'a> {
        PageMail {
            incident_number: 42,
            title,
            severity: "P0",
            status: "triggered",
            service: "Checkout",
            reason: "escalated to step 2: not acknowledged within 15 min",
            ack_deadline: Utc.with_ymd_and_hms(2024, 5, 14, 14, 30, 0).unwrap(),
            resolve_deadline: Utc.with_ymd_and_hms(2024, 5, 14, 18, 0, 0).unwrap(),
            incident_url: "https://lookout.example.com/incidents/abc",
            ack_url: Some("https://lookout.example.com/a/tok?x=1&y=2"),
            runbook_url: Some("https://wiki.example.com/runbooks/checkout"),
            time_zone: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn subject_names_severity_number_title_and_status() {
        let m = page("Checkout errors spiking")
            .render("ann@example.com", "<n1@lookout>")
            .unwrap();
        assert_eq!(m.subject, "[P0] #42 Checkout errors spiking (triggered)");
        assert_eq!(m.to, "ann@example.com");
        assert_eq!(m.message_id, "<n1@lookout>");
    }

    #[test]
    fn text_part_has_the_facts_deadlines_in_the_recipients_zone_and_links() {
        let m = page("Checkout errors spiking")
            .render("ann@example.com", "<n1@lookout>")
            .unwrap();
        let t = &m.text;
        for needle in [
            "Checkout errors spiking",
            "P0",
            "triggered",
            "Checkout",
            "escalated to step 2: not acknowledged within 15 min",
            "Tue 14 May 2024, 16:30 CEST (Europe/Berlin)",
            "Tue 14 May 2024, 20:00 CEST (Europe/Berlin)",
            "https://lookout.example.com/incidents/abc",
            "https://lookout.example.com/a/tok?x=1&y=2",
            "https://wiki.example.com/runbooks/checkout",
        ] {
            assert!(t.contains(needle), "{needle:?} missing from:\n{t}");
        }
    }

    #[test]
    fn html_part_escapes_the_title_and_has_the_acknowledge_button() {
        let m = page("<script>alert(1)</script> & more")
            .render("ann@example.com", "<n1@lookout>")
            .unwrap();
        let h = &m.html;
        assert!(!h.contains("<script>"), "{h}");
        assert!(
            h.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; more"),
            "{h}"
        );
        assert!(h.contains(">Acknowledge</a>"), "{h}");
        assert!(
            h.contains(r#"href="https://lookout.example.com/a/tok?x=1&#38;y=2""#),
            "{h}"
        );
        assert!(h.contains("16:30 CEST (Europe/Berlin)"), "{h}");
        assert!(h.contains(r#"name="viewport""#), "{h}");
        // Mail clients drop <style> blocks; every rule is inline.
        assert!(!h.contains("<style"), "{h}");
        // The plain-text part is not HTML and is not escaped.
        assert!(m.text.contains("<script>alert(1)</script> & more"));
    }

    #[test]
    fn optional_links_are_left_out_and_a_non_web_runbook_is_not_a_link() {
        let mut p = page("Disk full");
        p.ack_url = None;
        p.runbook_url = Some("javascript:alert(1)");
        let m = p.render("ann@example.com", "<n1@lookout>").unwrap();
        assert!(!m.html.contains("Acknowledge</a>"), "{}", m.html);
        assert!(!m.text.contains("Acknowledge:"), "{}", m.text);
        assert!(!m.html.contains(r#"href="javascript"#), "{}", m.html);
        p.runbook_url = None;
        let m = p.render("ann@example.com", "<n1@lookout>").unwrap();
        assert!(!m.html.contains("Runbook"), "{}", m.html);
        assert!(!m.text.contains("Runbook"), "{}", m.text);
    }

    #[test]
    fn utc_is_not_named_twice() {
        let mut p = page("Disk full");
        p.time_zone = chrono_tz::UTC;
        let m = p.render("ann@example.com", "<n1@lookout>").unwrap();
        assert!(
            m.text.contains("Tue 14 May 2024, 14:30 UTC\n"),
            "{}",
            m.text
        );
    }
}
