//! Every state-changing request made with a cookie must carry a CSRF token of that session.

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases! {
    async fn a_form_post_without_a_token_is_refused_and_changes_nothing(app: TestApp) {
        let admin = app.signed_in("admin").await;
        let before = app.user_count().await;
        let page = admin
            .post_raw("/admin/users", &[("email", "new@example.com"), ("name", "New"), ("role", "admin"), ("time_zone", "UTC")])
            .await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("Form expired"), "{}", page.body);
        assert!(page.body.contains("nothing was changed"), "{}", page.body);
        assert_eq!(app.user_count().await, before);

        let page = admin
            .post_raw("/admin/users", &[("csrf_token", "forged"), ("email", "new@example.com"), ("name", "New"), ("role", "admin"), ("time_zone", "UTC")])
            .await;
        assert_eq!(page.status, 403);
        assert_eq!(app.user_count().await, before);
    }

    async fn a_token_from_another_session_is_refused(app: TestApp) {
        let mallory = app.signed_in("viewer").await;
        let stolen = mallory.get("/profile").await.csrf_token();
        let admin = app.signed_in("admin").await;
        let before = app.user_count().await;
        let page = admin
            .post_raw("/admin/users", &[("csrf_token", &stolen), ("email", "x@example.com"), ("name", "X"), ("role", "admin"), ("time_zone", "UTC")])
            .await;
        assert_eq!(page.status, 403);
        assert_eq!(app.user_count().await, before);
        // The admin's own token works.
        let page = admin
            .submit("/admin/users", "/admin/users", &[("email", "x@example.com"), ("name", "X"), ("role", "viewer"), ("time_zone", "UTC")])
            .await;
        assert_eq!(page.status, 201, "{}", page.body);
    }

    async fn the_sign_in_form_is_protected_too(app: TestApp) {
        app.create_user("ana@example.com", "viewer").await;
        let b = app.browser();
        b.get("/login").await;
        let page = b.post_raw("/login", &[("email", "ana@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(page.status, 403);
        assert!(page.cookie("lookout_session").is_none());
    }

    async fn scripts_may_send_the_token_in_a_header(app: TestApp) {
        let b = app.signed_in("viewer").await;
        let token = b.get("/profile").await.csrf_token();
        let res = b
            .client
            .post(b.url("/profile/tokens"))
            .header("x-csrf-token", token)
            .form(&[("label", "from a script")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 201);
    }

    async fn bearer_requests_need_no_token_but_cookie_requests_to_the_api_do(app: TestApp) {
        let (_, token) = app.token_for("viewer").await;
        let reply = app.api(Some(&token)).post("/api/v1/tokens", serde_json::json!({"label": "ci"})).await;
        assert_eq!(reply.status, 201, "{}", reply.json);

        // A browser session calling the API (as a forged cross-site form could) needs the header.
        let b = app.signed_in("viewer").await;
        let res = b.client.post(b.url("/api/v1/tokens")).json(&serde_json::json!({"label": "forged"})).send().await.expect("post");
        assert_eq!(res.status(), 403);
        let csrf = b.get("/profile").await.csrf_token();
        let res = b
            .client
            .post(b.url("/api/v1/tokens"))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({"label": "same-site script"}))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 201);
    }

    async fn oversized_forms_are_refused(app: TestApp) {
        let b = app.signed_in("viewer").await;
        let token = b.get("/profile").await.csrf_token();
        let huge = "x".repeat(100 * 1024);
        let page = b.post_raw("/profile", &[("name", &huge), ("time_zone", "UTC"), ("csrf_token", &token)]).await;
        assert_eq!(page.status, 413, "{}", page.body);
        let page = b.get("/profile").await;
        assert!(!page.body.contains("xxxxxxxxxx"), "nothing was saved");
    }
}
