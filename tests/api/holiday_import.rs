//! Importing a schedule's holidays from an .ics file: through the API (raw body) and through the
//! upload form on the schedule's page (multipart, with its CSRF token among the parts).

use serde_json::json;

use crate::helpers::*;
use crate::on_both_databases;

/// Shaped like a published national-holiday calendar: CRLF, a folded line (`\x20`: a `\` at the
/// end of a line eats the next line's leading blanks), one multi-day closure, and a yearly event
/// that is skipped.
const HOLIDAYS: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
VERSION:2.0\r\n\
CALSCALE:GREGORIAN\r\n\
X-WR-CALNAME:Holidays in the United Kingdom\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261225\r\n\
DTEND;VALUE=DATE:20261226\r\n\
UID:20261225_christmas@google.com\r\n\
SUMMARY:Christmas Day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261228\r\n\
DTEND;VALUE=DATE:20261229\r\n\
UID:20261228_boxing@google.com\r\n\
SUMMARY:Boxing Day (substitute day\r\n\
\x20)\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261229\r\n\
DTEND;VALUE=DATE:20270101\r\n\
UID:closed@example.com\r\n\
SUMMARY:Office closed\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20270101\r\n\
UID:20270101_newyear@google.com\r\n\
SUMMARY:New Year's Day\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261105\r\n\
RRULE:FREQ=YEARLY\r\n\
UID:bonfire@example.com\r\n\
SUMMARY:Bonfire Night\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

async fn schedule(app: &TestApp) -> (String, String) {
    app.create_user("ana@example.com", "responder").await;
    let (_, token) = app.token_for("manager").await;
    let created = app
        .api(Some(&token))
        .post(
            "/api/v1/schedules",
            json!({
                "name": "Platform",
                "time_zone": "Europe/London",
                "layers": [{"name": "Primary", "rotation": {"every": "weekly", "count": 1}, "start": "2026-11-16", "handoff": "09:00", "participants": ["ana@example.com"]}]
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    (created.json["id"].as_str().expect("id").to_owned(), token)
}

async fn holidays(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let shown = app
        .api(Some(token))
        .get(&format!("/api/v1/schedules/{id}"))
        .await;
    shown.json["holidays"]
        .as_array()
        .expect("holidays")
        .iter()
        .map(|h| {
            (
                h["date"].as_str().expect("date").to_owned(),
                h["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

async fn import_raw(
    app: &TestApp,
    token: &str,
    id: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/schedules/{id}/holidays/import")))
        .bearer_auth(token)
        .header("content-type", "text/calendar")
        .body(body)
        .send()
        .await
        .expect("import");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON"))
}

const BOUNDARY: &str = "----lookout-test-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body as a browser builds it: (name, file name, content) per part.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> String {
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match file {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/calendar\r\n\r\n"
            )),
            None => body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")),
        }
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

async fn upload(browser: &Browser, id: &str, parts: &[(&str, Option<&str>, &str)]) -> Page {
    let res = browser
        .client
        .post(browser.url(&format!("/schedules/{id}/holidays/import")))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(parts))
        .send()
        .await
        .expect("upload");
    Page::from(res).await
}

fn expected_days() -> Vec<(String, String)> {
    [
        ("2026-12-25", "Christmas Day"),
        ("2026-12-28", "Boxing Day (substitute day)"),
        ("2026-12-29", "Office closed"),
        ("2026-12-30", "Office closed"),
        ("2026-12-31", "Office closed"),
        ("2027-01-01", "New Year's Day"),
    ]
    .map(|(d, n)| (d.to_owned(), n.to_owned()))
    .to_vec()
}

on_both_databases! {
    async fn the_api_imports_new_days_once(app: TestApp) {
        let (id, token) = schedule(&app).await;
        // Christmas is already marked, under its own name.
        let api = app.api(Some(&token));
        let marked = api.post(&format!("/api/v1/schedules/{id}/holidays"), json!({"date": "2026-12-25", "name": "Christmas"})).await;
        assert_eq!(marked.status, 201, "{}", marked.json);

        let (status, counts) = import_raw(&app, &token, &id, HOLIDAYS).await;
        assert_eq!(status, 200, "{counts}");
        assert_eq!(counts, json!({"added": 5, "already_there": 1, "skipped": 1}));
        let mut want = expected_days();
        want[0].1 = "Christmas".into();
        assert_eq!(holidays(&app, &token, &id).await, want);
        assert!(app.audit_actions().await.contains(&"schedule.updated".to_owned()));

        // The same file again adds nothing.
        let (status, counts) = import_raw(&app, &token, &id, HOLIDAYS).await;
        assert_eq!(status, 200);
        assert_eq!(counts, json!({"added": 0, "already_there": 6, "skipped": 1}));

        // Bad files are refused in words, and nothing changes.
        let version = api.get(&format!("/api/v1/schedules/{id}")).await.json["version"].clone();
        let not_ics = import_raw(&app, &token, &id, "<!doctype html><title>Holidays</title>").await;
        assert_eq!(not_ics.0, 400, "{}", not_ics.1);
        assert!(not_ics.1["fields"]["file"].as_str().expect("file").contains("not an iCalendar"), "{}", not_ics.1);
        let no_events = import_raw(&app, &token, &id, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n").await;
        assert_eq!(no_events.0, 400);
        assert!(no_events.1["detail"].as_str().expect("detail").contains("no events"), "{}", no_events.1);
        let broken = import_raw(&app, &token, &id, HOLIDAYS.replace("END:VCALENDAR", "")).await;
        assert_eq!(broken.0, 400, "{}", broken.1);
        let huge = import_raw(&app, &token, &id, format!("{HOLIDAYS}{}", "x".repeat(1024 * 1024))).await;
        assert_eq!(huge.0, 400, "{}", huge.1);
        assert!(huge.1["detail"].as_str().expect("detail").contains("larger than 1 MiB"), "{}", huge.1);
        let event = "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20300101\r\nSUMMARY:x\r\nEND:VEVENT\r\n";
        let too_many = import_raw(&app, &token, &id, format!("BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n", event.repeat(1001))).await;
        assert_eq!(too_many.0, 400, "{}", too_many.1);
        assert!(too_many.1["detail"].as_str().expect("detail").contains("more than 1000 events"), "{}", too_many.1);
        assert_eq!(holidays(&app, &token, &id).await.len(), 6);
        assert_eq!(api.get(&format!("/api/v1/schedules/{id}")).await.json["version"], version);

        let (_, responder) = app.token_for("responder").await;
        let (status, _) = import_raw(&app, &responder, &id, HOLIDAYS).await;
        assert_eq!(status, 403);
    }

    async fn the_page_imports_an_uploaded_file(app: TestApp) {
        let (id, token) = schedule(&app).await;
        let manager = app.signed_in("manager").await;
        let page = manager.get(&format!("/schedules/{id}")).await;
        assert!(page.body.contains("enctype=\"multipart/form-data\""), "{}", page.body);
        let csrf = page.csrf_token();

        // The token may come after the file, as browsers send the parts in the form's order.
        let done = upload(&manager, &id, &[("file", Some("uk.ics"), HOLIDAYS), ("csrf_token", None, &csrf)]).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some(format!("/schedules/{id}#holidays").as_str()));
        let shown = manager.get(&format!("/schedules/{id}")).await;
        assert!(shown.body.contains("Imported 6 holidays (0 already there). 1 event skipped"), "{}", shown.body);
        assert!(shown.body.contains("Boxing Day (substitute day)"), "{}", shown.body);
        assert_eq!(holidays(&app, &token, &id).await, expected_days());

        let again = upload(&manager, &id, &[("csrf_token", None, &csrf), ("file", Some("uk.ics"), HOLIDAYS)]).await;
        assert_eq!(again.status, 303);
        assert!(manager.get(&format!("/schedules/{id}")).await.body.contains("Imported 0 holidays (6 already there)."));

        // A bad file and a missing file are explained; nothing changes.
        let bad = upload(&manager, &id, &[("csrf_token", None, &csrf), ("file", Some("notes.txt"), "just some notes")]).await;
        assert_eq!(bad.status, 303, "{}", bad.body);
        let told = manager.get(&format!("/schedules/{id}")).await;
        assert!(told.body.contains("Nothing was imported: this is not an iCalendar (.ics) file"), "{}", told.body);
        let none = upload(&manager, &id, &[("csrf_token", None, &csrf), ("file", Some(""), "")]).await;
        assert_eq!(none.status, 303);
        assert!(manager.get(&format!("/schedules/{id}")).await.body.contains("Choose an .ics file to import first."));
        assert_eq!(holidays(&app, &token, &id).await, expected_days());

        let viewer = app.signed_in("viewer").await;
        let viewer_csrf = viewer.get(&format!("/schedules/{id}")).await.csrf_token();
        let refused = upload(&viewer, &id, &[("csrf_token", None, &viewer_csrf), ("file", Some("uk.ics"), HOLIDAYS)]).await;
        assert_eq!(refused.status, 403);
    }

    async fn an_upload_without_a_valid_token_is_refused(app: TestApp) {
        let (id, token) = schedule(&app).await;
        let manager = app.signed_in("manager").await;
        let without = upload(&manager, &id, &[("file", Some("uk.ics"), HOLIDAYS)]).await;
        assert_eq!(without.status, 403, "{}", without.body);
        assert!(without.body.contains("Form expired"), "{}", without.body);
        let forged = upload(&manager, &id, &[("csrf_token", None, "forged"), ("file", Some("uk.ics"), HOLIDAYS)]).await;
        assert_eq!(forged.status, 403);
        let other = app.signed_in("manager").await;
        let stolen = other.get(&format!("/schedules/{id}")).await.csrf_token();
        let borrowed = upload(&manager, &id, &[("csrf_token", None, &stolen), ("file", Some("uk.ics"), HOLIDAYS)]).await;
        assert_eq!(borrowed.status, 403);
        // Not multipart at all, though it says so: no token to be found.
        let res = manager
            .client
            .post(manager.url(&format!("/schedules/{id}/holidays/import")))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(format!("csrf_token={stolen}"))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403);
        assert!(holidays(&app, &token, &id).await.is_empty());
    }
}
