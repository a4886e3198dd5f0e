//! Services and integrations: managers create and configure them; keys are shown once.

use serde_json::json;

use crate::on_both_databases;

fn shown(body: &str, id: &str) -> String {
    let marker = format!("<code id=\"{id}\">");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("{id} not shown"))
        + marker.len();
    let end = body[start..].find('<').expect("end") + start;
    body[start..end].to_owned()
}

on_both_databases! {
    async fn managers_create_services_and_integrations_in_the_browser(app: TestApp) {
        let manager = app.signed_in("manager").await;
        let made = manager.submit("/services", "/services", &[("name", "Checkout"), ("description", "Takes the money"), ("owner", "")]).await;
        assert_eq!(made.status, 303, "{}", made.body);
        let service_path = made.location.expect("location");
        let page = manager.get(&service_path).await;
        assert!(page.body.contains("Checkout") && page.body.contains("None yet: alerts cannot reach this service."));

        let dup = manager.submit("/services", "/services", &[("name", "checkout"), ("description", "")]).await;
        assert_eq!(dup.status, 422);
        assert!(dup.body.contains("a service with this name already exists"), "{}", dup.body);

        let created = manager.submit(&service_path, &format!("{service_path}/integrations"), &[("kind", "alertmanager"), ("name", "prod")]).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let key = shown(&created.body, "integration-key");
        assert_eq!(key.len(), 32);
        let url = shown(&created.body, "webhook-url");
        assert_eq!(url, app.url(&format!("/hooks/alertmanager/{key}")));
        assert!(created.body.contains("webhook_configs:"), "Alertmanager snippet");
        assert!(created.body.contains("pagerduty_configs:") && created.body.contains(&format!("routing_key: {key}")));
        assert!(created.body.contains(&format!("url: {}", app.url("/v2/enqueue"))));
        assert!(created.body.contains("curl -X POST"));
        assert_eq!(app.post_json(&format!("/hooks/alertmanager/{key}"), include_str!("../fixtures/alertmanager-webhook/01-firing-2-alerts.json")).await.status, 202);

        // Later the page shows only the start of the key.
        let integration_path = {
            let at = created.body.find("action=\"/services/").expect("form");
            let rest = &created.body[at + "action=\"".len()..];
            rest[..rest.find('"').expect("end")].to_owned()
        };
        let later = manager.get(&integration_path).await;
        assert_eq!(later.status, 200);
        assert!(!later.body.contains(&key), "the key is shown only once");
        assert!(later.body.contains(&key[..6]));

        // Settings: bad input shown next to its field, nothing saved.
        let bad = manager
            .submit(&integration_path, &integration_path, &[("name", "prod"), ("severity_label", "severity"), ("severity_words", "critical=P9"), ("default_severity", "P2"), ("rate_limit_per_second", "fast")])
            .await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("unknown severity") && bad.body.contains("must be a whole number"), "{}", bad.body);
        let ok = manager
            .submit(&integration_path, &integration_path, &[("name", "prod"), ("severity_label", "severity"), ("severity_words", "critical=P0"), ("default_severity", "P3"), ("per_alert", "1")])
            .await;
        assert_eq!(ok.status, 303, "{}", ok.body);
        let page = manager.get(&integration_path).await;
        assert!(page.body.contains("value=\"critical=P0\"") && page.body.contains("name=\"per_alert\" value=\"1\" checked"), "{}", page.body);

        let rotated = manager.submit(&integration_path, &format!("{integration_path}/rotate"), &[]).await;
        assert_eq!(rotated.status, 200);
        let new_key = shown(&rotated.body, "integration-key");
        assert_ne!(new_key, key);
        assert_eq!(app.post_json(&format!("/hooks/alertmanager/{key}"), "{}").await.status, 404);

        let revoked = manager.submit(&integration_path, &format!("{integration_path}/revoke"), &[]).await;
        assert_eq!(revoked.status, 303);
        assert!(manager.get(&service_path).await.body.contains(">revoked<"));
        assert_eq!(app.post_json(&format!("/hooks/alertmanager/{new_key}"), "{}").await.status, 404);

        let archived = manager.submit(&service_path, &format!("{service_path}/archive"), &[]).await;
        assert_eq!(archived.status, 303);
        let list = manager.get("/services").await;
        assert!(!list.body.contains(">Checkout<"), "archived services are hidden by default");
        assert!(manager.get("/services?archived=1").await.body.contains(">Checkout<"));
        let actions = app.audit_actions().await;
        for a in ["service.created", "integration.created", "integration.updated", "integration.key_rotated", "integration.revoked", "service.archived"] {
            assert!(actions.contains(&a.to_owned()), "{a} missing from {actions:?}");
        }
    }

    async fn services_through_the_api(app: TestApp) {
        let (manager, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let reply = api.post("/api/v1/services", json!({"name": "Search", "description": "Finds things", "owner": manager.email})).await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        let id = reply.json["id"].as_str().expect("id").to_owned();
        assert_eq!(reply.json["owner_id"], manager.id.as_str());
        assert_eq!(api.post("/api/v1/services", json!({"name": "SEARCH"})).await.status, 400);
        assert_eq!(api.post("/api/v1/services", json!({"name": "x", "color": "red"})).await.status, 400);
        let reply = api.post("/api/v1/services", json!({"name": "y", "owner": "nobody@example.com"})).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["fields"]["owner"].is_string());

        let reply = api.patch(&format!("/api/v1/services/{id}"), json!({"description": "Finds everything"})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json["name"], "Search");
        assert_eq!(reply.json["description"], "Finds everything");

        let reply = api.post(&format!("/api/v1/services/{id}/integrations"), json!({"kind": "pagerduty"})).await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        for field in ["id", "kind", "key", "url"] {
            assert!(reply.json[field].is_string(), "{field}: {}", reply.json);
        }
        assert_eq!(reply.json["url"], app.url("/v2/enqueue"));
        assert_eq!(api.post(&format!("/api/v1/services/{id}/integrations"), json!({"kind": "nagios"})).await.status, 400);

        let got = api.get(&format!("/api/v1/services/{id}")).await;
        assert_eq!(got.json["integrations"].as_array().expect("list").len(), 1);
        assert!(got.json["integrations"][0].get("key").is_none(), "keys are never listed");
        assert_eq!(api.get("/api/v1/services/search").await.json["id"], id.as_str(), "by name too");

        let (_, viewer) = app.token_for("viewer").await;
        let v = app.api(Some(&viewer));
        assert_eq!(v.get("/api/v1/services").await.status, 200);
        assert_eq!(v.post("/api/v1/services", json!({"name": "Nope"})).await.status, 403);
        assert_eq!(v.post(&format!("/api/v1/services/{id}/integrations"), json!({"kind": "generic"})).await.status, 403);
    }
}
