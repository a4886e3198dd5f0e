//! Monitoring tools' webhooks against the real server: the captured payloads from
//! Alertmanager, Grafana and PagerDuty clients, and the refusals that must change nothing.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::on_both_databases;

const AM_FIRING: &str = include_str!("../fixtures/alertmanager-webhook/01-firing-2-alerts.json");
const AM_ONE_RESOLVED: &str =
    include_str!("../fixtures/alertmanager-webhook/02-one-resolved-one-firing.json");
const AM_ALL_RESOLVED: &str = include_str!("../fixtures/alertmanager-webhook/03-all-resolved.json");
const AM_AMTOOL: &str =
    include_str!("../fixtures/alertmanager-webhook/05-amtool-added-alert-first.json");
const AM_RESEND: &str =
    include_str!("../fixtures/alertmanager-webhook/06-repeat_interval-resend-identical.json");
const GRAFANA: &str = include_str!("../fixtures/grafana/01-firing-docs-example.json");
const PD_TRIGGER: &str = include_str!("../fixtures/pagerduty-clients/01-pdpyras-trigger.json");
const PD_ACK: &str = include_str!("../fixtures/pagerduty-clients/02-pdpyras-acknowledge.json");
const PD_RESOLVE: &str = include_str!("../fixtures/pagerduty-clients/03-pdpyras-resolve.json");
const AM_PD_TRIGGER: &str =
    include_str!("../fixtures/alertmanager-pagerduty/01-trigger-2-alerts.json");

/// Incidents of one service through the API, newest first.
async fn incidents_of(app: &TestApp, token: &str, service: &str) -> Vec<Value> {
    let reply = app
        .api(Some(token))
        .get(&format!("/api/v1/incidents?service={service}&limit=200"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["incidents"]
        .as_array()
        .expect("incidents")
        .clone()
}

async fn timeline_of(app: &TestApp, token: &str, incident: &str) -> Vec<Value> {
    let reply = app
        .api(Some(token))
        .get(&format!("/api/v1/incidents/{incident}/timeline"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json.as_array().expect("timeline").clone()
}

fn with_routing_key(body: &str, key: &str) -> String {
    let mut v: Value = serde_json::from_str(body).expect("json");
    v["routing_key"] = json!(key);
    v.to_string()
}

on_both_databases! {
    async fn an_alertmanager_group_opens_one_incident_and_resolves_it(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let (service, _, key) = app.integration("alertmanager").await;
        let hook = format!("/hooks/alertmanager/{key}");

        let reply = app.post_json(&hook, AM_FIRING).await;
        assert_eq!(reply.status, 202, "{}", reply.json);
        assert_eq!(reply.json["alerts"], 2);
        assert_eq!(reply.json["results"][0]["outcome"], "opened");
        assert_eq!(reply.json["results"][1]["outcome"], "attached");
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list.len(), 1);
        let incident = &list[0];
        assert_eq!(incident["status"], "triggered");
        assert_eq!(incident["severity"], "P1", "critical maps to P1");
        assert_eq!(incident["alert_count"], 2);
        assert_eq!(incident["title"], "HighErrorRate (scenario=webhook)");
        assert_eq!(incident["dedup_key"], "{}:{alertname=\"HighErrorRate\", scenario=\"webhook\"}");
        // The response deadline follows the severity: P1 = 1 hour.
        let created = chrono::DateTime::parse_from_rfc3339(incident["created_at"].as_str().expect("t")).expect("t");
        let due = chrono::DateTime::parse_from_rfc3339(incident["ack_deadline"].as_str().expect("t")).expect("t");
        assert_eq!(due - created, chrono::Duration::hours(1));
        let id = incident["id"].as_str().expect("id").to_owned();

        let reply = app.post_json(&hook, AM_ONE_RESOLVED).await;
        assert_eq!(reply.status, 202);
        assert_eq!(reply.json["results"][0]["outcome"], "alert_resolved");
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "triggered", "one alert still fires");

        let reply = app.post_json(&hook, AM_ALL_RESOLVED).await;
        assert_eq!(reply.status, 202);
        assert_eq!(reply.json["results"][0]["outcome"], "incident_resolved");
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list[0]["status"], "resolved");
        assert_eq!(list[0]["resolved_by"], "Alertmanager");
        let timeline = timeline_of(&app, &token, &id).await;
        let kinds: Vec<&str> = timeline.iter().map(|e| e["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["created", "alert_attached", "alert_resolved", "alert_repeated", "alert_resolved", "resolved"], "{timeline:?}");
        assert_eq!(timeline.last().expect("last")["message"], "Resolved by Alertmanager: every alert has resolved");

        // A resolution for a group that is no longer open changes nothing.
        let reply = app.post_json(&hook, AM_ALL_RESOLVED).await;
        assert_eq!(reply.json["results"][0]["outcome"], "ignored");
        assert_eq!(incidents_of(&app, &token, &service).await.len(), 1);
    }

    async fn an_identical_resend_is_one_collapsed_repeat(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let (service, _, key) = app.integration("alertmanager").await;
        let hook = format!("/hooks/alertmanager/{key}");
        assert_eq!(app.post_json(&hook, AM_AMTOOL).await.status, 202);
        for _ in 0..3 {
            let reply = app.post_json(&hook, AM_RESEND).await;
            assert_eq!(reply.json["results"][0]["outcome"], "repeated");
        }
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["alert_count"], 1);
        assert_eq!(list[0]["severity"], "P3", "warning maps to P3");
        let timeline = timeline_of(&app, &token, list[0]["id"].as_str().expect("id")).await;
        assert_eq!(timeline.len(), 2, "repeats collapse into one entry: {timeline:?}");
        assert_eq!(timeline[1]["kind"], "alert_repeated");
        assert_eq!(timeline[1]["repeats"], 3);
        let detail = app.signed_in("viewer").await.get(&format!("/incidents/{}", list[0]["id"].as_str().expect("id"))).await;
        assert!(detail.body.contains("4 times"), "the alert was seen four times: {}", detail.body);
        assert!(detail.body.contains("(3 times"), "{}", detail.body);
    }

    async fn a_key_that_fires_again_opens_a_linked_incident_and_flaps(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let (service, _, key) = app.integration("generic").await;
        let hook = format!("/hooks/generic/{key}");
        let fire = json!({"title": "Queue backlog", "dedup_key": "queue-1", "severity": "P2"}).to_string();
        let resolve = json!({"title": "Queue backlog", "dedup_key": "queue-1", "status": "resolved"}).to_string();
        for round in 0..4 {
            let reply = app.post_json(&hook, fire.clone()).await;
            assert_eq!(reply.json["results"][0]["outcome"], "opened", "round {round}");
            let reply = app.post_json(&hook, resolve.clone()).await;
            assert_eq!(reply.json["results"][0]["outcome"], "incident_resolved", "round {round}");
            app.clock.advance(chrono::Duration::minutes(5));
        }
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list.len(), 4);
        // Newest first: each links to the one before it.
        for pair in list.windows(2) {
            assert_eq!(pair[0]["previous_incident_id"], pair[1]["id"]);
        }
        assert_eq!(list[3]["previous_incident_id"], Value::Null);
        assert_eq!(list[0]["flapping"], true, "the fourth within an hour flaps");
        assert_eq!(list[1]["flapping"], false);
        let page = app.signed_in("viewer").await.get("/incidents").await;
        assert!(page.body.contains(">flapping</span>"), "{}", page.body);

        // An hour later the key is calm again.
        app.clock.advance(chrono::Duration::hours(2));
        app.post_json(&hook, fire.clone()).await;
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list[0]["flapping"], false);
    }

    async fn one_incident_per_alert_when_the_integration_says_so(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, integration, key) = app.integration("alertmanager").await;
        let reply = app
            .api(Some(&admin))
            .patch(&format!("/api/v1/services/{service}/integrations/{integration}"), json!({"per_alert": true}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let reply = app.post_json(&format!("/hooks/alertmanager/{key}"), AM_FIRING).await;
        assert_eq!(reply.json["results"][0]["outcome"], "opened");
        assert_eq!(reply.json["results"][1]["outcome"], "opened");
        let list = incidents_of(&app, &admin, &service).await;
        assert_eq!(list.len(), 2);
        let titles: Vec<&str> = list.iter().map(|i| i["title"].as_str().unwrap_or("")).collect();
        assert!(titles.contains(&"5xx rate above 5% on web-1") && titles.contains(&"5xx rate above 5% on web-2"), "{titles:?}");
        let keys: Vec<&str> = list.iter().map(|i| i["dedup_key"].as_str().unwrap_or("")).collect();
        assert!(keys.contains(&"87c73a3cfbdf1098") && keys.contains(&"b2fe236da1f54cab"), "{keys:?}");
    }

    async fn the_severity_mapping_is_the_integrations(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, integration, key) = app.integration("alertmanager").await;
        let api = app.api(Some(&admin));
        let reply = api
            .patch(
                &format!("/api/v1/services/{service}/integrations/{integration}"),
                json!({"severity_label": "priority", "severity_words": "page=P0, ticket=P3", "default_severity": "P3"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let body = |group: &str, labels: Value| {
            json!({"version": "4", "status": "firing", "groupKey": group, "alerts": [{"status": "firing", "labels": labels, "fingerprint": group}]}).to_string()
        };
        let hook = format!("/hooks/alertmanager/{key}");
        app.post_json(&hook, body("a", json!({"alertname": "A", "priority": "page"}))).await;
        app.post_json(&hook, body("b", json!({"alertname": "B", "priority": "P1"}))).await;
        app.post_json(&hook, body("c", json!({"alertname": "C", "priority": "whatever", "severity": "critical"}))).await;
        let list = incidents_of(&app, &admin, &service).await;
        let severity_of = |title: &str| list.iter().find(|i| i["title"] == title).map(|i| i["severity"].clone());
        assert_eq!(severity_of("A"), Some(json!("P0")), "mapped word");
        assert_eq!(severity_of("B"), Some(json!("P1")), "explicit level kept");
        assert_eq!(severity_of("C"), Some(json!("P3")), "unknown word: the default; the old label is not read");

        // A more urgent alert joining raises the incident and its deadlines.
        app.post_json(&hook, json!({"version": "4", "groupKey": "c", "alerts": [{"status": "firing", "labels": {"alertname": "C2", "priority": "page"}, "fingerprint": "c2"}]}).to_string()).await;
        let list = incidents_of(&app, &admin, &service).await;
        let c = list.iter().find(|i| i["title"] == "C").expect("C");
        assert_eq!(c["severity"], "P0");
        let created = chrono::DateTime::parse_from_rfc3339(c["created_at"].as_str().expect("t")).expect("t");
        let due = chrono::DateTime::parse_from_rfc3339(c["ack_deadline"].as_str().expect("t")).expect("t");
        assert_eq!(due - created, chrono::Duration::minutes(15));

        let reply = api
            .patch(&format!("/api/v1/services/{service}/integrations/{integration}"), json!({"severity_words": "page"}))
            .await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["fields"]["severity_words"].is_string(), "{}", reply.json);
    }

    async fn pagerduty_clients_trigger_acknowledge_and_resolve(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let (service, _, key) = app.integration("pagerduty").await;
        let reply = app.post_json("/v2/enqueue", with_routing_key(PD_TRIGGER, &key)).await;
        assert_eq!(reply.status, 202);
        assert_eq!(reply.json, json!({"status": "success", "message": "Event processed", "dedup_key": "disk-db-7"}));
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["title"], "Disk full on db-7");
        assert_eq!(list[0]["severity"], "P3", "warning maps to P3");

        let reply = app.post_json("/v2/enqueue", with_routing_key(PD_ACK, &key)).await;
        assert_eq!(reply.status, 202);
        assert_eq!(reply.json["dedup_key"], "disk-db-7");
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list[0]["status"], "acknowledged");
        assert_eq!(list[0]["acknowledged_by"], "PagerDuty Events API");

        let reply = app.post_json("/v2/enqueue", with_routing_key(PD_RESOLVE, &key)).await;
        assert_eq!(reply.status, 202);
        let list = incidents_of(&app, &token, &service).await;
        assert_eq!(list[0]["status"], "resolved");

        // Alertmanager through pagerduty_configs: SHA-256 dedup keys, an empty source.
        let reply = app.post_json("/v2/enqueue", with_routing_key(AM_PD_TRIGGER, &key)).await;
        assert_eq!(reply.status, 202, "{}", reply.json);
        assert_eq!(reply.json["dedup_key"], "505ee9c30ca4e6531fdf3803cfd979190456529c814e3cfa20d0bac385ad6876");
        assert_eq!(incidents_of(&app, &token, &service).await[0]["severity"], "P1");

        // A trigger without a dedup_key gets one, and says which.
        let mut body: Value = serde_json::from_str(&with_routing_key(PD_TRIGGER, &key)).expect("json");
        body.as_object_mut().expect("object").remove("dedup_key");
        let reply = app.post_json("/v2/enqueue", body.to_string()).await;
        assert_eq!(reply.status, 202);
        let generated = reply.json["dedup_key"].as_str().expect("dedup key").to_owned();
        assert!(!generated.is_empty());
        let again = app.post_json("/v2/enqueue", body.to_string()).await;
        assert_eq!(again.json["dedup_key"].as_str(), Some(generated.as_str()), "the same event keeps its key");
    }

    async fn pagerduty_refusals_look_like_pagerdutys(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let (service, _, key) = app.integration("pagerduty").await;
        let reply = app.post_json("/v2/enqueue", json!({"payload": {"summary": "x"}}).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["status"], "invalid event");
        let errors = reply.json["errors"].as_array().expect("errors");
        assert!(errors.len() >= 2, "every problem at once: {errors:?}");
        let reply = app.post_json("/v2/enqueue", "{not json").await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["status"], "invalid event");
        let reply = app.post_json("/v2/enqueue", with_routing_key(PD_TRIGGER, "not-a-key-of-ours")).await;
        assert_eq!(reply.status, 404);
        let mut bad = serde_json::from_str::<Value>(&with_routing_key(PD_TRIGGER, &key)).expect("json");
        bad["payload"]["severity"] = json!("apocalyptic");
        let reply = app.post_json("/v2/enqueue", bad.to_string()).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["errors"][0].as_str().unwrap_or("").contains("severity"), "{}", reply.json);
        assert!(incidents_of(&app, &token, &service).await.is_empty(), "nothing stored");
    }

    async fn generic_json_and_grafana(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, _, key) = app.integration("generic").await;
        let hook = format!("/hooks/generic/{key}");
        let reply = app.post_json(&hook, json!({"title": "Checkout slow"}).to_string()).await;
        assert_eq!(reply.status, 202, "{}", reply.json);
        let again = app.post_json(&hook, json!({"title": "  Checkout slow "}).to_string()).await;
        assert_eq!(again.json["results"][0]["outcome"], "repeated", "same title, same incident");
        let list = incidents_of(&app, &admin, &service).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["severity"], "P2", "no severity: the integration's default");
        let resolved = app.post_json(&hook, json!({"title": "Checkout slow", "status": "resolved"}).to_string()).await;
        assert_eq!(resolved.json["results"][0]["outcome"], "incident_resolved");

        let reply = app.post_json(&hook, json!({"title": "x", "severity": "P7"}).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["field"], "severity");
        let reply = app.post_json(&hook, json!({"severity": "P1"}).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["field"], "title");

        let (gservice, gintegration, gkey) = app.integration("grafana").await;
        let ghook = format!("/hooks/grafana/{gkey}");
        let reply = app.post_json(&ghook, GRAFANA).await;
        assert_eq!(reply.status, 202, "{}", reply.json);
        let list = incidents_of(&app, &admin, &gservice).await;
        assert_eq!(list.len(), 1);

        // With a signing secret, only signed bodies are taken.
        let reply = app
            .api(Some(&admin))
            .patch(&format!("/api/v1/services/{gservice}/integrations/{gintegration}"), json!({"signing_secret": "grafana-secret"}))
            .await;
        assert_eq!(reply.status, 200);
        let body = json!({"version": "1", "groupKey": "signed", "alerts": [{"status": "firing", "labels": {"alertname": "Signed"}}]}).to_string();
        let unsigned = app.post_json(&ghook, body.clone()).await;
        assert_eq!(unsigned.status, 401);
        let signature = {
            use hmac::{Hmac, KeyInit, Mac};
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"grafana-secret").expect("key");
            mac.update(body.as_bytes());
            mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let res = reqwest::Client::new()
            .post(app.url(&ghook))
            .header("content-type", "application/json")
            .header("x-grafana-alerting-signature", signature)
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 202);
        assert_eq!(incidents_of(&app, &admin, &gservice).await.len(), 2);
    }

    async fn refused_webhooks_change_nothing(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, integration, key) = app.integration("alertmanager").await;
        let hook = format!("/hooks/alertmanager/{key}");

        let reply = app.post_json("/hooks/alertmanager/no-such-key", AM_FIRING).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json["detail"], "unknown integration key");

        let reply = app.post_json(&hook, "{\"alerts\": [").await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["field"], "body");
        let reply = app.post_json(&hook, json!({"version": "4", "alerts": [{"labels": {"a": "b"}}]}).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["field"], "alerts[0].status");
        let reply = app.post_json(&hook, json!({"version": "4"}).to_string()).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["field"], "alerts");

        let huge = format!("{{\"alerts\": [], \"pad\": \"{}\"}}", "x".repeat(1024 * 1024));
        let reply = app.post_json(&hook, huge).await;
        assert_eq!(reply.status, 413);
        assert!(incidents_of(&app, &admin, &service).await.is_empty(), "nothing stored by refusals");

        // Rotating: the old key stops at once, the new one works.
        let api = app.api(Some(&admin));
        let reply = api.post(&format!("/api/v1/services/{service}/integrations/{integration}/rotate-key"), json!({})).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let new_key = reply.json["key"].as_str().expect("key").to_owned();
        assert_eq!(app.post_json(&hook, AM_FIRING).await.status, 404);
        assert_eq!(app.post_json(&format!("/hooks/alertmanager/{new_key}"), AM_FIRING).await.status, 202);

        // Revoking: 404, like a key that never existed.
        let reply = api.delete(&format!("/api/v1/services/{service}/integrations/{integration}")).await;
        assert_eq!(reply.status, 204);
        let reply = app.post_json(&format!("/hooks/alertmanager/{new_key}"), AM_FIRING).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json["detail"], "unknown integration key");

        let metrics = app.browser().get("/metrics").await.body;
        for line in [
            r#"lookout_webhooks_total{kind="alertmanager",outcome="unknown_key"} 3"#,
            r#"lookout_webhooks_total{kind="alertmanager",outcome="invalid"} 3"#,
            r#"lookout_webhooks_total{kind="alertmanager",outcome="too_large"} 1"#,
            r#"lookout_webhooks_total{kind="alertmanager",outcome="accepted"} 1"#,
            r#"lookout_webhook_alerts_total{kind="alertmanager",outcome="accepted"} 2"#,
        ] {
            assert!(metrics.contains(line), "{line} missing:\n{metrics}");
        }
    }

    async fn archived_services_refuse_alerts(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, _, key) = app.integration("generic").await;
        let api = app.api(Some(&admin));
        assert_eq!(api.patch(&format!("/api/v1/services/{service}"), json!({"archived": true})).await.status, 200);
        let hook = format!("/hooks/generic/{key}");
        assert_eq!(app.post_json(&hook, json!({"title": "x"}).to_string()).await.status, 404);
        assert_eq!(api.patch(&format!("/api/v1/services/{service}"), json!({"archived": false})).await.status, 200);
        assert_eq!(app.post_json(&hook, json!({"title": "x"}).to_string()).await.status, 202);
    }

    async fn the_optional_rate_limit_answers_429(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, integration, key) = app.integration("generic").await;
        let reply = app
            .api(Some(&admin))
            .patch(&format!("/api/v1/services/{service}/integrations/{integration}"), json!({"rate_limit_per_second": 1, "rate_limit_burst": 2}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let hook = format!("/hooks/generic/{key}");
        for i in 0..2 {
            assert_eq!(app.post_json(&hook, json!({"title": format!("t{i}")}).to_string()).await.status, 202);
        }
        let limited = app.post_json(&hook, json!({"title": "t3"}).to_string()).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.headers["retry-after"], "1");
        assert_eq!(incidents_of(&app, &admin, &service).await.len(), 2, "the refused alert was not stored");
        app.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(app.post_json(&hook, json!({"title": "t3"}).to_string()).await.status, 202);
        // Off again with null.
        let reply = app
            .api(Some(&admin))
            .patch(&format!("/api/v1/services/{service}/integrations/{integration}"), json!({"rate_limit_per_second": null}))
            .await;
        assert_eq!(reply.json["rate_limit_per_second"], Value::Null);
        for i in 0..5 {
            assert_eq!(app.post_json(&hook, json!({"title": format!("u{i}")}).to_string()).await.status, 202);
        }
    }

    async fn a_storm_of_identical_alerts_opens_one_incident(app: TestApp) {
        let (_, admin) = app.token_for("admin").await;
        let (service, _, key) = app.integration("alertmanager").await;
        let (second, _) = app.second_instance().await;
        let client = reqwest::Client::new();
        let mut requests = Vec::new();
        for i in 0..60 {
            // Half to each instance: they race on the same database.
            let base = if i % 2 == 0 { app.url("") } else { second.clone() };
            let url = format!("{base}/hooks/alertmanager/{key}");
            let client = client.clone();
            requests.push(tokio::spawn(async move {
                client.post(url).header("content-type", "application/json").body(AM_AMTOOL).send().await.map(|r| r.status().as_u16())
            }));
        }
        for r in requests {
            assert_eq!(r.await.expect("task").expect("request"), 202);
        }
        let list = incidents_of(&app, &admin, &service).await;
        assert_eq!(list.len(), 1, "exactly one incident: {list:?}");
        assert_eq!(list[0]["alert_count"], 1);
        let detail = app.signed_in("viewer").await.get(&format!("/incidents/{}", list[0]["id"].as_str().expect("id"))).await;
        assert!(detail.body.contains("60 times"), "every alert counted: {}", detail.body);
    }
}
