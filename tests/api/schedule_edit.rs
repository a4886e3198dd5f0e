//! Editing a schedule's layers on `/schedules/{id}/edit`, without JavaScript: buttons rearrange
//! the form and save nothing, "Save changes" saves from now on. The test clock stands at
//! 2026-11-22T09:00Z.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;

async fn team(app: &TestApp) {
    for who in ["ana", "ben", "cy"] {
        app.create_user(&format!("{who}@example.com"), "responder")
            .await;
    }
}

fn platform() -> Value {
    json!({
        "name": "Platform",
        "time_zone": "Europe/London",
        "layers": [{
            "name": "Primary",
            "rotation": {"every": "daily", "count": 1},
            "start": "2026-11-16",
            "handoff": "09:00",
            "participants": ["ana@example.com", "ben@example.com", "cy@example.com"]
        }]
    })
}

/// A schedule made through the API; returns its id.
async fn schedule(app: &TestApp) -> String {
    team(app).await;
    let (_, token) = app.token_for("manager").await;
    let created = app
        .api(Some(&token))
        .post("/api/v1/schedules", platform())
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    created.json["id"].as_str().expect("id").to_owned()
}

/// One layer's fields as the edit form posts them.
struct LayerFields<'a> {
    name: &'a str,
    every: &'a str,
    count: &'a str,
    start: &'a str,
    handoff: &'a str,
    participants: &'a str,
}

const PRIMARY: LayerFields<'static> = LayerFields {
    name: "Primary",
    every: "daily",
    count: "1",
    start: "2026-11-16",
    handoff: "09:00",
    participants: "ana@example.com\r\nben@example.com\r\ncy@example.com",
};

const ESCALATION: LayerFields<'static> = LayerFields {
    name: "Escalation",
    every: "weekly",
    count: "1",
    start: "2026-11-16",
    handoff: "09:00",
    participants: "cy@example.com",
};

/// The whole form: schedule fields, the layers bottom first, extra fields, and the button.
fn form(
    version: &str,
    layers: &[&LayerFields<'_>],
    extra: &[(&str, &str)],
    action: &str,
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = vec![
        ("name".into(), "Platform".into()),
        ("time_zone".into(), "Europe/London".into()),
        ("description".into(), String::new()),
        ("version".into(), version.into()),
    ];
    for (i, l) in layers.iter().enumerate() {
        for (field, value) in [
            ("name", l.name),
            ("every", l.every),
            ("count", l.count),
            ("start", l.start),
            ("handoff", l.handoff),
            ("participants", l.participants),
        ] {
            fields.push((format!("l{i}.{field}"), value.into()));
        }
    }
    for (k, v) in extra {
        fields.retain(|(key, _)| key != k || k.ends_with(".days"));
        fields.push(((*k).into(), (*v).into()));
    }
    fields.push(("action".into(), action.into()));
    fields
}

async fn post(browser: &Browser, id: &str, fields: &[(String, String)]) -> Page {
    let path = format!("/schedules/{id}/edit");
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser.submit(&path, &path, &borrowed).await
}

/// The layer name input at `index`, as the page renders it.
fn layer_named(index: usize, name: &str) -> String {
    format!("name=\"l{index}.name\" type=\"text\" maxlength=\"80\" value=\"{name}\"")
}

fn on_call(at: &str, id: &str) -> String {
    format!("/api/v1/oncall?schedule={id}&at={at}")
}

on_both_databases! {
    async fn a_manager_adds_and_reorders_layers_and_the_future_follows(app: TestApp) {
        let id = schedule(&app).await;
        let manager = app.signed_in("manager").await;
        let show = manager.get(&format!("/schedules/{id}")).await;
        assert!(show.body.contains(&format!("href=\"/schedules/{id}/edit\">Edit layers")), "{}", show.body);
        let viewer = app.signed_in("viewer").await;
        assert!(!viewer.get(&format!("/schedules/{id}")).await.body.contains("Edit layers"));
        assert_eq!(viewer.get(&format!("/schedules/{id}/edit")).await.status, 403);

        // The form shows the layers in force, the people in turn order, and the version.
        let edit = manager.get(&format!("/schedules/{id}/edit")).await;
        assert_eq!(edit.status, 200, "{}", edit.body);
        assert!(edit.body.contains(&layer_named(0, "Primary")), "{}", edit.body);
        assert!(edit.body.contains("ana@example.com\nben@example.com\ncy@example.com</textarea>"), "{}", edit.body);
        let version = hidden_value(&edit.body, "version").expect("version");

        // "Add a layer" shows a new top layer and saves nothing.
        let added = post(&manager, &id, &form(&version, &[&PRIMARY], &[], "add_layer")).await;
        assert_eq!(added.status, 200, "{}", added.body);
        assert!(added.body.contains(&layer_named(1, "Layer 2")), "{}", added.body);
        assert!(added.body.contains("Layer 2 (top)"), "{}", added.body);
        let (_, token) = app.token_for("viewer").await;
        let api = app.api(Some(&token));
        let stored = api.get(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!(stored.json["layers"].as_array().expect("layers").len(), 1);

        // Moving it down and up again rearranges the form; still nothing is saved.
        let down = post(&manager, &id, &form(&version, &[&PRIMARY, &ESCALATION], &[], "down:1")).await;
        assert_eq!(down.status, 200, "{}", down.body);
        assert!(down.body.contains(&layer_named(0, "Escalation")), "{}", down.body);
        assert!(down.body.contains(&layer_named(1, "Primary")), "{}", down.body);
        let up = post(&manager, &id, &form(&version, &[&ESCALATION, &PRIMARY], &[], "up:0")).await;
        assert!(up.body.contains(&layer_named(0, "Primary")), "{}", up.body);
        assert!(up.body.contains(&layer_named(1, "Escalation")), "{}", up.body);
        // A window added to a layer, then removed.
        let window = post(&manager, &id, &form(&version, &[&PRIMARY, &ESCALATION], &[], "add_window:1")).await;
        assert!(window.body.contains("name=\"l1.r0.from\""), "{}", window.body);
        let removed = post(&manager, &id, &form(&version, &[&PRIMARY, &ESCALATION], &[("l1.r0.days", "sat")], "remove_window:1:0")).await;
        assert!(!removed.body.contains("name=\"l1.r0.from\""), "{}", removed.body);
        assert_eq!(api.get(&format!("/api/v1/schedules/{id}")).await.json["version"].to_string(), version);

        // Saving: Escalation on top of Primary, from now on. A window row left empty is dropped.
        let saved = post(&manager, &id, &form(&version, &[&PRIMARY, &ESCALATION], &[("l0.r0.from", ""), ("l0.r0.to", "")], "save")).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(saved.location.as_deref(), Some(format!("/schedules/{id}").as_str()));
        let after = manager.get(&format!("/schedules/{id}")).await;
        assert!(after.body.contains("the new layers apply from now"), "{}", after.body);

        let stored = api.get(&format!("/api/v1/schedules/{id}")).await;
        let names: Vec<&str> = stored.json["layers"].as_array().expect("layers").iter().map(|l| l["name"].as_str().expect("name")).collect();
        assert_eq!(names, ["Primary", "Escalation"]);
        assert_eq!(stored.json["layers"][1]["participants"], json!(["cy@example.com"]));
        assert_eq!(stored.json["layers"][1]["rotation"], json!({"every": "weekly", "count": 1}));
        assert_eq!(stored.json["layers"][0]["restrictions"], json!([]));
        assert_eq!(stored.json["layers"][0]["participants"], json!(["ana@example.com", "ben@example.com", "cy@example.com"]));

        // From now the top layer answers; the past keeps its answer (Ben on the 20th).
        let now = api.get(&on_call("2026-11-22T10:00:00Z", &id)).await;
        assert_eq!(now.json["users"][0]["email"], "cy@example.com", "{}", now.json);
        assert_eq!(now.json["source"], "layer Escalation");
        let past = api.get(&on_call("2026-11-20T10:00:00Z", &id)).await;
        assert_eq!(past.json["users"][0]["email"], "ben@example.com", "{}", past.json);
        assert!(app.audit_actions().await.contains(&"schedule.updated".to_owned()));
    }

    async fn a_stale_version_keeps_the_input_and_says_so(app: TestApp) {
        let id = schedule(&app).await;
        let manager = app.signed_in("manager").await;
        let edit = manager.get(&format!("/schedules/{id}/edit")).await;
        let version = hidden_value(&edit.body, "version").expect("version");

        // Meanwhile someone else changes the schedule through the API.
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let mut other = platform();
        other["description"] = json!("changed by someone else");
        other["version"] = json!(version.parse::<i64>().expect("number"));
        let put = api.send(reqwest::Method::PUT, &format!("/api/v1/schedules/{id}"), Some(other)).await;
        assert_eq!(put.status, 200, "{}", put.json);

        let mine = LayerFields { participants: "cy@example.com\r\nana@example.com", ..PRIMARY };
        let fields = form(&version, &[&mine], &[("name", "Platform renamed")], "save");
        let refused = post(&manager, &id, &fields).await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert!(refused.body.contains("Someone else changed this schedule while you were editing it"), "{}", refused.body);
        assert!(refused.body.contains("value=\"Platform renamed\""), "{}", refused.body);
        assert!(refused.body.contains("cy@example.com\nana@example.com</textarea>"), "{}", refused.body);
        let stored = api.get(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!(stored.json["name"], "Platform", "nothing was saved");
        assert_eq!(stored.json["description"], "changed by someone else");

        // The form now carries the current version: saving again is a deliberate overwrite.
        let current = hidden_value(&refused.body, "version").expect("version");
        assert_eq!(current, stored.json["version"].to_string());
        let again = post(&manager, &id, &form(&current, &[&mine], &[("name", "Platform renamed")], "save")).await;
        assert_eq!(again.status, 303, "{}", again.body);
        let stored = api.get(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!(stored.json["name"], "Platform renamed");
        assert_eq!(stored.json["layers"][0]["participants"], json!(["cy@example.com", "ana@example.com"]));
    }

    async fn each_message_sits_next_to_its_layer(app: TestApp) {
        let id = schedule(&app).await;
        let manager = app.signed_in("manager").await;
        let version = hidden_value(&manager.get(&format!("/schedules/{id}/edit")).await.body, "version").expect("version");
        let broken = LayerFields { handoff: "25:00", participants: "cy@example.com\r\nghost@example.com", count: "0", ..ESCALATION };
        let fields = form(&version, &[&PRIMARY, &broken], &[("l1.r0.days", "sat"), ("l1.r0.from", "09:00"), ("l1.r0.to", "")], "save");
        let refused = post(&manager, &id, &fields).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(refused.body.contains("Nothing was saved"), "{}", refused.body);
        // Layer 2 is shown first (top first); its messages are inside its own fieldset.
        let top = &refused.body[refused.body.find("id=\"layer-1\"").expect("layer 2")..refused.body.find("id=\"layer-0\"").expect("layer 1")];
        assert!(top.contains("&#39;25:00&#39; is not a time of day") || top.contains("'25:00' is not a time of day"), "{top}");
        assert!(top.contains("ghost@example.com") && top.contains("is not an active user"), "{top}");
        assert!(top.contains("the rotation count must be between 1 and 365"), "{top}");
        let window = &top[top.find("class=\"window has-error\"").expect("the window is marked")..];
        assert!(window.contains("a window needs both a from and a to time</p>"), "the window's own message: {window}");
        assert!(top.contains("value=\"25:00\""), "input kept: {top}");
        let bottom = &refused.body[refused.body.find("id=\"layer-0\"").expect("layer 1")..];
        assert!(!bottom.contains("field-error"), "{bottom}");

        let (_, token) = app.token_for("viewer").await;
        let stored = app.api(Some(&token)).get(&format!("/api/v1/schedules/{id}")).await;
        assert_eq!(stored.json["layers"].as_array().expect("layers").len(), 1, "nothing was saved");
        assert_eq!(stored.json["version"].to_string(), version);

        // No layers at all is refused with a message of its own.
        let empty = post(&manager, &id, &form(&version, &[], &[], "save")).await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("a schedule needs at least one layer"), "{}", empty.body);
    }
}
