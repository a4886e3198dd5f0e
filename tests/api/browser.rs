//! Real headless Chromium through chromedriver, when `LOOKOUT_TEST_BROWSER` names chromedriver:
//! first-run setup, sign in, the dashboard, sign out; live incidents; building and editing a
//! schedule.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

struct Driver {
    process: Child,
    client: Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn start_browser() -> Option<Driver> {
    let chromedriver = std::env::var("LOOKOUT_TEST_BROWSER")
        .ok()
        .filter(|p| !p.is_empty())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let mut process = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1280,900",
    ];
    let user_data = tempfile::tempdir().expect("profile dir");
    let user_data_arg = format!("--user-data-dir={}", user_data.keep().display());
    args.push(&user_data_arg);
    let mut options = json!({ "args": args });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen.
    for _ in 0..100 {
        if let Ok(client) = ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return Some(Driver { process, client });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = process.kill();
    let _ = process.wait();
    panic!("chromedriver at {url} did not accept a session");
}

async fn fill(c: &Client, name: &str, value: &str) {
    let field = c
        .find(Locator::Css(&format!("[name='{name}']")))
        .await
        .unwrap_or_else(|e| panic!("field {name}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..100 {
        if c.current_url()
            .await
            .map(|u| u.path() == path)
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "never reached {path}; at {:?}",
        c.current_url().await.map(|u| u.to_string())
    );
}

/// The text of the first element matching `css`, waiting for it to appear: a form submission
/// may still be loading the next page when the click returns.
async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_sign_in_dashboard_sign_out() {
    let Some(driver) = start_browser().await else {
        return;
    };
    let c = &driver.client;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let link = app.setup_link.clone().expect("setup link");

    c.goto(&link).await.expect("open setup link");
    assert_eq!(text(c, "h1").await, "Welcome to Lookout");
    screenshot(c, "setup").await;
    fill(c, "name", "Ana Admin").await;
    fill(c, "email", "ana@example.com").await;
    fill(c, "password", PASSWORD).await;
    fill(c, "confirm", "a different one!").await;
    click(c, "button[type=submit].primary").await;
    // Shown again with the error next to the field and the name kept.
    assert_eq!(text(c, "#confirm-error").await, "the two passwords differ");
    let name = c
        .find(Locator::Css("[name='name']"))
        .await
        .expect("name")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(name.as_deref(), Some("Ana Admin"));
    fill(c, "password", PASSWORD).await;
    fill(c, "confirm", PASSWORD).await;
    click(c, "button[type=submit].primary").await;

    wait_for_path(c, "/login").await;
    assert!(
        text(c, ".flash")
            .await
            .contains("Admin account ana@example.com created")
    );
    fill(c, "email", "ana@example.com").await;
    fill(c, "password", "wrong password here").await;
    click(c, "button[type=submit]").await;
    assert_eq!(
        text(c, ".form-error").await,
        "Wrong e-mail address or password."
    );
    fill(c, "password", PASSWORD).await;
    click(c, "button[type=submit]").await;

    wait_for_path(c, "/").await;
    assert_eq!(text(c, "h1").await, "Hello, Ana Admin");
    screenshot(c, "dashboard").await;
    c.set_window_size(390, 844).await.expect("phone size");
    screenshot(c, "dashboard-phone").await;
    c.set_window_size(1280, 900).await.expect("desk size");

    // Add a person from the users page; the temporary password is shown once.
    c.goto(&app.url("/admin/users")).await.expect("users page");
    fill(c, "name", "Dan Duty").await;
    fill(c, "email", "dan@example.com").await;
    c.find(Locator::Css(
        "select[name='role'] option[value='responder']",
    ))
    .await
    .expect("responder option")
    .click()
    .await
    .expect("choose role");
    click(c, "#new button[type=submit]").await;
    // The users page's own h1 is there until the answer has loaded: wait for the answer's.
    wait_for_text(c, "h1", "Dan Duty can now sign in").await;
    assert_eq!(text(c, "h1").await, "Dan Duty can now sign in");
    assert_eq!(text(c, "#temp-password").await.len(), 19);
    screenshot(c, "person-added").await;

    c.goto(&app.url("/admin/users")).await.expect("users page");
    screenshot(c, "users").await;
    c.goto(&app.url("/admin/audit")).await.expect("audit page");
    assert!(text(c, "table").await.contains("user.created"));
    screenshot(c, "audit").await;

    c.goto(&app.url("/profile")).await.expect("profile");
    // The profile has more than one "label" field (contact methods too).
    set_value(c, "#tokens [name='label']", "laptop script").await;
    click(c, "#tokens button[type=submit]").await;
    assert!(text(c, "#new-token").await.starts_with("lk_"));
    screenshot(c, "profile-token").await;

    // The spent link no longer works.
    c.goto(&link).await.expect("open link again");
    assert_eq!(text(c, "h1").await, "Setup link not valid");
    c.goto(&app.url("/")).await.expect("home");

    click(c, "form[action='/logout'] button").await;
    wait_for_path(c, "/login").await;
    assert_eq!(text(c, ".flash").await, "You are signed out.");
    c.goto(&app.url("/")).await.expect("home");
    wait_for_path(c, "/login").await;

    driver.client.clone().close().await.expect("close browser");
}

async fn sign_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/login")).await.expect("login page");
    fill(c, "email", email).await;
    fill(c, "password", PASSWORD).await;
    click(c, "button[type=submit]").await;
    wait_for_path(c, "/").await;
}

/// Waits until the page's script has bound its keyboard shortcuts: the markup can be on screen
/// a moment before the deferred script runs, and a key pressed then would go nowhere.
async fn wait_for_script(c: &Client) {
    wait_for(c, "html[data-script=ready]").await;
}

/// Waits until `css` matches an element.
async fn wait_for(c: &Client, css: &str) {
    for _ in 0..100 {
        if c.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing matches {css}");
}

/// Waits until `css` matches an element whose text contains `needle`.
async fn wait_for_text(c: &Client, css: &str, needle: &str) {
    for _ in 0..100 {
        if let Ok(els) = c.find_all(Locator::Css(css)).await {
            for el in els {
                if el.text().await.map(|t| t.contains(needle)).unwrap_or(false) {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {css} containing {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_list_updates_live_and_keys_work() {
    let Some(driver) = start_browser().await else {
        return;
    };
    let c = &driver.client;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, _, key) = app.integration("generic").await;
    let hook = format!("/hooks/generic/{key}");
    app.create_user("rita@example.com", "responder").await;
    app.post_json(
        &hook,
        json!({"title": "Database replica lag", "severity": "P1"}).to_string(),
    )
    .await;
    sign_in(c, &app, "rita@example.com").await;

    c.goto(&app.url("/incidents")).await.expect("incidents");
    wait_for_text(c, "#incident-rows tr", "Database replica lag").await;
    screenshot(c, "incidents").await;

    // A new alert arrives while the page is open: it shows up without a reload.
    c.execute("window.__marker = 'same page';", vec![])
        .await
        .expect("mark page");
    app.post_json(
        &hook,
        json!({"title": "Checkout errors spiking", "severity": "P0"}).to_string(),
    )
    .await;
    wait_for_text(c, "#incident-rows tr", "Checkout errors spiking").await;
    let marker = c
        .execute("return window.__marker || null;", vec![])
        .await
        .expect("read marker");
    assert_eq!(marker, json!("same page"), "updated live, not by reloading");

    // j selects the first (newest) row, Enter opens it, a acknowledges.
    wait_for_script(c).await;
    let body = c.find(Locator::Css("body")).await.expect("body");
    body.send_keys("j").await.expect("j");
    body.send_keys("\u{E007}").await.expect("enter");
    wait_for_text(c, "h1", "Checkout errors spiking").await;
    wait_for_script(c).await;
    assert!(text(c, ".badges").await.contains("triggered"));
    screenshot(c, "incident").await;
    c.set_window_size(390, 844).await.expect("phone size");
    screenshot(c, "incident-phone").await;
    c.set_window_size(1280, 900).await.expect("desk size");
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys("a")
        .await
        .expect("a");
    wait_for_text(c, ".flash", "Acknowledged").await;
    assert!(text(c, ".badges").await.contains("acknowledged"));

    driver.client.clone().close().await.expect("close browser");
}

/// Sets a form control's value directly: date, time and select inputs take typed keys in the
/// browser's locale, which a test should not depend on.
async fn set_value(c: &Client, css: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![json!(css), json!(value)],
    )
    .await
    .unwrap_or_else(|e| panic!("{css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_builds_a_rotation_and_an_override_changes_the_timeline() {
    let Some(driver) = start_browser().await else {
        return;
    };
    let c = &driver.client;
    let app = TestApp::spawn(Backend::Sqlite).await;
    for who in ["ana", "ben", "cy"] {
        app.create_user(&format!("{who}@example.com"), "responder")
            .await;
    }
    app.create_user("mia@example.com", "manager").await;
    sign_in(c, &app, "mia@example.com").await;

    c.goto(&app.url("/schedules")).await.expect("schedules");
    fill(c, "name", "Platform").await;
    set_value(c, "#time_zone", "Europe/London").await;
    set_value(c, "#every", "daily").await;
    set_value(c, "#start", "2026-11-22").await;
    set_value(c, "#handoff", "09:00").await;
    fill(
        c,
        "participants",
        "ana@example.com\nben@example.com\ncy@example.com",
    )
    .await;
    click(c, "#new button[type=submit]").await;
    wait_for_text(c, "h1", "Platform").await;
    // The first hand-off is now (09:00 in London on 22 November): Ana, then Ben tomorrow.
    wait_for_text(c, ".now-next", "Ana").await;
    assert!(text(c, ".now-next").await.contains("Ben"), "Ben is next");
    let final_row = text(c, ".tl-final").await;
    assert!(final_row.contains("Ana") && final_row.contains("Ben") && final_row.contains("Cy"));
    screenshot(c, "schedule").await;

    // Cy covers Ana's day: the timeline and "on call now" follow.
    set_value(c, "#user", "cy@example.com").await;
    set_value(c, "#start", "2026-11-22T08:00").await;
    set_value(c, "#end", "2026-11-23T09:00").await;
    fill(c, "reason", "swap for the dentist").await;
    click(c, "#overrides button.primary").await;
    wait_for_text(c, ".flash", "Override added").await;
    let now = text(c, ".now-next").await;
    assert!(now.contains("Cy") && !now.contains("Ana"), "{now}");
    let rows = c
        .find_all(Locator::Css(".tl-row"))
        .await
        .expect("timeline rows");
    let mut overrides_row = String::new();
    for row in rows {
        let t = row.text().await.expect("row text");
        if t.starts_with("Overrides") {
            overrides_row = t;
        }
    }
    assert!(overrides_row.contains("Cy"), "{overrides_row}");
    assert!(
        text(c, "#overrides table")
            .await
            .contains("swap for the dentist")
    );
    c.set_window_size(390, 844).await.expect("phone size");
    screenshot(c, "schedule-phone").await;

    // On the phone still: a second layer on top, added and saved on the edit page.
    click(c, "a[href$='/edit']").await;
    wait_for_text(c, "h1", "Edit layers").await;
    click(c, "button[value=add_layer]").await;
    wait_for(c, "[name='l1.participants']").await;
    fill(c, "l1.name", "Weekend cover").await;
    fill(c, "l1.participants", "ben@example.com").await;
    screenshot(c, "schedule-edit-phone").await;
    click(c, "button.primary[value=save]").await;
    wait_for_text(c, ".flash", "new layers apply from now").await;
    assert!(text(c, ".layers").await.contains("Weekend cover"));
    driver.client.clone().close().await.expect("close browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acknowledge_link_in_a_page_mail_works_without_signing_in() {
    let Some(driver) = start_browser().await else {
        return;
    };
    let c = &driver.client;
    let (app, sink) = crate::escalation::with_mail(Backend::Sqlite).await;
    let s = crate::escalation::setup(&app, 0).await;
    let id = crate::escalation::open(&app, &s, "Search is down").await;
    app.settle().await;
    let mail = sink.wait_for(1).await;
    let link = crate::escalation::ack_link(&mail[0]);

    // Straight from the mail: no session in this browser.
    c.goto(&link).await.expect("ack link");
    wait_for_text(c, "h1", "Search is down").await;
    screenshot(c, "ack-link").await;
    click(c, "form button[type=submit]").await;
    wait_for_text(c, ".flash", "Acknowledged.").await;
    let incident = s.api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident.json["status"], "acknowledged");
    assert_eq!(incident.json["acknowledged_by"], "Ana");

    driver.client.clone().close().await.expect("close browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_sets_how_they_are_paged_and_reassigns_to_a_step() {
    let Some(driver) = start_browser().await else {
        return;
    };
    let c = &driver.client;
    let (app, sink) = crate::escalation::with_mail(Backend::Sqlite).await;
    let s = crate::escalation::setup(&app, 0).await;

    // Ana adds her pager app's webhook and a rule to use it after 2 minutes.
    sign_in(c, &app, "ana@example.com").await;
    c.goto(&app.url("/profile#reach")).await.expect("profile");
    wait_for_text(c, "#reach h2", "How Lookout reaches you").await;
    set_value(c, "#method-kind", "webhook").await;
    fill(c, "address", "https://pager.example.org/ana").await;
    fill(c, "label", "pager app").await;
    click(
        c,
        "form[action='/profile/contact-methods'] button[type=submit]",
    )
    .await;
    wait_for_text(
        c,
        ".flash",
        "Added webhook https://pager.example.org/ana (pager app)",
    )
    .await;
    let option = c
        .find(Locator::Css(
            "#rule-contact option[value]:not([value='account'])",
        ))
        .await
        .expect("the new method is offered for rules");
    let value = option.attr("value").await.expect("attr").expect("value");
    set_value(c, "#rule-contact", &value).await;
    fill(c, "delay_minutes", "2").await;
    click(
        c,
        "form[action='/profile/notification-rules'] button[type=submit]",
    )
    .await;
    wait_for_text(c, ".flash", "You will be paged by webhook").await;
    let rules = text(c, "#reach ul").await;
    assert!(rules.contains("at once: e-mail ana@example.com"), "{rules}");
    assert!(
        rules
            .contains("after 2 min if still unacknowledged: webhook https://pager.example.org/ana"),
        "{rules}"
    );
    screenshot(c, "profile-reach").await;

    // On an incident, Ana sends it to step 2 (the Night schedule: Ben).
    let id = crate::escalation::open(&app, &s, "Disk full on db-2").await;
    app.settle().await;
    sink.wait_for(1).await;
    let number = s.api.get(&format!("/api/v1/incidents/{id}")).await.json["number"]
        .as_i64()
        .expect("number");
    c.goto(&app.url(&format!("/incidents/{number}")))
        .await
        .expect("incident");
    wait_for_script(c).await;
    set_value(c, "#reassign-step", "2").await;
    click(c, "form.reassign-step button[type=submit]").await;
    screenshot(c, "reassign-step").await;
    wait_for_text(c, ".flash", "Reassigned to step 2").await;
    app.settle().await;
    let mail = sink.wait_for(2).await;
    assert_eq!(mail[1].to, ["ben@example.com"]);

    driver.client.clone().close().await.expect("close browser");
}
