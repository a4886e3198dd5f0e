//! Duty schedules over HTTP: rotations in their own time zone, overrides, edits that keep the
//! past, and who is on call. The test clock stands at 2026-11-22T09:00Z.

use std::str::FromStr;

use serde_json::{Value, json};

use crate::on_both_databases;

fn on_call_path(id: &str, at: &str) -> String {
    format!("/api/v1/oncall?schedule={id}&at={at}")
}

fn email(reply: &Value) -> &str {
    reply["users"][0]["email"].as_str().unwrap_or("nobody")
}

async fn team(app: &crate::helpers::TestApp) {
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

on_both_databases! {
    async fn a_daily_rotation_names_who_is_on_call(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let created = api.post("/api/v1/schedules", platform()).await;
        assert_eq!(created.status, 201, "{}", created.json);
        let id = created.json["id"].as_str().expect("id").to_owned();
        assert_eq!(created.json["time_zone"], "Europe/London");
        assert_eq!(created.json["layers"][0]["participants"][1], "ben@example.com");
        assert_eq!(created.json["on_call_now"]["user"]["email"], "ana@example.com");

        // Day 6 since the start: turn 6, 6 % 3 = 0, Ana, 09:00 to 09:00 London (GMT = UTC now).
        let now = api.get(&on_call_path(&id, "2026-11-22T10:00:00Z")).await;
        assert_eq!(now.status, 200);
        assert_eq!(email(&now.json), "ana@example.com");
        assert_eq!(now.json["shift_start"], "2026-11-22T09:00:00.000000Z");
        assert_eq!(now.json["shift_end"], "2026-11-23T09:00:00.000000Z");
        assert_eq!(now.json["source"], "layer Primary");
        let before = api.get(&on_call_path(&id, "2026-11-23T08:59:59Z")).await;
        assert_eq!(email(&before.json), "ana@example.com");
        let after = api.get(&on_call_path(&id, "2026-11-23T09:00:00Z")).await;
        assert_eq!(email(&after.json), "ben@example.com");
        let first = api.get(&on_call_path(&id, "2026-11-16T08:59:00Z")).await;
        assert_eq!(first.json["users"], json!([]), "nobody before the first hand-off");

        // The shifts of three days, in order, tiling the range.
        let shifts = api.get(&format!("/api/v1/schedules/{id}/shifts?from=2026-11-22T09:00:00Z&to=2026-11-25T09:00:00Z")).await;
        assert_eq!(shifts.status, 200, "{}", shifts.json);
        let who: Vec<&str> = shifts.json["shifts"].as_array().expect("shifts").iter().map(|s| s["user"]["email"].as_str().expect("email")).collect();
        assert_eq!(who, ["ana@example.com", "ben@example.com", "cy@example.com"]);
        assert_eq!(shifts.json["gaps"], json!([]));
        assert!(app.audit_actions().await.contains(&"schedule.created".to_owned()));

        // The manager's review: no gaps ahead, and November's load per person. The rotation
        // began on 16 November at 09:00, so November has 351 hours on call: Ana and Ben five
        // full days each, Cy four and the last 15 hours of the month.
        let review = api.get(&format!("/api/v1/schedules/{id}/review?month=2026-11")).await;
        assert_eq!(review.status, 200, "{}", review.json);
        assert_eq!(review.json["gaps"], json!([]));
        let hours: Vec<(&str, f64)> = review.json["load"].as_array().expect("load").iter().map(|l| (l["user"]["email"].as_str().expect("email"), l["hours"].as_f64().expect("hours"))).collect();
        assert_eq!(hours, [("ana@example.com", 120.0), ("ben@example.com", 120.0), ("cy@example.com", 111.0)]);
        let weekend = review.json["load"][0]["weekend_hours"].as_f64().expect("weekend");
        // Ana's turns from Sunday 22 November (15 hours of Sunday) and Saturday 28 November
        // (15 hours of Saturday, 9 of Sunday) are her weekend hours.
        assert_eq!(weekend, 39.0);
        let bad = api.get(&format!("/api/v1/schedules/{id}/review?month=November")).await;
        assert_eq!(bad.status, 400);

        // A holiday on Sunday 22 November: Ana's shift from 09:00 holds 15 holiday hours.
        let holiday = api.post(&format!("/api/v1/schedules/{id}/holidays"), json!({"date": "2026-11-22", "name": "Team day off"})).await;
        assert_eq!(holiday.status, 201, "{}", holiday.json);
        assert_eq!(holiday.json["holidays"][0]["name"], "Team day off");
        let twice = api.post(&format!("/api/v1/schedules/{id}/holidays"), json!({"date": "2026-11-22", "name": "Again"})).await;
        assert_eq!(twice.status, 400);
        assert!(twice.json["detail"].as_str().expect("detail").contains("already a holiday"));
        let not_a_day = api.post(&format!("/api/v1/schedules/{id}/holidays"), json!({"date": "22/11/2026", "name": "x"})).await;
        assert_eq!(not_a_day.status, 400);
        let review = api.get(&format!("/api/v1/schedules/{id}/review?month=2026-11")).await;
        assert_eq!(review.json["load"][0]["holiday_hours"], 15.0);
        assert_eq!(review.json["load"][1]["holiday_hours"], 0.0);
        let holiday_id = holiday.json["holidays"][0]["id"].as_str().expect("id");
        assert_eq!(api.delete(&format!("/api/v1/schedules/{id}/holidays/{holiday_id}")).await.status, 204);
        let review = api.get(&format!("/api/v1/schedules/{id}/review?month=2026-11")).await;
        assert_eq!(review.json["load"][0]["holiday_hours"], 0.0);
    }

    async fn a_nine_oclock_hand_off_stays_at_nine_across_daylight_saving(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let mut body = platform();
        body["name"] = json!("New York");
        body["time_zone"] = json!("America/New_York");
        body["layers"][0]["start"] = json!("2026-10-26");
        let id = api.post("/api/v1/schedules", body).await.json["id"].as_str().expect("id").to_owned();
        // Daylight time (UTC-4): the 09:00 hand-off is 13:00Z.
        let summer = api.get(&on_call_path(&id, "2026-10-30T13:30:00Z")).await;
        assert_eq!(summer.json["shift_start"], "2026-10-30T13:00:00.000000Z");
        // Clocks went back on 1 November: the shift over the change lasts 25 hours.
        let change = api.get(&on_call_path(&id, "2026-11-01T12:00:00Z")).await;
        assert_eq!(change.json["shift_start"], "2026-10-31T13:00:00.000000Z");
        assert_eq!(change.json["shift_end"], "2026-11-01T14:00:00.000000Z");
        // Standard time (UTC-5): 09:00 is 14:00Z.
        let winter = api.get(&on_call_path(&id, "2026-11-02T14:30:00Z")).await;
        assert_eq!(winter.json["shift_start"], "2026-11-02T14:00:00.000000Z");
    }

    async fn overrides_win_and_may_not_overlap(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let id = api.post("/api/v1/schedules", platform()).await.json["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/schedules/{id}/overrides");
        let added = api.post(&path, json!({"user": "cy@example.com", "start": "2026-11-22T12:00:00Z", "end": "2026-11-22T18:00:00Z", "reason": "dentist swap"})).await;
        assert_eq!(added.status, 201, "{}", added.json);
        assert_eq!(added.json["user"]["email"], "cy@example.com");
        let covered = api.get(&on_call_path(&id, "2026-11-22T13:00:00Z")).await;
        assert_eq!(email(&covered.json), "cy@example.com");
        assert_eq!(covered.json["source"], "override");
        assert_eq!(covered.json["shift_end"], "2026-11-22T18:00:00.000000Z");
        // Ana takes over again when the override ends.
        let back = api.get(&on_call_path(&id, "2026-11-22T19:00:00Z")).await;
        assert_eq!(email(&back.json), "ana@example.com");
        assert_eq!(back.json["shift_start"], "2026-11-22T18:00:00.000000Z");

        let clash = api.post(&path, json!({"user": "ben@example.com", "start": "2026-11-22T17:00:00Z", "end": "2026-11-22T20:00:00Z"})).await;
        assert_eq!(clash.status, 400, "{}", clash.json);
        assert!(clash.json["detail"].as_str().expect("detail").contains("overlaps"), "{}", clash.json);
        let backwards = api.post(&path, json!({"user": "ben@example.com", "start": "2026-11-24T17:00:00Z", "end": "2026-11-24T16:00:00Z"})).await;
        assert_eq!(backwards.status, 400);
        let stranger = api.post(&path, json!({"user": "nobody@example.com", "start": "2026-11-24T17:00:00Z", "end": "2026-11-24T18:00:00Z"})).await;
        assert_eq!(stranger.status, 400);
        assert!(stranger.json["detail"].as_str().expect("detail").contains("not an active user"));
        // Nothing of the refused ones was stored.
        let still = api.get(&on_call_path(&id, "2026-11-22T19:30:00Z")).await;
        assert_eq!(email(&still.json), "ana@example.com");

        let override_id = added.json["id"].as_str().expect("id");
        assert_eq!(api.delete(&format!("{path}/{override_id}")).await.status, 204);
        let gone = api.get(&on_call_path(&id, "2026-11-22T13:00:00Z")).await;
        assert_eq!(email(&gone.json), "ana@example.com");

        // Removing never rewrites the past: an override under way ends now, one that is over
        // stays. (The clock stands at 09:00 on 22 November.)
        let running = api.post(&path, json!({"user": "ben@example.com", "start": "2026-11-22T08:00:00Z", "end": "2026-11-22T11:00:00Z"})).await;
        assert_eq!(running.status, 201, "{}", running.json);
        let past = api.post(&path, json!({"user": "ben@example.com", "start": "2026-11-20T10:00:00Z", "end": "2026-11-20T12:00:00Z"})).await;
        assert_eq!(past.status, 201, "{}", past.json);
        let running_id = running.json["id"].as_str().expect("id");
        assert_eq!(api.delete(&format!("{path}/{running_id}")).await.status, 204);
        assert_eq!(email(&api.get(&on_call_path(&id, "2026-11-22T08:30:00Z")).await.json), "ben@example.com");
        assert_eq!(email(&api.get(&on_call_path(&id, "2026-11-22T10:00:00Z")).await.json), "ana@example.com");
        let past_id = past.json["id"].as_str().expect("id");
        let kept = api.delete(&format!("{path}/{past_id}")).await;
        assert_eq!(kept.status, 409, "{}", kept.json);
        assert_eq!(email(&api.get(&on_call_path(&id, "2026-11-20T11:00:00Z")).await.json), "ben@example.com");
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"schedule.override_added".to_owned()));
        assert!(actions.contains(&"schedule.override_removed".to_owned()));
    }

    async fn an_edit_changes_the_future_and_keeps_the_past(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let created = api.post("/api/v1/schedules", platform()).await;
        let id = created.json["id"].as_str().expect("id").to_owned();
        let version = created.json["version"].as_i64().expect("version");
        let past = api.get(&on_call_path(&id, "2026-11-20T10:00:00Z")).await;
        assert_eq!(email(&past.json), "ben@example.com");

        let mut edited = platform();
        edited["layers"][0]["participants"] = json!(["cy@example.com", "ana@example.com"]);
        edited["version"] = json!(version);
        let put = api.send(reqwest::Method::PUT, &format!("/api/v1/schedules/{id}"), Some(edited.clone())).await;
        assert_eq!(put.status, 200, "{}", put.json);
        assert_eq!(put.json["layers"][0]["participants"], json!(["cy@example.com", "ana@example.com"]));

        // Who was on call on the 20th stays Ben; from now on the new order applies
        // (24 November is turn 8 from the start: 8 % 2 = 0, Cy).
        let past_again = api.get(&on_call_path(&id, "2026-11-20T10:00:00Z")).await;
        assert_eq!(email(&past_again.json), "ben@example.com");
        let future = api.get(&on_call_path(&id, "2026-11-24T10:00:00Z")).await;
        assert_eq!(email(&future.json), "cy@example.com");

        // The backup: the same people, one place later, so nobody backs themselves up.
        let backup = api.post(&format!("/api/v1/schedules/{id}/backup"), json!({})).await;
        assert_eq!(backup.status, 201, "{}", backup.json);
        assert_eq!(backup.json["name"], "Platform backup");
        assert_eq!(backup.json["layers"][0]["participants"], json!(["ana@example.com", "cy@example.com"]));
        let backup_id = backup.json["id"].as_str().expect("id");
        for at in ["2026-11-24T10:00:00Z", "2026-11-25T10:00:00Z", "2026-11-26T10:00:00Z"] {
            let primary = api.get(&on_call_path(&id, at)).await;
            let second = api.get(&on_call_path(backup_id, at)).await;
            assert_ne!(email(&primary.json), email(&second.json), "{at}");
        }

        // A second editor working from the old version is told, not silently overwritten.
        let stale = api.send(reqwest::Method::PUT, &format!("/api/v1/schedules/{id}"), Some(edited)).await;
        assert_eq!(stale.status, 409, "{}", stale.json);
    }

    async fn bad_schedules_are_refused_and_nothing_is_saved(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let cases: [(&str, Value, &str); 6] = [
            ("/time_zone", json!("Mars/Olympus"), "unknown time zone"),
            ("/layers/0/handoff", json!("25:00"), "not a time of day"),
            ("/layers/0/participants", json!([]), "at least one participant"),
            ("/layers/0/participants", json!(["ghost@example.com"]), "not an active user"),
            ("/layers/0/rotation/every", json!("monthly"), "hourly, daily or weekly"),
            ("/layers/0/start", json!("2026-13-01"), "not a date"),
        ];
        for (pointer, value, message) in cases {
            let mut body = platform();
            *body.pointer_mut(pointer).expect("field") = value;
            let refused = api.post("/api/v1/schedules", body).await;
            assert_eq!(refused.status, 400, "{pointer}: {}", refused.json);
            assert!(refused.json["detail"].as_str().expect("detail").contains(message), "{pointer}: {}", refused.json);
        }
        assert_eq!(api.get("/api/v1/schedules").await.json, json!([]));
        let (_, responder) = app.token_for("responder").await;
        assert_eq!(app.api(Some(&responder)).post("/api/v1/schedules", platform()).await.status, 403);
    }

    async fn managers_build_a_schedule_in_the_browser(app: TestApp) {
        team(&app).await;
        let manager = app.signed_in("manager").await;
        let bad = manager.submit("/schedules", "/schedules", &[("name", "Support"), ("time_zone", "Europe/London"), ("layer_name", "Primary"), ("every", "weekly"), ("count", "1"), ("start", "2026-11-16"), ("handoff", "09:00"), ("participants", "")]).await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(bad.body.contains("at least one participant"), "{}", bad.body);
        let made = manager.submit("/schedules", "/schedules", &[("name", "Support"), ("time_zone", "Europe/London"), ("layer_name", "Primary"), ("every", "weekly"), ("count", "1"), ("start", "2026-11-16"), ("handoff", "09:00"), ("participants", "ben@example.com\ncy@example.com"), ("days", "mon"), ("days", "tue"), ("days", "wed"), ("days", "thu"), ("days", "fri"), ("window_from", "09:00"), ("window_to", "17:00")]).await;
        assert_eq!(made.status, 303, "{}", made.body);
        let path = made.location.expect("location");
        let page = manager.get(&path).await;
        assert_eq!(page.status, 200);
        // Sunday 09:00 UTC: outside the business-hours window, so nobody; the gap is drawn.
        assert!(page.body.contains("Nobody is on call"), "{}", page.body);
        assert!(page.body.contains("class=\"tl-gap\""));
        assert!(page.body.contains("Mon, Tue, Wed, Thu, Fri, 09:00-17:00"), "{}", page.body);
        assert!(page.body.contains("Ben"), "the first week is Ben's");

        // An override for the weekend, typed in the schedule's zone.
        let added = manager.submit(&path, &format!("{path}/overrides"), &[("user", "cy@example.com"), ("start", "2026-11-22T08:00"), ("end", "2026-11-22T20:00"), ("reason", "weekend cover")]).await;
        assert_eq!(added.status, 303, "{}", added.body);
        let after = manager.get(&path).await;
        assert!(after.body.contains("weekend cover"));
        assert!(!after.body.contains("Nobody is on call"), "Cy covers now");
        let clash = manager.submit(&path, &format!("{path}/overrides"), &[("user", "ben@example.com"), ("start", "2026-11-22T19:00"), ("end", "2026-11-22T21:00")]).await;
        assert_eq!(clash.status, 422);
        assert!(clash.body.contains("overlaps"), "{}", clash.body);

        // A holiday typed in on the page is marked on the timeline.
        let marked = manager.submit(&path, &format!("{path}/holidays"), &[("day", "2026-11-26"), ("holiday", "Thanksgiving")]).await;
        assert_eq!(marked.status, 303, "{}", marked.body);
        let with_holiday = manager.get(&path).await;
        assert!(with_holiday.body.contains("title=\"Holiday: Thanksgiving\""), "{}", with_holiday.body);
        let nameless = manager.submit(&path, &format!("{path}/holidays"), &[("day", "2026-11-27"), ("holiday", "")]).await;
        assert_eq!(nameless.status, 422);

        // The review page lists the gaps of the coming weeks and draws the load chart.
        let review = manager.get(&format!("{path}/review?month=2026-11")).await;
        assert_eq!(review.status, 200);
        assert!(review.body.contains("with nobody on call"), "{}", review.body);
        assert!(review.body.contains("<svg class=\"load-chart\"") && review.body.contains("Ben"), "{}", review.body);

        let viewer = app.signed_in("viewer").await;
        assert_eq!(viewer.get(&format!("{path}/review")).await.status, 403);
        let oncall = viewer.get("/oncall").await;
        assert_eq!(oncall.status, 200);
        assert!(oncall.body.contains("Support") && oncall.body.contains("cy@example.com"), "{}", oncall.body);
    }

    async fn calendar_feeds_list_the_shifts_behind_a_revocable_token(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let created = api.post("/api/v1/schedules", platform()).await;
        let id = created.json["id"].as_str().expect("id").to_owned();
        let ical_url = created.json["ical_url"].as_str().expect("ical_url").to_owned();
        assert!(ical_url.starts_with(&app.url(&format!("/schedules/{id}.ics?token="))), "{ical_url}");

        let client = reqwest::Client::new();
        let res = client.get(&ical_url).send().await.expect("feed");
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().expect("type").starts_with("text/calendar"));
        let body = res.text().await.expect("body");
        let calendar = icalendar::Calendar::from_str(&body).unwrap_or_else(|e| panic!("not iCalendar: {e}\n{body}"));
        let events: Vec<_> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
        // Daily turns from 30 days back (the rotation began on 16 November) to 180 days ahead.
        assert!(events.len() >= 180, "{} events", events.len());
        use icalendar::Component;
        let uids: std::collections::BTreeSet<_> = events.iter().filter_map(|e| e.get_uid()).collect();
        assert_eq!(uids.len(), events.len(), "one stable UID per shift");
        let today = events
            .iter()
            .find(|e| e.get_start() == Some(icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc("2026-11-22T09:00:00Z".parse().expect("time")))))
            .expect("today's shift");
        assert!(today.get_summary().expect("summary").contains("Ana"), "{:?}", today.get_summary());
        // Refreshing gives the same UIDs, so calendar apps update in place.
        let again = client.get(&ical_url).send().await.expect("feed").text().await.expect("body");
        let again = icalendar::Calendar::from_str(&again).expect("parse");
        let again_uids: std::collections::BTreeSet<_> = again.components.iter().filter_map(|c| c.as_event()).filter_map(|e| e.get_uid().map(str::to_owned)).collect();
        assert_eq!(again_uids, uids.iter().map(|u| u.to_string()).collect());

        // A wrong token, then a replaced link: both 404, nothing revealed.
        let wrong = client.get(app.url(&format!("/schedules/{id}.ics?token=guess"))).send().await.expect("feed");
        assert_eq!(wrong.status(), 404);
        let manager = app.signed_in("manager").await;
        let rotated = manager.submit(&format!("/schedules/{id}"), &format!("/schedules/{id}/feed/rotate"), &[]).await;
        assert_eq!(rotated.status, 303);
        assert_eq!(client.get(&ical_url).send().await.expect("feed").status(), 404);
        let new_url = api.get(&format!("/api/v1/schedules/{id}")).await.json["ical_url"].as_str().expect("url").to_owned();
        assert_ne!(new_url, ical_url);
        assert_eq!(client.get(&new_url).send().await.expect("feed").status(), 200);

        // Ana's own feed, from her profile: only her shifts.
        let ana = app.browser();
        ana.login("ana@example.com", crate::helpers::PASSWORD).await;
        let profile = ana.get("/profile").await;
        assert!(profile.body.contains("My shifts") && profile.body.contains("Platform"), "{}", profile.body);
        let start = profile.body.find("<code id=\"feed-url\">").expect("feed url") + "<code id=\"feed-url\">".len();
        let url = profile.body[start..start + profile.body[start..].find('<').expect("end")].replace("&amp;", "&");
        let mine = client.get(&url).send().await.expect("feed").text().await.expect("body");
        let mine = icalendar::Calendar::from_str(&mine).expect("parse");
        let summaries: Vec<String> = mine.components.iter().filter_map(|c| c.as_event()).filter_map(|e| e.get_summary().map(str::to_owned)).collect();
        assert!(summaries.len() >= 55, "{}", summaries.len());
        assert!(summaries.iter().all(|s| s.contains("Ana")), "{summaries:?}");
    }

    async fn the_hand_off_log_reaches_the_next_person(app: TestApp) {
        team(&app).await;
        let (_, token) = app.token_for("manager").await;
        let id = app.api(Some(&token)).post("/api/v1/schedules", platform()).await.json["id"].as_str().expect("id").to_owned();
        // Ana is on call today and leaves a note for Ben.
        let ana = app.browser();
        ana.login("ana@example.com", crate::helpers::PASSWORD).await;
        let path = format!("/schedules/{id}");
        let empty = ana.submit(&path, &format!("{path}/notes"), &[("body", "   ")]).await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("write something for the next person"));
        let added = ana.submit(&path, &format!("{path}/notes"), &[("body", "db-2 disk at 85 %, cleanup job running")]).await;
        assert_eq!(added.status, 303, "{}", added.body);

        // A day later Ben is on call: his dashboard and /oncall show Ana's note.
        app.clock.advance(chrono::Duration::days(1));
        let ben = app.browser();
        ben.login("ben@example.com", crate::helpers::PASSWORD).await;
        let dashboard = ben.get("/").await;
        assert!(dashboard.body.contains("You are on call for"), "{}", dashboard.body);
        assert!(dashboard.body.contains("db-2 disk at 85 %"), "{}", dashboard.body);
        let oncall = ben.get("/oncall").await;
        assert!(oncall.body.contains("Hand-off notes (1)") && oncall.body.contains("cleanup job running"), "{}", oncall.body);

        // The log is searchable, by page and by API.
        let found = ben.get(&format!("{path}?q=DISK+db-2")).await;
        assert!(found.body.contains("cleanup job running"));
        let none = ben.get(&format!("{path}?q=network")).await;
        assert!(none.body.contains("No notes with"), "{}", none.body);
        let (_, viewer) = app.token_for("viewer").await;
        let api = app.api(Some(&viewer));
        let hits = api.get(&format!("/api/v1/schedules/{id}/notes?q=cleanup")).await;
        assert_eq!(hits.status, 200);
        assert_eq!(hits.json[0]["author"], "Ana");
        assert_eq!(api.get(&format!("/api/v1/schedules/{id}/notes?q=100%25")).await.json, json!([]));
        assert_eq!(api.post(&format!("/api/v1/schedules/{id}/notes"), json!({"body": "hi"})).await.status, 403);
    }
}
