//! Everyone's profile: name, time zone, password.

use serde_json::json;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases! {
    async fn people_change_their_name_and_time_zone(app: TestApp) {
        let b = app.signed_in("viewer").await;
        let page = b.submit("/profile", "/profile", &[("name", "Vic Viewer"), ("time_zone", "Asia/Kolkata")]).await;
        assert_eq!(page.status, 303);
        let profile = b.get("/profile").await;
        assert!(profile.body.contains("Profile saved."));
        assert!(profile.body.contains("<h1>Vic Viewer</h1>"));
        assert!(profile.body.contains("<option selected>Asia/Kolkata</option>"));
        // Times on pages are now shown in that zone.
        let home = b.get("/").await;
        assert!(home.body.contains("Asia/Kolkata"));

        let bad = b.submit("/profile", "/profile", &[("name", ""), ("time_zone", "Atlantis/Capital")]).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("name is required"));
        assert!(bad.body.contains("unknown time zone &#39;Atlantis/Capital&#39;") || bad.body.contains("unknown time zone 'Atlantis/Capital'"), "{}", bad.body);
        assert!(b.get("/profile").await.body.contains("<h1>Vic Viewer</h1>"), "nothing changed");
    }

    async fn changing_the_password_checks_the_old_one_and_ends_other_sessions(app: TestApp) {
        app.create_user("pat@example.com", "responder").await;
        let laptop = app.browser();
        let phone = app.browser();
        laptop.login("pat@example.com", PASSWORD).await;
        phone.login("pat@example.com", PASSWORD).await;

        let wrong = laptop
            .submit("/profile", "/profile/password", &[("current_password", "not it at all"), ("new_password", "new passphrase here"), ("confirm_password", "new passphrase here")])
            .await;
        assert_eq!(wrong.status, 422);
        assert!(wrong.body.contains("this is not your current password"));

        let mismatch = laptop
            .submit("/profile", "/profile/password", &[("current_password", PASSWORD), ("new_password", "new passphrase here"), ("confirm_password", "another one")])
            .await;
        assert_eq!(mismatch.status, 422);
        assert!(mismatch.body.contains("the two new passwords differ"));

        let ok = laptop
            .submit("/profile", "/profile/password", &[("current_password", PASSWORD), ("new_password", "new passphrase here"), ("confirm_password", "new passphrase here")])
            .await;
        assert_eq!(ok.status, 303);
        assert_eq!(laptop.get("/").await.status, 200, "this session stays");
        assert_eq!(phone.get("/").await.status, 303, "the other one ends");
        assert_eq!(app.browser().try_login("pat@example.com", PASSWORD).await.status, 401);
        app.browser().login("pat@example.com", "new passphrase here").await;
    }

    async fn the_profile_through_the_api(app: TestApp) {
        let (user, token) = app.token_for("manager").await;
        let api = app.api(Some(&token));
        let me = api.get("/api/v1/me").await;
        assert_eq!(me.json["email"], user.email.as_str());
        let reply = api.patch("/api/v1/me", json!({"time_zone": "America/New_York"})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json["time_zone"], "America/New_York");
        assert_eq!(reply.json["name"], user.name.as_str());
        let reply = api.patch("/api/v1/me", json!({"time_zone": "Nowhere/Land"})).await;
        assert_eq!(reply.status, 400);
        assert!(reply.json["fields"]["time_zone"].is_string());
        let reply = api.patch("/api/v1/me", json!({"role": "admin"})).await;
        assert_eq!(reply.status, 400, "role is not a profile field");
        assert_eq!(api.get("/api/v1/me").await.json["role"], "manager");

        let reply = api.post("/api/v1/me/password", json!({"current_password": PASSWORD, "new_password": "shiny new passphrase"})).await;
        assert_eq!(reply.status, 204);
        app.browser().login(&user.email, "shiny new passphrase").await;
    }
}
