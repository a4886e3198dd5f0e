//! API tokens: created on the profile page or through the API, shown once, stored hashed,
//! listed, revoked.

use serde_json::json;

use crate::on_both_databases;

fn shown_token(body: &str) -> String {
    let marker = "<code id=\"new-token\">";
    let start = body.find(marker).expect("token shown") + marker.len();
    let end = body[start..].find('<').expect("end") + start;
    body[start..end].to_owned()
}

on_both_databases! {
    async fn a_token_made_on_the_profile_page_works_until_revoked(app: TestApp) {
        let b = app.signed_in("responder").await;
        let page = b.submit("/profile", "/profile/tokens", &[("label", "deploy script")]).await;
        assert_eq!(page.status, 201, "{}", page.body);
        let token = shown_token(&page.body);
        assert!(token.starts_with("lk_") && token.len() == 46, "{token}");

        // Shown once: the profile lists its label and first characters only.
        let profile = b.get("/profile").await;
        assert!(profile.body.contains("deploy script"));
        assert!(profile.body.contains(&token[..10]));
        assert!(!profile.body.contains(&token));

        // Stored hashed: the secret is nowhere in the database.
        let stored: Vec<String> = app
            .state
            .db
            .read(|c| {
                use diesel::prelude::*;
                use lookout::db::schema::api_tokens::dsl::*;
                api_tokens.select(token_hash).load::<String>(c).map_err(lookout::error::AppError::from)
            })
            .await
            .expect("hashes");
        assert!(stored.iter().all(|h| h != &token && h.len() == 64));

        let api = app.api(Some(&token));
        let me = api.get("/api/v1/me").await;
        assert_eq!(me.status, 200);
        assert_eq!(me.json["role"], "responder");
        let listed = api.get("/api/v1/tokens").await;
        let id = listed.json[0]["id"].as_str().expect("id").to_owned();
        assert!(listed.json[0]["last_used_at"].is_string(), "use is recorded: {}", listed.json);

        let page = b.submit("/profile", &format!("/profile/tokens/{id}/revoke"), &[]).await;
        assert_eq!(page.status, 303);
        let me = api.get("/api/v1/me").await;
        assert_eq!(me.status, 401);
        assert_eq!(me.json["error"], "Sign-in required");
        assert_eq!(me.headers["www-authenticate"], "Bearer");
        assert!(b.get("/profile").await.body.contains("revoked"));
        let actions = app.audit_actions().await;
        assert!(actions.contains(&"token.created".to_owned()) && actions.contains(&"token.revoked".to_owned()));
    }

    async fn tokens_through_the_api(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let api = app.api(Some(&token));
        let reply = api.post("/api/v1/tokens", json!({"label": "grafana"})).await;
        assert_eq!(reply.status, 201);
        let second = reply.json["token"].as_str().expect("token").to_owned();
        let id = reply.json["id"].as_str().expect("id").to_owned();
        assert_eq!(app.api(Some(&second)).get("/api/v1/me").await.status, 200);

        assert_eq!(api.post("/api/v1/tokens", json!({"label": "  "})).await.status, 400);
        assert_eq!(api.post("/api/v1/tokens", json!({"label": "x".repeat(101)})).await.status, 400);

        assert_eq!(api.delete(&format!("/api/v1/tokens/{id}")).await.status, 204);
        assert_eq!(api.delete(&format!("/api/v1/tokens/{id}")).await.status, 204, "revoking twice is harmless");
        assert_eq!(app.api(Some(&second)).get("/api/v1/me").await.status, 401);

        // Someone else's token is "not found", not "forbidden".
        let (_, other) = app.token_for("viewer").await;
        let other_id = app.api(Some(&other)).get("/api/v1/tokens").await.json[0]["id"].as_str().expect("id").to_owned();
        assert_eq!(api.delete(&format!("/api/v1/tokens/{other_id}")).await.status, 404);
        assert_eq!(app.api(Some(&other)).get("/api/v1/me").await.status, 200);

        // Admins may revoke anyone's.
        let (_, admin) = app.token_for("admin").await;
        assert_eq!(app.api(Some(&admin)).delete(&format!("/api/v1/tokens/{other_id}")).await.status, 204);
        assert_eq!(app.api(Some(&other)).get("/api/v1/me").await.status, 401);
    }

    async fn garbage_credentials_are_401_not_500(app: TestApp) {
        for header in ["Bearer", "Bearer ", "Basic abc", "Bearer lk_nope", "bearer   "] {
            let res = app
                .api(None)
                .client
                .get(app.url("/api/v1/me"))
                .header("authorization", header)
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), 401, "{header:?}");
        }
        let reply = app.api(None).get("/api/v1/me").await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json["detail"], "Sign in to continue.");
    }
}
