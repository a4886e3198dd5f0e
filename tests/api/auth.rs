//! Signing in and out, session cookies, lockouts, deactivation, forced password change.

use std::time::Instant;

use chrono::Duration;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases! {
    async fn sign_in_see_the_dashboard_and_sign_out(app: TestApp) {
        app.create_user("ana@example.com", "responder").await;
        let b = app.browser();

        let anon = b.get("/").await;
        assert_eq!(anon.status, 303);
        assert_eq!(anon.location.as_deref(), Some("/login"));
        let anon_cookie = anon.cookie("lookout_csrf").expect("anonymous CSRF cookie");
        assert!(anon_cookie.contains("HttpOnly"));

        let login = b.login("ana@example.com", PASSWORD).await;
        assert_eq!(login.location.as_deref(), Some("/"));
        let cookie = login.cookie("lookout_session").expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http must not mark the cookie Secure: {cookie}");
        assert!(cookie.contains("Path=/"));

        let home = b.get("/").await;
        assert_eq!(home.status, 200);
        assert!(home.body.contains("Hello, Ana"), "{}", home.body);
        assert!(home.body.contains("responder"));

        // Signing in again gives a new session: the old cookie value is not reused.
        let token = home.csrf_token();
        let again = b.post_raw("/login", &[("csrf_token", &token), ("email", "ana@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(again.status, 303);
        let second = again.cookie("lookout_session").expect("new session cookie");
        assert_ne!(cookie.split(';').next(), second.split(';').next());

        let home = b.get("/").await;
        let logout = b.post_raw("/logout", &[("csrf_token", &home.csrf_token())]).await;
        assert_eq!(logout.status, 303);
        assert_eq!(logout.location.as_deref(), Some("/login"));
        assert!(logout.cookie("lookout_session").expect("cleared").contains("Max-Age=0"));
        let after = b.get("/").await;
        assert_eq!(after.status, 303, "signed out");
        let login_page = b.get("/login").await;
        assert!(login_page.body.contains("You are signed out."));

        let actions = app.audit_actions().await;
        assert!(actions.contains(&"auth.login".to_owned()));
        assert!(actions.contains(&"auth.logout".to_owned()));
    }

    async fn a_page_asked_for_while_signed_out_comes_back_after_sign_in(app: TestApp) {
        app.create_user("root@example.com", "admin").await;
        let b = app.browser();
        let page = b.get("/admin/audit?action=auth.login").await;
        assert_eq!(page.status, 303);
        let location = page.location.expect("redirect");
        assert_eq!(location, "/login?next=%2Fadmin%2Faudit%3Faction%3Dauth.login");
        let form = b.get(&location).await;
        let next = hidden_value(&form.body, "next").expect("next field");
        assert_eq!(next, "/admin/audit?action=auth.login");
        let token = form.csrf_token();
        let login = b
            .post_raw("/login", &[("csrf_token", &token), ("email", "root@example.com"), ("password", PASSWORD), ("next", &next)])
            .await;
        assert_eq!(login.location.as_deref(), Some("/admin/audit?action=auth.login"));

        // A next= that leaves the site is ignored.
        let b2 = app.browser();
        let token = b2.get("/login").await.csrf_token();
        let login = b2
            .post_raw("/login", &[("csrf_token", &token), ("email", "root@example.com"), ("password", PASSWORD), ("next", "//evil.example/")])
            .await;
        assert_eq!(login.location.as_deref(), Some("/"));
    }

    async fn unknown_email_and_wrong_password_look_the_same(app: TestApp) {
        app.create_user("ana@example.com", "viewer").await;
        let b = app.browser();
        let wrong = b.try_login("ana@example.com", "not the password").await;
        let unknown = b.try_login("nobody@example.com", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert_eq!(unknown.status, 401);
        let message = "Wrong e-mail address or password.";
        assert!(wrong.body.contains(message));
        assert!(unknown.body.contains(message));
        assert!(unknown.body.contains("value=\"nobody@example.com\""), "the address typed is kept");
        assert!(!wrong.body.contains(PASSWORD) && !wrong.body.contains("not the password"), "passwords are never echoed");

        // Both paths verify a password hash, so they take comparable time. Time between the two
        // kinds, interleaved, with the lockout window moved past after every four failures.
        app.clock.advance(Duration::minutes(16));
        let mut wrong_ms = Vec::new();
        let mut unknown_ms = Vec::new();
        for round in 0..3 {
            for (email, into) in [("ana@example.com", &mut wrong_ms), ("ghost@example.com", &mut unknown_ms)] {
                for _ in 0..2 {
                    let token = b.get("/login").await.csrf_token();
                    let started = Instant::now();
                    let page = b.post_raw("/login", &[("csrf_token", &token), ("email", email), ("password", "bad password")]).await;
                    into.push(started.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!(page.status, 401, "round {round}");
                }
            }
            app.clock.advance(Duration::minutes(16));
        }
        wrong_ms.sort_by(f64::total_cmp);
        unknown_ms.sort_by(f64::total_cmp);
        let (w, u) = (wrong_ms[wrong_ms.len() / 2], unknown_ms[unknown_ms.len() / 2]);
        assert!(u > w * 0.5, "unknown e-mail answered much faster ({u:.1} ms) than a wrong password ({w:.1} ms)");
    }

    async fn incomplete_sign_in_forms_say_what_is_missing(app: TestApp) {
        let b = app.browser();
        let page = b.try_login("", "").await;
        assert_eq!(page.status, 422);
        assert!(page.body.contains("e-mail address is required"));
        assert!(page.body.contains("password is required"));
        let page = b.submit("/login", "/login", &[]).await;
        assert_eq!(page.status, 422, "missing fields are form errors, not a crash");
    }

    async fn five_failures_lock_the_account_for_a_while(app: TestApp) {
        app.create_user("ana@example.com", "responder").await;
        let b = app.browser();
        for _ in 0..5 {
            assert_eq!(b.try_login("ana@example.com", "guess guess guess").await.status, 401);
        }
        // Even the right password is refused now.
        let locked = b.try_login("ana@example.com", PASSWORD).await;
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert!(locked.body.contains("Too many failed sign-ins"), "{}", locked.body);
        let retry: i64 = locked.headers["retry-after"].to_str().expect("header").parse().expect("seconds");
        assert!((1..=900).contains(&retry), "{retry}");
        let actions = app.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "auth.login_failed").count(), 5);
        assert!(actions.contains(&"auth.locked_out".to_owned()), "{actions:?}");

        // Refused attempts do not extend the lockout; once the failures age out, sign-in works.
        app.clock.advance(Duration::minutes(10));
        assert_eq!(b.try_login("ana@example.com", PASSWORD).await.status, 429);
        app.clock.advance(Duration::minutes(6));
        let ok = b.try_login("ana@example.com", PASSWORD).await;
        assert_eq!(ok.status, 303, "{}", ok.body);
    }

    async fn five_failures_from_one_address_lock_that_address(app: TestApp) {
        app.create_user("bob@example.com", "responder").await;
        let b = app.browser();
        for i in 0..5 {
            let page = b.try_login(&format!("guess{i}@example.com"), "whatever whatever").await;
            assert_eq!(page.status, 401);
        }
        assert_eq!(b.try_login("bob@example.com", PASSWORD).await.status, 429);
        let metrics = b.get("/metrics").await.body;
        assert!(metrics.contains(r#"lookout_logins_total{outcome="locked"} 1"#), "{metrics}");
        assert!(metrics.contains(r#"lookout_logins_total{outcome="failure"} 5"#), "{metrics}");
    }

    async fn deactivation_ends_sessions_and_tokens_at_once(app: TestApp) {
        let (_, admin_token) = app.token_for("admin").await;
        let bob = app.create_user("bob@example.com", "responder").await;
        let b = app.browser();
        b.login("bob@example.com", PASSWORD).await;
        assert_eq!(b.get("/").await.status, 200);
        let bob_token = lookout::services::tokens::create(&app.state, &lookout::domain::audit::Actor::cli(), &bob, "bob's script")
            .await
            .expect("token")
            .secret;
        assert_eq!(app.api(Some(&bob_token)).get("/api/v1/me").await.status, 200);

        let reply = app.api(Some(&admin_token)).patch(&format!("/api/v1/users/{}", bob.id), serde_json::json!({"active": false})).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["active"], false);

        let page = b.get("/").await;
        assert_eq!(page.status, 303, "the very next request is signed out");
        let me = app.api(Some(&bob_token)).get("/api/v1/me").await;
        assert_eq!(me.status, 401);
        assert_eq!(b.try_login("bob@example.com", PASSWORD).await.status, 401, "cannot sign in either");

        // Reactivated, Bob signs in again; his old token stays revoked.
        let reply = app.api(Some(&admin_token)).patch(&format!("/api/v1/users/{}", bob.id), serde_json::json!({"active": true})).await;
        assert_eq!(reply.status, 200);
        b.login("bob@example.com", PASSWORD).await;
        assert_eq!(app.api(Some(&bob_token)).get("/api/v1/me").await.status, 401);
    }

    async fn a_reset_password_must_be_replaced_before_anything_else(app: TestApp) {
        let admin = app.signed_in("admin").await;
        app.create_user("carol@example.com", "manager").await;
        let carol_id = lookout::services::users::find_by_email(&app.state, "carol@example.com").await.expect("q").expect("carol").id;
        let carol = app.browser();
        carol.login("carol@example.com", PASSWORD).await;

        let page = admin.submit(&format!("/admin/users/{carol_id}"), &format!("/admin/users/{carol_id}/reset-password"), &[]).await;
        assert_eq!(page.status, 200);
        let start = page.body.find("id=\"temp-password\">").expect("temporary password shown") + "id=\"temp-password\">".len();
        let temporary = page.body[start..start + 19].to_owned();

        assert_eq!(carol.get("/").await.status, 303, "her sessions ended");
        assert_eq!(carol.try_login("carol@example.com", PASSWORD).await.status, 401, "old password gone");
        let login = carol.login("carol@example.com", &temporary).await;
        assert_eq!(login.location.as_deref(), Some("/profile#password"));
        let dash = carol.get("/").await;
        assert_eq!(dash.status, 303);
        assert_eq!(dash.location.as_deref(), Some("/profile#password"));

        let changed = carol
            .submit("/profile", "/profile/password", &[("current_password", &temporary), ("new_password", "a brand new passphrase"), ("confirm_password", "a brand new passphrase")])
            .await;
        assert_eq!(changed.status, 303, "{}", changed.body);
        assert_eq!(carol.get("/").await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_sites_get_secure_cookies() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.base_url = Some(https_base())).await;
    app.create_user("ana@example.com", "viewer").await;
    let b = app.browser();
    let page = b.get("/login").await;
    assert!(
        page.cookie("lookout_csrf")
            .expect("csrf cookie")
            .contains("Secure")
    );
    // reqwest keeps Secure cookies off plain http, so sign in by hand.
    let csrf_cookie = page.cookie("lookout_csrf").expect("cookie");
    let csrf_cookie = csrf_cookie.split(';').next().expect("pair").to_owned();
    let res = b
        .client
        .post(b.url("/login"))
        .header("cookie", csrf_cookie)
        .form(&[
            ("csrf_token", page.csrf_token().as_str()),
            ("email", "ana@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("post");
    let login = Page::from(res).await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert!(
        login
            .cookie("lookout_session")
            .expect("session")
            .contains("Secure")
    );
}
