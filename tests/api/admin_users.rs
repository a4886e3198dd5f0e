//! Admins manage people: create, role changes, the last-admin rule, deactivation, audit.

use serde_json::json;

use crate::helpers::*;
use crate::on_both_databases;

fn temp_password(body: &str) -> String {
    let marker = "id=\"temp-password\">";
    let start = body.find(marker).expect("temporary password shown") + marker.len();
    body[start..start + 19].to_owned()
}

on_both_databases! {
    async fn admins_add_people_who_then_choose_their_password(app: TestApp) {
        let admin = app.signed_in("admin").await;
        let page = admin
            .submit("/admin/users", "/admin/users", &[("email", "Dan@Example.com"), ("name", "Dan Duty"), ("role", "responder"), ("time_zone", "Europe/London")])
            .await;
        assert_eq!(page.status, 201, "{}", page.body);
        assert!(page.body.contains("dan@example.com"));
        let temporary = temp_password(&page.body);

        let list = admin.get("/admin/users").await;
        assert!(list.body.contains("Dan Duty"));
        assert!(list.body.contains("must set password"));

        let dan = app.browser();
        let login = dan.login("dan@example.com", &temporary).await;
        assert_eq!(login.location.as_deref(), Some("/profile#password"));
        let profile = dan.get("/profile").await;
        assert!(profile.body.contains("Choose your own to continue"), "{}", profile.body);
    }

    async fn bad_new_person_forms_are_shown_again_with_their_errors(app: TestApp) {
        let admin = app.signed_in("admin").await;
        app.create_user("taken@example.com", "viewer").await;
        let before = app.user_count().await;
        let long_name = "N".repeat(101);
        let page = admin
            .submit("/admin/users", "/admin/users", &[("email", "TAKEN@example.com"), ("name", &long_name), ("role", "overlord"), ("time_zone", "UTC")])
            .await;
        assert_eq!(page.status, 422);
        assert!(page.body.contains("a user with this e-mail address already exists"), "{}", page.body);
        assert!(page.body.contains("name must be at most 100 characters"));
        assert!(page.body.contains("unknown role"));
        assert!(page.body.contains("value=\"TAKEN@example.com\""), "typed values are kept");
        assert_eq!(app.user_count().await, before);
    }

    async fn the_last_admin_cannot_be_demoted_or_deactivated(app: TestApp) {
        let (root, token) = app.token_for("admin").await;
        let api = app.api(Some(&token));
        let reply = api.patch(&format!("/api/v1/users/{}", root.id), json!({"role": "manager"})).await;
        assert_eq!(reply.status, 409, "{}", reply.json);
        assert!(reply.json["detail"].as_str().unwrap_or("").contains("last active admin"), "{}", reply.json);
        assert_eq!(api.get("/api/v1/me").await.json["role"], "admin", "nothing changed");

        let reply = api.patch(&format!("/api/v1/users/{}", root.id), json!({"active": false})).await;
        assert_eq!(reply.status, 409, "own account / last admin");

        // With a second admin, demotion is fine; role and active change together or not at all.
        let (second, second_token) = app.token_for("admin").await;
        let reply = api.patch(&format!("/api/v1/users/{}", second.id), json!({"role": "viewer", "active": false})).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["role"], "viewer");
        assert_eq!(reply.json["active"], false);
        assert_eq!(app.api(Some(&second_token)).get("/api/v1/me").await.status, 401);

        // A change that fails halfway leaves the first half undone (a third admin makes the
        // demotion itself allowed; deactivating oneself is not).
        let (_third, _) = app.token_for("admin").await;
        let reply = app.api(Some(&token)).patch(&format!("/api/v1/users/{}", root.id), json!({"role": "viewer", "active": false})).await;
        assert_eq!(reply.status, 409, "cannot deactivate oneself");
        assert_eq!(api.get("/api/v1/me").await.json["role"], "admin", "the role change was rolled back");
    }

    async fn the_page_explains_a_refused_demotion(app: TestApp) {
        let admin = app.signed_in("admin").await;
        let users = lookout::services::users::list(&app.state).await.expect("list");
        let id = users.iter().find(|u| u.role == lookout::domain::user::Role::Admin).expect("admin").id.clone();
        let page = admin.submit(&format!("/admin/users/{id}"), &format!("/admin/users/{id}/role"), &[("role", "viewer")]).await;
        assert_eq!(page.status, 303);
        let after = admin.get(&format!("/admin/users/{id}")).await;
        assert!(after.body.contains("is the last active admin"), "{}", after.body);
        assert!(after.body.contains("flash-error"));
    }

    async fn users_through_the_api(app: TestApp) {
        let (_, token) = app.token_for("admin").await;
        let api = app.api(Some(&token));
        let reply = api.post("/api/v1/users", json!({"email": "eve@example.com", "name": "Eve", "role": "manager"})).await;
        assert_eq!(reply.status, 201, "{}", reply.json);
        let id = reply.json["id"].as_str().expect("id").to_owned();
        assert_eq!(reply.json["must_change_password"], true);
        let temporary = reply.json["temporary_password"].as_str().expect("temporary password").to_owned();
        assert_eq!(reply.headers["location"].to_str().unwrap_or(""), format!("/api/v1/users/{id}"));

        let reply = api.post("/api/v1/users", json!({"email": "EVE@example.com", "name": "Eve 2", "role": "viewer"})).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json["fields"]["email"], "a user with this e-mail address already exists");

        let reply = api.post("/api/v1/users", json!({"email": "x@example.com", "name": "X", "role": "viewer", "is_root": true})).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["detail"].as_str().unwrap_or("").contains("is_root"), "{}", reply.json);

        let reply = api.post("/api/v1/users", json!({"name": "No Email", "role": "viewer"})).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["detail"].as_str().unwrap_or("").contains("email"), "{}", reply.json);

        let reply = api.post("/api/v1/users", json!({"email": "p@example.com", "name": "P", "role": "viewer", "password": "chosen by the admin"})).await;
        assert_eq!(reply.status, 201);
        assert!(reply.json.get("temporary_password").is_none());
        assert_eq!(reply.json["must_change_password"], false);

        let reply = api.patch(&format!("/api/v1/users/{id}"), json!({"role": "responder"})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json["role"], "responder");
        let reply = api.patch(&format!("/api/v1/users/{id}"), json!({"role": "king"})).await;
        assert_eq!(reply.status, 400);
        let reply = api.patch(&format!("/api/v1/users/{id}"), json!({})).await;
        assert_eq!(reply.status, 400);

        let reply = api.post(&format!("/api/v1/users/{id}/reset-password"), json!({})).await;
        assert_eq!(reply.status, 200);
        let reset = reply.json["temporary_password"].as_str().expect("new password").to_owned();
        assert_ne!(reset, temporary);
        let b = app.browser();
        assert_eq!(b.try_login("eve@example.com", &temporary).await.status, 401);
        b.login("eve@example.com", &reset).await;

        let all = api.get("/api/v1/users").await;
        assert_eq!(all.status, 200);
        assert!(all.json.as_array().expect("list").iter().any(|u| u["email"] == "eve@example.com"));

        let (_, viewer) = app.token_for("viewer").await;
        let reply = app.api(Some(&viewer)).post("/api/v1/users", json!({"email": "v@example.com", "name": "V", "role": "admin"})).await;
        assert_eq!(reply.status, 403, "viewers cannot create users");
    }

    async fn the_audit_log_records_changes_and_filters(app: TestApp) {
        let (root, token) = app.token_for("admin").await;
        let api = app.api(Some(&token));
        let reply = api.post("/api/v1/users", json!({"email": "f@example.com", "name": "Fay", "role": "viewer"})).await;
        let fay = reply.json["id"].as_str().expect("id").to_owned();
        api.patch(&format!("/api/v1/users/{fay}"), json!({"role": "manager"})).await;
        app.browser().try_login("f@example.com", "wrong password!!").await;

        let page = api.get("/api/v1/audit?limit=500").await;
        assert_eq!(page.status, 200);
        let actions: Vec<&str> = page.json["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
        let pos = |a: &str| actions.iter().position(|x| *x == a).unwrap_or_else(|| panic!("{a} missing in {actions:?}"));
        assert!(pos("auth.login_failed") < pos("user.role_changed"), "newest first: {actions:?}");
        assert!(pos("user.role_changed") < pos("token.created"));

        let filtered = api.get(&format!("/api/v1/audit?user={fay}")).await;
        let entries = filtered.json["entries"].as_array().expect("entries");
        assert!(!entries.is_empty());
        assert!(entries.iter().all(|e| e["target_id"] == fay.as_str() || e["actor_id"] == fay.as_str()), "{entries:?}");
        let by_action = api.get("/api/v1/audit?action=user.role_changed").await;
        let entries = by_action.json["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["actor_id"], root.id.as_str());
        assert!(entries[0]["detail"].as_str().unwrap_or("").contains("viewer -> manager"));

        // Cursor pagination walks everything exactly once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
                None => "/api/v1/audit?limit=2".into(),
            };
            let page = api.get(&path).await;
            for e in page.json["entries"].as_array().expect("entries") {
                seen.push(e["id"].as_str().expect("id").to_owned());
            }
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
        assert_eq!(seen.len(), actions.len());
        assert_eq!(api.get("/api/v1/audit?limit=0").await.status, 400);

        // The page shows the same, filtered.
        let admin = app.browser();
        admin.login(&root.email, PASSWORD).await;
        let page = admin.get("/admin/audit?action=auth.login_failed").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("failed sign-in for f@example.com"), "{}", page.body);
        assert!(!page.body.contains("user.role_changed</code>"));
    }
}
