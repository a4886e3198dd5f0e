//! Shift swaps and time off over HTTP: an offer taken becomes an override, a manager approves
//! when the schedule asks for it, and leave that meets duty shows as a conflict until covered.
//! The test clock stands at 2026-11-22T09:00Z; in the rotation below Ana is on call until
//! 23 November 09:00, then Ben for a day, then Cy, then Ana again (London is on UTC in November).

use serde_json::{Value, json};

use crate::helpers::{Api, PASSWORD, TestApp};
use crate::on_both_databases;

struct Team {
    schedule: String,
    manager: Api,
    ana: Api,
    ben: Api,
    cy: Api,
}

async fn team(app: &TestApp) -> Team {
    let mut apis = Vec::new();
    for who in ["ana", "ben", "cy"] {
        let user = app
            .create_user(&format!("{who}@example.com"), "responder")
            .await;
        apis.push(app.api(Some(&app.token_of(&user).await)));
    }
    let (_, token) = app.token_for("manager").await;
    let manager = app.api(Some(&token));
    let created = manager
        .post(
            "/api/v1/schedules",
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
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let mut apis = apis.into_iter();
    Team {
        schedule: created.json["id"].as_str().expect("id").to_owned(),
        manager,
        ana: apis.next().expect("ana"),
        ben: apis.next().expect("ben"),
        cy: apis.next().expect("cy"),
    }
}

async fn on_call(api: &Api, schedule: &str, at: &str) -> (String, String) {
    let reply = api
        .get(&format!("/api/v1/oncall?schedule={schedule}&at={at}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    (
        reply.json["users"][0]["email"]
            .as_str()
            .unwrap_or("nobody")
            .to_owned(),
        reply.json["source"].as_str().unwrap_or("").to_owned(),
    )
}

fn id(reply: &Value) -> String {
    reply["id"].as_str().expect("id").to_owned()
}

const BENS_DAY: (&str, &str) = ("2026-11-23T09:00:00Z", "2026-11-24T09:00:00Z");

on_both_databases! {
    async fn a_taken_swap_becomes_an_override(app: TestApp) {
        let t = team(&app).await;
        let swaps = format!("/api/v1/schedules/{}/swaps", t.schedule);

        // Only your own coming time can be offered.
        let not_hers = t.ana.post(&swaps, json!({"start": BENS_DAY.0, "end": BENS_DAY.1})).await;
        assert_eq!(not_hers.status, 400, "{}", not_hers.json);
        assert!(not_hers.json["fields"]["start"].as_str().unwrap_or("").contains("not on call"), "{}", not_hers.json);
        let past = t.ana.post(&swaps, json!({"start": "2026-11-22T08:00:00Z", "end": "2026-11-22T12:00:00Z"})).await;
        assert_eq!(past.status, 400, "{}", past.json);
        let backwards = t.ben.post(&swaps, json!({"start": BENS_DAY.1, "end": BENS_DAY.0})).await;
        assert_eq!(backwards.status, 400);
        let outsider = t.ben.post(&swaps, json!({"start": BENS_DAY.0, "end": BENS_DAY.1, "offered_to": "nobody@example.com"})).await;
        assert_eq!(outsider.status, 400);
        assert!(outsider.json["fields"]["offered_to"].is_string(), "{}", outsider.json);

        let offered = t.ben.post(&swaps, json!({"start": BENS_DAY.0, "end": BENS_DAY.1, "note": "dentist"})).await;
        assert_eq!(offered.status, 201, "{}", offered.json);
        assert_eq!(offered.json["state"], "open");
        assert_eq!(offered.json["requester"]["email"], "ben@example.com");
        let swap = id(&offered.json);
        let again = t.ben.post(&swaps, json!({"start": "2026-11-23T12:00:00Z", "end": BENS_DAY.1})).await;
        assert_eq!(again.status, 400, "an overlapping second offer: {}", again.json);
        // Offered, not yet taken: the duty is still Ben's.
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await.0, "ben@example.com");

        // Ben cannot take his own; someone outside the rotation cannot take it; a viewer may not.
        let own = t.ben.post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(own.status, 409, "{}", own.json);
        let (_, dee) = app.token_for("responder").await;
        let stranger = app.api(Some(&dee)).post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(stranger.status, 409, "{}", stranger.json);
        assert!(stranger.json["detail"].as_str().unwrap_or("").contains("rotation"), "{}", stranger.json);
        let (_, viewer) = app.token_for("viewer").await;
        let looking = app.api(Some(&viewer)).post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(looking.status, 403);

        let taken = t.cy.post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(taken.status, 200, "{}", taken.json);
        assert_eq!(taken.json["state"], "done");
        assert_eq!(taken.json["taker"]["email"], "cy@example.com");
        assert!(taken.json["override_id"].is_string());
        assert_eq!(
            on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await,
            ("cy@example.com".to_owned(), "override".to_owned())
        );
        // Either side of the swapped day is unchanged.
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T08:59:00Z").await.0, "ana@example.com");
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-24T09:30:00Z").await.0, "cy@example.com");

        // A second click, or somebody else a moment later: told, nothing doubled.
        let twice = t.ana.post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(twice.status, 409, "{}", twice.json);
        let withdraw = t.ben.post(&format!("/api/v1/swaps/{swap}/cancel"), json!({})).await;
        assert_eq!(withdraw.status, 409);
        let listed = t.ana.get(&swaps).await;
        assert_eq!(listed.json["swaps"].as_array().map(Vec::len), Some(1));
        assert_eq!(listed.json["swaps"][0]["state"], "done");
        let shifts = t.manager.get(&format!("/api/v1/schedules/{}/shifts?from=2026-11-23T00:00:00Z&to=2026-11-25T00:00:00Z", t.schedule)).await;
        let overrides = shifts.json["shifts"].as_array().expect("shifts").iter().filter(|s| s["source"] == "override").count();
        assert_eq!(overrides, 1);
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"schedule.swap_offered".to_owned()));
        assert!(actions.contains(&"schedule.swap_taken".to_owned()));

        // A part of a shift, offered to one person only.
        let part = t.ana.post(&swaps, json!({"start": "2026-11-25T18:00:00Z", "end": "2026-11-25T22:00:00Z", "offered_to": "ben@example.com"})).await;
        assert_eq!(part.status, 201, "{}", part.json);
        let wrong = t.cy.post(&format!("/api/v1/swaps/{}/take", id(&part.json)), json!({})).await;
        assert_eq!(wrong.status, 409);
        assert!(wrong.json["detail"].as_str().unwrap_or("").contains("someone else"));
        let right = t.ben.post(&format!("/api/v1/swaps/{}/take", id(&part.json)), json!({})).await;
        assert_eq!(right.status, 200, "{}", right.json);
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-25T19:00:00Z").await.0, "ben@example.com");
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-25T22:00:00Z").await.0, "ana@example.com");
    }

    async fn with_approval_a_manager_decides(app: TestApp) {
        let t = team(&app).await;
        let swaps = format!("/api/v1/schedules/{}/swaps", t.schedule);
        let refused = t.ben.send(reqwest::Method::PUT, &format!("/api/v1/schedules/{}/swap-approval", t.schedule), Some(json!({"required": true}))).await;
        assert_eq!(refused.status, 403, "only managers set the policy");
        let set = t.manager.send(reqwest::Method::PUT, &format!("/api/v1/schedules/{}/swap-approval", t.schedule), Some(json!({"required": true}))).await;
        assert_eq!(set.status, 200, "{}", set.json);
        assert_eq!(t.manager.get(&format!("/api/v1/schedules/{}", t.schedule)).await.json["swaps_need_approval"], true);

        let offered = t.ben.post(&swaps, json!({"start": BENS_DAY.0, "end": BENS_DAY.1})).await;
        let swap = id(&offered.json);
        let taken = t.cy.post(&format!("/api/v1/swaps/{swap}/take"), json!({})).await;
        assert_eq!(taken.status, 200, "{}", taken.json);
        assert_eq!(taken.json["state"], "awaiting_approval");
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await.0, "ben@example.com", "nothing changes before approval");
        let review = t.manager.get(&format!("/api/v1/schedules/{}/review", t.schedule)).await;
        assert_eq!(review.json["pending_swaps"].as_array().map(Vec::len), Some(1), "{}", review.json);
        assert_eq!(review.json["pending_swaps"][0]["taker"]["email"], "cy@example.com");
        let not_manager = t.ana.post(&format!("/api/v1/swaps/{swap}/approve"), json!({})).await;
        assert_eq!(not_manager.status, 403);

        let declined = t.manager.post(&format!("/api/v1/swaps/{swap}/decline"), json!({})).await;
        assert_eq!(declined.status, 200, "{}", declined.json);
        assert_eq!(declined.json["state"], "declined");
        assert!(declined.json["decided_by"].as_str().unwrap_or("").starts_with("manager-"));
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await.0, "ben@example.com");
        let late = t.manager.post(&format!("/api/v1/swaps/{swap}/approve"), json!({})).await;
        assert_eq!(late.status, 409, "a declined swap stays declined");

        let second = id(&t.ben.post(&swaps, json!({"start": BENS_DAY.0, "end": BENS_DAY.1})).await.json);
        t.cy.post(&format!("/api/v1/swaps/{second}/take"), json!({})).await;
        let approved = t.manager.post(&format!("/api/v1/swaps/{second}/approve"), json!({})).await;
        assert_eq!(approved.status, 200, "{}", approved.json);
        assert_eq!(approved.json["state"], "done");
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await.0, "cy@example.com");
        let twice = t.manager.post(&format!("/api/v1/swaps/{second}/approve"), json!({})).await;
        assert_eq!(twice.status, 409);
        assert!(app.audit_actions().await.contains(&"schedule.swap_approved".to_owned()));

        // Withdrawn before anyone takes it: nobody can take it after.
        let third = id(&t.ana.post(&swaps, json!({"start": "2026-11-25T09:00:00Z", "end": "2026-11-26T09:00:00Z"})).await.json);
        let by_other = t.ben.post(&format!("/api/v1/swaps/{third}/cancel"), json!({})).await;
        assert_eq!(by_other.status, 403, "only the one who offered it, or a manager");
        let cancelled = t.ana.post(&format!("/api/v1/swaps/{third}/cancel"), json!({})).await;
        assert_eq!(cancelled.json["state"], "cancelled");
        let after = t.ben.post(&format!("/api/v1/swaps/{third}/take"), json!({})).await;
        assert_eq!(after.status, 409);

        // An offer whose time has come and gone can no longer be taken.
        let fourth = id(&t.ana.post(&swaps, json!({"start": "2026-11-25T09:00:00Z", "end": "2026-11-25T12:00:00Z"})).await.json);
        app.clock.advance(chrono::Duration::days(4));
        let expired = t.ben.post(&format!("/api/v1/swaps/{fourth}/take"), json!({})).await;
        assert_eq!(expired.status, 409, "{}", expired.json);
        assert_eq!(t.ana.get(&format!("/api/v1/swaps/{fourth}")).await.json["state"], "expired");
    }

    async fn swaps_from_the_schedule_page(app: TestApp) {
        let t = team(&app).await;
        let ben = app.browser();
        ben.login("ben@example.com", PASSWORD).await;
        let page = ben.get(&format!("/schedules/{}", t.schedule)).await;
        assert!(page.body.contains("Offer one of your shifts"), "{}", page.body);
        // Ben's coming shifts are the choices: the first one is 23 November.
        let value = "2026-11-23T09:00:00+00:00|2026-11-24T09:00:00+00:00";
        assert!(page.body.contains(value), "{}", page.body);
        let path = format!("/schedules/{}", t.schedule);
        let bad = ben.submit(&path, &format!("{path}/swaps"), &[("shift", ""), ("start", "2026-11-23T12:00"), ("end", "2026-11-23T10:00")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("the end must be after the start"), "{}", bad.body);
        assert!(bad.body.contains("value=\"2026-11-23T12:00\""), "typed input is kept");
        let offered = ben.submit(&path, &format!("{path}/swaps"), &[("shift", value), ("offered_to", ""), ("note", "family visit")]).await;
        assert_eq!(offered.status, 303, "{}", offered.body);
        assert!(ben.get(&path).await.body.contains("family visit"));

        let cy = app.browser();
        cy.login("cy@example.com", PASSWORD).await;
        let seen = cy.get(&path).await;
        assert!(seen.body.contains("Take it"), "{}", seen.body);
        let swap = t.cy.get(&format!("/api/v1/schedules/{}/swaps", t.schedule)).await.json["swaps"][0]["id"].as_str().expect("id").to_owned();
        let taken = cy.submit(&path, &format!("/swaps/{swap}/take"), &[]).await;
        assert_eq!(taken.status, 303);
        let after = cy.get(&path).await;
        assert!(after.body.contains("You took the swap"), "{}", after.body);
        assert!(after.body.contains("swap-done"));
        assert_eq!(on_call(&t.manager, &t.schedule, "2026-11-23T10:00:00Z").await.0, "cy@example.com");
        // A second click answers with a message on the same page, not an error page.
        let again = cy.submit(&path, &format!("/swaps/{swap}/take"), &[]).await;
        assert_eq!(again.status, 303);
        assert!(cy.get(&path).await.body.contains("can no longer change"));
        // Both sides see it on their profile.
        assert!(ben.get("/profile").await.body.contains("My swaps"));
        assert!(cy.get("/profile").await.body.contains("Platform"));
    }

    async fn leave_that_meets_duty_is_a_conflict_until_covered(app: TestApp) {
        let t = team(&app).await;
        let conflicts = format!("/api/v1/schedules/{}/conflicts", t.schedule);
        assert_eq!(t.manager.get(&conflicts).await.json["conflicts"], json!([]));

        // Ana (zone UTC) is away on 25 November; she is on call from 09:00 that day.
        let leave = t.ana.post("/api/v1/time-off", json!({"start": "2026-11-25", "end": "2026-11-25", "reason": "wedding"})).await;
        assert_eq!(leave.status, 201, "{}", leave.json);
        assert_eq!(leave.json["start"], "2026-11-25T00:00:00.000000Z");
        assert_eq!(leave.json["end"], "2026-11-26T00:00:00.000000Z");
        let found = t.manager.get(&conflicts).await;
        assert_eq!(found.json["conflicts"].as_array().map(Vec::len), Some(1), "{}", found.json);
        assert_eq!(found.json["conflicts"][0]["user"]["email"], "ana@example.com");
        assert_eq!(found.json["conflicts"][0]["start"], "2026-11-25T09:00:00.000000Z");
        assert_eq!(found.json["conflicts"][0]["end"], "2026-11-26T00:00:00.000000Z");
        let review = t.manager.get(&format!("/api/v1/schedules/{}/review", t.schedule)).await;
        assert_eq!(review.json["leave_conflicts"].as_array().map(Vec::len), Some(1));

        // The page marks it, and a manager gets a link that pre-fills the override form.
        let manager = app.signed_in("manager").await;
        let page = manager.get(&format!("/schedules/{}", t.schedule)).await;
        assert!(page.body.contains("Leave conflicts"));
        assert!(page.body.contains("tl-conflict"));
        assert!(page.body.contains("cover_from=2026-11-25T09%3A00"), "{}", page.body);
        let prefilled = manager.get(&format!("/schedules/{}?cover_from=2026-11-25T09:00&cover_to=2026-11-26T00:00", t.schedule)).await;
        assert!(prefilled.body.contains("value=\"2026-11-25T09:00\""));

        // Bad input: overlapping leave, backwards days, someone else's leave without the role.
        let overlap = t.ana.post("/api/v1/time-off", json!({"start": "2026-11-24", "end": "2026-11-25"})).await;
        assert_eq!(overlap.status, 400, "{}", overlap.json);
        assert!(overlap.json["fields"]["end"].as_str().unwrap_or("").contains("overlaps"));
        let backwards = t.ana.post("/api/v1/time-off", json!({"start": "2026-12-05", "end": "2026-12-01"})).await;
        assert_eq!(backwards.status, 400);
        let nonsense = t.ana.post("/api/v1/time-off", json!({"start": "soon", "end": "later"})).await;
        assert_eq!(nonsense.status, 400);
        assert!(nonsense.json["fields"]["start"].is_string() && nonsense.json["fields"]["end"].is_string());
        let for_ben = t.ana.post("/api/v1/time-off", json!({"user": "ben@example.com", "start": "2026-12-04", "end": "2026-12-04"})).await;
        assert_eq!(for_ben.status, 403);
        let by_manager = t.manager.post("/api/v1/time-off", json!({"user": "ben@example.com", "start": "2026-12-04", "end": "2026-12-04"})).await;
        assert_eq!(by_manager.status, 201, "{}", by_manager.json);
        let listed = t.cy.get("/api/v1/time-off?user=ben@example.com").await;
        assert_eq!(listed.json["time_off"].as_array().map(Vec::len), Some(1), "{}", listed.json);

        // A manager covers the conflict with an override: it is gone.
        let cover = t.manager.post(&format!("/api/v1/schedules/{}/overrides", t.schedule), json!({"user": "cy@example.com", "start": "2026-11-25T09:00:00Z", "end": "2026-11-26T00:00:00Z", "reason": "Ana away"})).await;
        assert_eq!(cover.status, 201, "{}", cover.json);
        assert_eq!(t.manager.get(&conflicts).await.json["conflicts"], json!([]));

        // Someone else's leave cannot be removed by a responder; what is over stays.
        let ana_leave = id(&leave.json);
        assert_eq!(t.ben.delete(&format!("/api/v1/time-off/{ana_leave}")).await.status, 404);
        app.clock.advance(chrono::Duration::days(5));
        let over = t.ana.delete(&format!("/api/v1/time-off/{ana_leave}")).await;
        assert_eq!(over.status, 409, "{}", over.json);
        let bens = id(&by_manager.json);
        assert_eq!(t.ben.delete(&format!("/api/v1/time-off/{bens}")).await.status, 204);
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"time_off.added".to_owned()));
        assert!(actions.contains(&"time_off.removed".to_owned()));
    }

    async fn leave_from_the_profile_page(app: TestApp) {
        app.create_user("dee@example.com", "viewer").await;
        let dee = app.browser();
        dee.login("dee@example.com", PASSWORD).await;
        let bad = dee.submit("/profile", "/profile/time-off", &[("first_day", "2026-12-10"), ("last_day", "2026-12-01"), ("reason", "trip")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("must not be before the first"), "{}", bad.body);
        assert!(bad.body.contains("value=\"trip\""), "typed input is kept");
        let ok = dee.submit("/profile", "/profile/time-off", &[("first_day", "2026-12-01"), ("last_day", "2026-12-10"), ("reason", "trip")]).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let profile = dee.get("/profile").await;
        assert!(profile.body.contains("Leave recorded"));
        assert!(profile.body.contains("2026-12-01 00:00"), "{}", profile.body);
        let leave_id = app
            .api(Some(&app.token_of(&app.create_user("boss@example.com", "manager").await).await))
            .get("/api/v1/time-off?user=dee@example.com")
            .await
            .json["time_off"][0]["id"]
            .as_str()
            .expect("leave")
            .to_owned();
        let removed = dee.submit("/profile", &format!("/profile/time-off/{leave_id}/delete"), &[]).await;
        assert_eq!(removed.status, 303);
        assert!(dee.get("/profile").await.body.contains("No leave recorded"));
    }
}
