//! Incidents as people handle them: the list, one incident, the buttons, the API, live updates.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;

/// Opens an incident through a generic integration; returns (service id, incident id).
async fn open_incident(app: &TestApp, title: &str, severity: &str) -> (String, String) {
    let (service, _, key) = app.integration("generic").await;
    let reply = app
        .post_json(
            &format!("/hooks/generic/{key}"),
            json!({"title": title, "severity": severity, "labels": {"host": "db-1"}}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    (
        service,
        reply.json["results"][0]["incident_id"]
            .as_str()
            .expect("id")
            .to_owned(),
    )
}

on_both_databases! {
    async fn responders_acknowledge_and_resolve_from_the_page(app: TestApp) {
        let (_, id) = open_incident(&app, "Checkout is down", "P0").await;
        let b = app.signed_in("responder").await;
        let page = b.get(&format!("/incidents/{id}")).await;
        assert_eq!(page.status, 200);
        for needed in ["Checkout is down", ">P0<", ">triggered<", "ack due in 15 min", "Acknowledge", "host</span>=db-1"] {
            assert!(page.body.contains(needed), "{needed} missing: {}", page.body);
        }
        let ack = b.submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/acknowledge"), &[]).await;
        assert_eq!(ack.status, 303);
        // A double click: harmless, and says so.
        let again = b.submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/acknowledge"), &[]).await;
        assert_eq!(again.status, 303);
        let page = b.get(&format!("/incidents/{id}")).await;
        assert!(page.body.contains("It was already acknowledged."), "{}", page.body);
        assert!(page.body.contains(">acknowledged<"));
        assert!(!page.body.contains(">Acknowledge</button>"), "no acknowledge button once acknowledged");

        let note = b.submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/notes"), &[("note", "Restarted the pods")]).await;
        assert_eq!(note.status, 303);
        let empty = b.submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/notes"), &[("note", "   ")]).await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("write something first"));

        let resolved = b.submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/resolve"), &[]).await;
        assert_eq!(resolved.status, 303);
        let page = b.get(&format!("/incidents/{id}")).await;
        assert!(page.body.contains(">resolved<"));
        let timeline_at = page.body.find("id=\"timeline\"").expect("timeline");
        let timeline = &page.body[timeline_at..];
        let order = ["Opened by", "Acknowledged by", "Restarted the pods", "Resolved by"];
        let positions: Vec<usize> = order.iter().map(|t| timeline.find(t).unwrap_or_else(|| panic!("{t} missing"))).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "timeline out of order: {positions:?}");

        let actions = app.audit_actions().await;
        for a in ["incident.acknowledged", "incident.note_added", "incident.resolved"] {
            assert_eq!(actions.iter().filter(|x| *x == a).count(), 1, "{a} once: {actions:?}");
        }
    }

    async fn viewers_see_but_cannot_act(app: TestApp) {
        let (_, id) = open_incident(&app, "Read only", "P2").await;
        let viewer = app.signed_in("viewer").await;
        let page = viewer.get(&format!("/incidents/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("ack-form"), "no buttons for viewers");
        let token = page.csrf_token();
        let res = viewer.post_raw(&format!("/incidents/{id}/acknowledge"), &[("csrf_token", &token)]).await;
        assert_eq!(res.status, 403);
        let (_, api_token) = app.token_for("viewer").await;
        assert_eq!(app.api(Some(&api_token)).post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({})).await.status, 403);
    }

    async fn severity_and_assignee_changes(app: TestApp) {
        let (_, id) = open_incident(&app, "Slow search", "P3").await;
        let (me, token) = app.token_for("responder").await;
        let api = app.api(Some(&token));
        let reply = api.post(&format!("/api/v1/incidents/{id}/severity"), json!({"severity": "P0"})).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["severity"], "P0");
        let created = chrono::DateTime::parse_from_rfc3339(reply.json["created_at"].as_str().expect("t")).expect("t");
        let due = chrono::DateTime::parse_from_rfc3339(reply.json["ack_deadline"].as_str().expect("t")).expect("t");
        assert_eq!(due - created, chrono::Duration::minutes(15), "deadlines follow the new severity");
        assert_eq!(api.post(&format!("/api/v1/incidents/{id}/severity"), json!({"severity": "P9"})).await.status, 400);

        let reply = api.post(&format!("/api/v1/incidents/{id}/reassign"), json!({"assignee": me.email})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json["assignee"], me.email.as_str());
        let reply = api.post(&format!("/api/v1/incidents/{id}/reassign"), json!({"assignee": "ghost@example.com"})).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["fields"]["assignee"].is_string());
        let reply = api.post(&format!("/api/v1/incidents/{id}/reassign"), json!({"assignee": null})).await;
        assert_eq!(reply.json["assignee"], Value::Null);

        let timeline = api.get(&format!("/api/v1/incidents/{id}/timeline")).await.json;
        let messages: Vec<&str> = timeline.as_array().expect("list").iter().map(|e| e["message"].as_str().unwrap_or("")).collect();
        assert!(messages.iter().any(|m| m.starts_with("Severity changed from P3 to P0")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("Assigned to")), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("Unassigned")), "{messages:?}");
    }

    async fn the_list_sorts_open_first_filters_and_pages(app: TestApp) {
        let (svc_a, _, key_a) = app.integration("generic").await;
        let (_, _, key_b) = app.integration("generic").await;
        let (_, token) = app.token_for("responder").await;
        let api = app.api(Some(&token));
        let mut ids = Vec::new();
        for i in 0..7 {
            let key = if i % 2 == 0 { &key_a } else { &key_b };
            let sev = ["P0", "P1", "P2", "P3"][i % 4];
            let reply = app.post_json(&format!("/hooks/generic/{key}"), json!({"title": format!("Problem {i}"), "severity": sev}).to_string()).await;
            ids.push(reply.json["results"][0]["incident_id"].as_str().expect("id").to_owned());
            app.clock.advance(chrono::Duration::minutes(1));
        }
        // The two oldest resolved: they sort after the open ones.
        for id in &ids[0..2] {
            assert_eq!(api.post(&format!("/api/v1/incidents/{id}/resolve"), json!({})).await.status, 200);
        }
        let all = api.get("/api/v1/incidents").await.json;
        let order: Vec<&str> = all["incidents"].as_array().expect("list").iter().map(|i| i["title"].as_str().unwrap_or("")).collect();
        assert_eq!(order, ["Problem 6", "Problem 5", "Problem 4", "Problem 3", "Problem 2", "Problem 1", "Problem 0"]);
        let statuses: Vec<&str> = all["incidents"].as_array().expect("list").iter().map(|i| i["status"].as_str().unwrap_or("")).collect();
        assert_eq!(&statuses[5..], ["resolved", "resolved"]);

        // Pages of two walk the same order without repeats.
        let mut walked = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = api.get(&format!("/api/v1/incidents?limit=2&cursor={cursor}")).await.json;
            for i in page["incidents"].as_array().expect("list") {
                walked.push(i["title"].as_str().expect("title").to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(walked, order);

        let only = |q: &str| {
            let api = &api;
            let q = q.to_owned();
            async move {
                let r = api.get(&format!("/api/v1/incidents?{q}")).await;
                assert_eq!(r.status, 200, "{q}: {}", r.json);
                r.json["incidents"].as_array().expect("list").iter().map(|i| i["title"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>()
            }
        };
        assert_eq!(only("status=resolved").await, ["Problem 1", "Problem 0"]);
        assert_eq!(only("status=open&severity=P0").await, ["Problem 4"]);
        assert_eq!(only(&format!("service={svc_a}&status=triggered")).await, ["Problem 6", "Problem 4", "Problem 2"]);
        assert_eq!(only("q=problem%205").await, ["Problem 5"]);
        let number = all["incidents"][0]["number"].as_i64().expect("number");
        assert_eq!(only(&format!("q=%23{number}")).await, ["Problem 6"]);
        assert_eq!(api.get("/api/v1/incidents?status=sleeping").await.status, 400);
        assert_eq!(api.get("/api/v1/incidents?cursor=garbage").await.status, 400);
        assert_eq!(api.get("/api/v1/incidents?service=nope").await.status, 400);

        // The page shows the same, with filters kept in the form.
        let b = app.signed_in("viewer").await;
        let page = b.get("/incidents?severity=P0&status=open").await;
        assert!(page.body.contains("Problem 4") && !page.body.contains("Problem 0"), "{}", page.body);
        assert!(page.body.contains("<option selected>P0</option>"));
        let rows = b.get("/incidents?fragment=rows").await;
        assert!(!rows.body.contains("<html"), "the fragment is rows only");
        assert_eq!(rows.body.matches("<tr class=\"incident-row\"").count(), 7);
        let paged = b.get("/incidents?status=all").await;
        assert!(!paged.body.contains("Older incidents"), "fits on one page");
    }

    async fn incidents_through_the_api(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let service = app
            .api(Some(&admin))
            .post("/api/v1/services", json!({"name": "Payments"}))
            .await
            .json["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let (_, token) = app.token_for("responder").await;
        let api = app.api(Some(&token));
        let reply = api.post("/api/v1/incidents", json!({"title": "Refunds fail", "service": "payments", "severity": "P1", "description": "Card refunds return 500"})).await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        for field in ["id", "title", "severity", "status", "service", "dedup_key", "alert_count", "created_at", "acknowledged_at", "resolved_at", "ack_deadline", "sla_breached", "escalation_step", "assignee"] {
            assert!(reply.json.get(field).is_some(), "{field} missing from {}", reply.json);
        }
        assert_eq!(reply.json["service"], "Payments");
        assert_eq!(reply.json["service_id"], service.as_str());
        assert_eq!(reply.json["status"], "triggered");
        assert_eq!(reply.json["sla_breached"], false);
        let id = reply.json["id"].as_str().expect("id").to_owned();
        let number = reply.json["number"].as_i64().expect("number");

        assert_eq!(api.get(&format!("/api/v1/incidents/{number}")).await.json["id"], id.as_str(), "by number too");
        assert_eq!(api.get("/api/v1/incidents/00000000-0000-7000-8000-000000000000").await.status, 404);

        let bad = api.post("/api/v1/incidents", json!({"title": "", "service": "nope", "severity": "P5"})).await;
        assert_eq!(bad.status, 400);
        for field in ["title", "service", "severity"] {
            assert!(bad.json["fields"][field].is_string(), "{field}: {}", bad.json);
        }

        // The SLA: an hour later without an acknowledgement the P1 is breached.
        app.clock.advance(chrono::Duration::minutes(61));
        app.settle().await;
        assert_eq!(api.get(&format!("/api/v1/incidents/{id}")).await.json["sla_breached"], true);
        let page = app.signed_in("viewer").await.get("/incidents").await;
        assert!(page.body.contains("breached\">ack overdue by 1 min"), "{}", page.body);

        let reply = api.post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json["changed"], true);
        assert_eq!(reply.json["status"], "acknowledged");
        let reply = api.post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({})).await;
        assert_eq!(reply.json["changed"], false, "idempotent");
        let reply = api.post(&format!("/api/v1/incidents/{id}/notes"), json!({"text": "Rolled back"})).await;
        assert_eq!(reply.status, 201);
        let reply = api.post(&format!("/api/v1/incidents/{id}/notes"), json!({"text": "x".repeat(10_001)})).await;
        assert_eq!(reply.status, 400);
        let reply = api.post(&format!("/api/v1/incidents/{id}/resolve"), json!({})).await;
        assert_eq!(reply.json["status"], "resolved");
        let reply = api.post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({})).await;
        assert_eq!(reply.status, 409, "a resolved incident cannot be acknowledged");

        let timeline = api.get(&format!("/api/v1/incidents/{id}/timeline")).await.json;
        let kinds: Vec<&str> = timeline.as_array().expect("list").iter().map(|e| e["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["created", "sla_breached", "acknowledged", "note", "resolved"]);
        for e in timeline.as_array().expect("list") {
            for field in ["at", "kind", "actor", "message"] {
                assert!(e.get(field).is_some(), "{field}");
            }
        }
    }

    async fn people_open_incidents_by_hand(app: TestApp) {
        let (service, _, _) = app.integration("generic").await;
        let b = app.signed_in("responder").await;
        let form = b.get("/incidents/new").await;
        assert_eq!(form.status, 200);
        let bad = b.submit("/incidents/new", "/incidents", &[("title", ""), ("service", ""), ("severity", "P1")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("title is required") && bad.body.contains("choose a service"), "{}", bad.body);
        let made = b
            .submit("/incidents/new", "/incidents", &[("title", "Customers report timeouts"), ("service", &service), ("severity", "P1"), ("description", "Support has 12 tickets")])
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let page = b.get(made.location.as_deref().expect("location")).await;
        assert!(page.body.contains("Customers report timeouts") && page.body.contains("Support has 12 tickets"));
        assert!(page.body.contains("Opened by hand: no alerts."));
        assert!(app.audit_actions().await.contains(&"incident.created".to_owned()));
        let viewer = app.signed_in("viewer").await;
        assert_eq!(viewer.get("/incidents/new").await.status, 403);
    }

    async fn alert_links_are_shown_only_when_safe(app: TestApp) {
        let (_, _, key) = app.integration("alertmanager").await;
        let body = json!({"version": "4", "groupKey": "g", "alerts": [{
            "status": "firing", "fingerprint": "f",
            "labels": {"alertname": "XSS", "severity": "critical"},
            "annotations": {"summary": "<script>alert(1)</script>", "runbook_url": "javascript:alert(1)"},
            "generatorURL": "https://prometheus.example/graph?g0.expr=up"
        }]});
        let reply = app.post_json(&format!("/hooks/alertmanager/{key}"), body.to_string()).await;
        let id = reply.json["results"][0]["incident_id"].as_str().expect("id").to_owned();
        let page = app.signed_in("viewer").await.get(&format!("/incidents/{id}")).await;
        assert!(!page.body.contains("<script>alert(1)"), "escaped");
        assert!(page.body.contains("&#60;script&#62;alert(1)"), "shown as text");
        assert!(!page.body.contains("href=\"javascript:"), "no javascript: links");
        assert!(page.body.contains("href=\"https://prometheus.example/graph?g0.expr=up\""), "{}", page.body);
    }

    async fn the_dashboard_counts_open_incidents_and_shows_activity(app: TestApp) {
        open_incident(&app, "Disk almost full", "P1").await;
        open_incident(&app, "Cert expires soon", "P3").await;
        let page = app.signed_in("viewer").await.get("/").await;
        assert!(page.body.contains("Open incidents"));
        assert!(page.body.contains("See open incidents"));
        assert!(page.body.contains("Disk almost full") && page.body.contains("Cert expires soon"), "{}", page.body);
        assert!(page.body.contains("class=\"num hot\">1<"), "{}", page.body);
    }

    async fn live_updates_arrive_as_server_sent_events(app: TestApp) {
        let b = app.signed_in("viewer").await;
        let mut stream = b.client.get(b.url("/incidents/stream")).send().await.expect("stream");
        assert_eq!(stream.status(), 200);
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
        let (_, id) = open_incident(&app, "Live one", "P2").await;
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !seen.contains(&id) {
            let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("an event in time").expect("chunk").expect("open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(seen.contains(&format!("event: incident\ndata: {id}\n\n")), "{seen}");
        assert_eq!(app.browser().get("/incidents/stream").await.status, 303, "strangers get no stream");
    }
}
