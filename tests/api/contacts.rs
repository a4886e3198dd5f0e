//! Contact methods and notification rules: managed by each person (API and profile page), and
//! used when a step pages them. The test clock starts at 2026-11-22T09:00Z.

use chrono::Duration;
use serde_json::json;

use crate::escalation::{
    Receiver, open, setup, signature_of, timeline, with_mail, with_smtp_on_both,
};
use crate::helpers::{Backend, TestApp};

/// The API as someone the scenario's setup created.
async fn api_as(app: &TestApp, email: &str) -> crate::helpers::Api {
    let user = lookout::services::users::find_by_email(&app.state, email)
        .await
        .expect("lookup")
        .unwrap_or_else(|| panic!("{email} exists"));
    app.api(Some(&app.token_of(&user).await))
}

/// Ana is paged at her account e-mail at once, on her webhook after 2 minutes and at a second
/// address after 4, the later two only while nobody has acknowledged.
async fn reminders_follow_the_rules_until_someone_acknowledges(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let (receiver, hook_url) = Receiver::start().await;
    let ana_api = api_as(&app, "ana@example.com").await;

    let hook = ana_api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "webhook", "address": hook_url, "label": "pager app"}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.json);
    let secret = hook.json["signing_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let phone = ana_api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "email", "address": "ana.phone@example.com"}),
        )
        .await;
    assert_eq!(phone.status, 201, "{}", phone.json);
    for (method, delay) in [(&hook.json["id"], 2), (&phone.json["id"], 4)] {
        let rule = ana_api
            .post(
                "/api/v1/me/notification-rules",
                json!({"contact_method_id": method, "delay_minutes": delay}),
            )
            .await;
        assert_eq!(rule.status, 201, "{}", rule.json);
    }
    let rules = ana_api.get("/api/v1/me/notification-rules").await;
    assert_eq!(rules.json["default"], false);
    let listed: Vec<(String, i64)> = rules.json["notification_rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["contact"]["address"].as_str().unwrap_or("").to_owned(),
                r["delay_minutes"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("ana@example.com".to_owned(), 0),
            (hook_url.clone(), 2),
            ("ana.phone@example.com".to_owned(), 4)
        ],
        "the account e-mail at once stays when the first rule is written"
    );

    let id = open(&app, &s, "Card payments failing").await;
    app.settle().await;
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to, ["ana@example.com"]);
    assert!(receiver.events().is_empty(), "the webhook waits 2 minutes");

    app.clock.advance(Duration::minutes(2));
    app.settle().await;
    assert_eq!(receiver.events(), ["page"]);
    let (_, signed, body) = receiver.posts.lock().unwrap()[0].clone();
    let (signature, raw) = signed.split_once('|').expect("signature|body");
    assert_eq!(
        signature,
        signature_of(&secret, raw),
        "signed with Ana's key"
    );
    assert_eq!(body["recipient"]["email"], "ana@example.com");
    assert_eq!(
        body["message"], "step 1; reminder: nobody acknowledged within 2 min",
        "{body}"
    );
    assert_eq!(body["incident"]["title"], "Card payments failing");
    assert!(
        body["acknowledge_url"]
            .as_str()
            .is_some_and(|u| u.contains("/ack/")),
        "{body}"
    );
    let events = timeline(&s, &id).await;
    assert!(
        events.iter().any(|e| e == "paged Ana by webhook"),
        "{events:?}"
    );

    // Ana acknowledges at t0 + 3: the reminder at t0 + 4 never goes, and step 2 neither.
    app.clock.advance(Duration::minutes(1));
    let ack = ana_api
        .post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(ack.status, 200, "{}", ack.json);
    app.clock.advance(Duration::minutes(10));
    app.settle().await;
    app.settle().await;
    let sent: Vec<String> = sink.messages().iter().map(|m| m.to.join(",")).collect();
    assert_eq!(sent, ["ana@example.com"]);
    assert_eq!(receiver.events(), ["page"]);

    let browser = app.browser();
    browser
        .login("ana@example.com", crate::helpers::PASSWORD)
        .await;
    let number = s.api.get(&format!("/api/v1/incidents/{id}")).await.json["number"]
        .as_i64()
        .expect("number");
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(
        page.body.contains("ana.phone@example.com") && page.body.contains("cancelled"),
        "the incident page lists the reminder as cancelled:\n{}",
        page.body
    );
}

/// Ana and Ben have no rules: their account e-mail, at once. Boss, the service owner, hears of
/// the lapsed deadline by his immediate rules; his 30-minute reminder is for pages, not notices.
async fn a_person_without_rules_is_mailed_at_once_and_owner_notices_skip_reminders(
    backend: Backend,
) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let boss_api = api_as(&app, "boss@example.com").await;
    let extra = boss_api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "email", "address": "boss.home@example.com"}),
        )
        .await;
    assert_eq!(extra.status, 201, "{}", extra.json);
    let same = boss_api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": "account", "delay_minutes": 0}),
        )
        .await;
    assert_eq!(same.status, 409, "the default is that rule: {}", same.json);
    let now = boss_api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": extra.json["id"], "delay_minutes": 0}),
        )
        .await;
    assert_eq!(now.status, 201, "{}", now.json);
    let late = boss_api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": extra.json["id"], "delay_minutes": 30}),
        )
        .await;
    assert_eq!(late.status, 201, "{}", late.json);

    open(&app, &s, "Nobody answers").await;
    // Let step 1's page finish before time jumps: a jump past its lease while it is being sent
    // would (rightly, at least once) send it again.
    app.settle().await;
    sink.wait_for(1).await;
    // Ana (no rules: account e-mail), Ben at +5, the acknowledge deadline at +15 tells Boss at
    // both immediate addresses; the 30-minute reminder is for pages, not for notices.
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(5));
        app.settle().await;
    }
    app.clock.advance(Duration::hours(1));
    app.settle().await;
    app.settle().await;
    let mut sent: Vec<String> = sink.messages().iter().map(|m| m.to.join(",")).collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            "ana@example.com",
            "ben@example.com",
            "boss.home@example.com",
            "boss@example.com"
        ]
    );
}

/// A batch that runs long behind a slow receiver puts its unsent rest back rather than keep it
/// leased past its lease (another instance would then send it twice): every message still goes
/// out exactly once.
async fn a_slow_receiver_does_not_make_a_batch_outlive_its_lease(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let (receiver, hook_url) = Receiver::start().await;
    let ana_api = api_as(&app, "ana@example.com").await;
    for n in 1..=3 {
        let method = ana_api
            .post(
                "/api/v1/me/contact-methods",
                json!({"kind": "webhook", "address": format!("{hook_url}/{n}")}),
            )
            .await;
        assert_eq!(method.status, 201, "{}", method.json);
        let rule = ana_api
            .post(
                "/api/v1/me/notification-rules",
                json!({"contact_method_id": method.json["id"], "delay_minutes": 0}),
            )
            .await;
        assert_eq!(rule.status, 201, "{}", rule.json);
    }
    receiver
        .delay_ms
        .store(400, std::sync::atomic::Ordering::SeqCst);

    let id = open(&app, &s, "Slow pager").await;
    // The server's own loops page Ana: the e-mail, then the three webhooks one after another,
    // each answered slowly. While they are under way, time on the application clock jumps a
    // minute twice: past the point where a batch stops starting sends, then past the lease of
    // the first batch, with another round (`settle`) looking for work at that moment. Had the
    // first batch kept its rest, that round would take it again and post it twice.
    for posts in [1, 2] {
        let started = std::time::Instant::now();
        while receiver.started.load(std::sync::atomic::Ordering::SeqCst) < posts {
            assert!(
                started.elapsed().as_secs() < 10,
                "webhook {posts} never came"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Webhook `posts` is being answered (slowly) right now.
        app.clock.advance(Duration::seconds(61));
    }
    app.settle().await;
    receiver
        .delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    app.settle().await;

    let mut addresses: Vec<String> = receiver
        .posts
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, body)| body["delivery"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(addresses.len(), 3, "{addresses:?}");
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 3, "each webhook once: {addresses:?}");
    assert_eq!(sink.messages().len(), 1);
    let events = timeline(&s, &id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "paged Ana by webhook")
            .count(),
        3,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e.contains("failed")), "{events:?}");
}

with_smtp_on_both! {
    reminders_follow_the_rules_until_someone_acknowledges => reminders_follow_the_rules_until_someone_acknowledges,
    owner_notices_use_the_immediate_rules => a_person_without_rules_is_mailed_at_once_and_owner_notices_skip_reminders,
    a_slow_receiver_does_not_outlive_the_lease => a_slow_receiver_does_not_make_a_batch_outlive_its_lease,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_methods_and_rules_refuse_bad_input_and_keep_one_way_to_reach() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (me, token) = app.token_for("responder").await;
    let api = app.api(Some(&token));

    let methods = api.get("/api/v1/me/contact-methods").await;
    assert_eq!(methods.status, 200);
    assert_eq!(methods.json["contact_methods"][0]["id"], "account");
    assert_eq!(
        methods.json["contact_methods"][0]["address"],
        me.email.as_str()
    );
    let rules = api.get("/api/v1/me/notification-rules").await;
    assert_eq!(rules.json["default"], true);
    assert_eq!(rules.json["notification_rules"][0]["delay_minutes"], 0);

    for (body, field) in [
        (json!({"kind": "sms", "address": "+4512345678"}), "kind"),
        (json!({"kind": "email", "address": "nope"}), "address"),
        (
            json!({"kind": "webhook", "address": "ftp://x.example"}),
            "address",
        ),
        (json!({"kind": "email", "address": me.email}), "address"),
        (
            json!({"kind": "email", "address": "a@example.com", "label": "x".repeat(61)}),
            "label",
        ),
    ] {
        let reply = api.post("/api/v1/me/contact-methods", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.json);
        assert!(
            reply.json["fields"][field].is_string(),
            "{body}: {}",
            reply.json
        );
    }
    let added = api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "email", "address": "Second@Example.com"}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.json);
    assert_eq!(added.json["address"], "second@example.com");
    assert!(added.json["signing_secret"].is_null());
    let again = api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "email", "address": "second@example.com"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.json);

    let second = added.json["id"].as_str().expect("id").to_owned();
    for (body, field) in [
        (
            json!({"contact_method_id": second, "delay_minutes": -1}),
            "delay_minutes",
        ),
        (
            json!({"contact_method_id": second, "delay_minutes": 1441}),
            "delay_minutes",
        ),
        (
            json!({"contact_method_id": "01JBOGUS", "delay_minutes": 1}),
            "contact",
        ),
    ] {
        let reply = api
            .post("/api/v1/me/notification-rules", body.clone())
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.json);
        assert!(
            reply.json["fields"][field].is_string(),
            "{body}: {}",
            reply.json
        );
    }
    // Someone else's method is not one of mine.
    let (_, other_token) = app.token_for("responder").await;
    let other = app
        .api(Some(&other_token))
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "email", "address": "theirs@example.com"}),
        )
        .await;
    let reply = api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": other.json["id"], "delay_minutes": 0}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.json);
    let reply = api
        .delete(&format!(
            "/api/v1/me/contact-methods/{}",
            other.json["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(reply.status, 404);

    let rule = api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": second, "delay_minutes": 5}),
        )
        .await;
    assert_eq!(rule.status, 201, "{}", rule.json);
    let twice = api
        .post(
            "/api/v1/me/notification-rules",
            json!({"contact_method_id": second, "delay_minutes": 5}),
        )
        .await;
    assert_eq!(
        twice.status, 409,
        "a double click adds one rule: {}",
        twice.json
    );
    let rules = api.get("/api/v1/me/notification-rules").await;
    let listed = rules.json["notification_rules"]
        .as_array()
        .expect("rules")
        .clone();
    assert_eq!(listed.len(), 2, "{}", rules.json);
    let account_rule = listed[0]["id"].as_str().expect("id").to_owned();

    // Removing the account rule leaves the other; the last one stays.
    assert_eq!(
        api.delete(&format!("/api/v1/me/notification-rules/{account_rule}"))
            .await
            .status,
        204
    );
    let last = api
        .delete(&format!(
            "/api/v1/me/notification-rules/{}",
            rule.json["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(last.status, 409, "{}", last.json);
    // Neither can the method that last rule uses go.
    let gone = api
        .delete(&format!("/api/v1/me/contact-methods/{second}"))
        .await;
    assert_eq!(gone.status, 409, "{}", gone.json);
    let rules = api.get("/api/v1/me/notification-rules").await;
    assert_eq!(
        rules.json["notification_rules"].as_array().map(Vec::len),
        Some(1)
    );

    // Admins see how a person is paged (read only) on the person's page.
    let admin = app.signed_in("admin").await;
    let page = admin.get(&format!("/admin/users/{}", me.id)).await;
    assert!(
        page.body
            .contains("after 5 min if still unacknowledged</strong>: e-mail second@example.com"),
        "{}",
        page.body
    );

    let actions = app.audit_actions().await;
    for action in [
        "user.contact_method_added",
        "user.notification_rule_added",
        "user.notification_rule_removed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_page_manages_how_one_is_reached() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.signed_in("responder").await;
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains("How Lookout reaches you"),
        "{}",
        profile.body
    );
    assert!(profile.body.contains("the default until you add a rule"));

    let bad = browser
        .submit(
            "/profile",
            "/profile/contact-methods",
            &[
                ("kind", "webhook"),
                ("address", "not a url"),
                ("label", "chat"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("is not a URL"), "{}", bad.body);
    assert!(
        bad.body.contains("value=\"chat\""),
        "the form keeps what was typed"
    );

    let ok = browser
        .submit(
            "/profile",
            "/profile/contact-methods",
            &[
                ("kind", "webhook"),
                ("address", "https://hooks.example.org/me"),
                ("label", "chat"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let profile = browser.get("/profile").await;
    assert!(
        profile
            .body
            .contains("webhook https://hooks.example.org/me (chat)"),
        "{}",
        profile.body
    );
    assert!(profile.body.contains("Signing key"));
    let method_id = profile
        .body
        .split("/profile/contact-methods/")
        .skip(1)
        .find_map(|rest| rest.split_once("/delete").map(|(id, _)| id))
        .expect("a delete form for the method")
        .to_owned();

    let bad_rule = browser
        .submit(
            "/profile",
            "/profile/notification-rules",
            &[("contact", &method_id), ("delay_minutes", "soon")],
        )
        .await;
    assert_eq!(bad_rule.status, 422);
    assert!(
        bad_rule.body.contains("is not a number of minutes"),
        "{}",
        bad_rule.body
    );
    let rule = browser
        .submit(
            "/profile",
            "/profile/notification-rules",
            &[("contact", &method_id), ("delay_minutes", "10")],
        )
        .await;
    assert_eq!(rule.status, 303);
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains("You will be paged by webhook"),
        "{}",
        profile.body
    );
    assert!(
        profile
            .body
            .contains("after 10 min if still unacknowledged")
    );
    assert!(
        profile.body.contains("at once</strong>: e-mail"),
        "{}",
        profile.body
    );
    assert!(!profile.body.contains("the default until you add a rule"));

    let twice = browser
        .submit(
            "/profile",
            "/profile/notification-rules",
            &[("contact", &method_id), ("delay_minutes", "10")],
        )
        .await;
    assert_eq!(twice.status, 303);
    let profile = browser.get("/profile").await;
    assert!(
        profile.body.contains("you have that rule already"),
        "{}",
        profile.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_message_shows_whether_a_method_works() {
    let (app, sink) = with_mail(Backend::Sqlite).await;
    let (receiver, hook_url) = Receiver::start().await;
    let (me, token) = app.token_for("responder").await;
    let api = app.api(Some(&token));

    let sent = api
        .post("/api/v1/me/contact-methods/account/test", json!({}))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.json);
    assert_eq!(sent.json["delivered"], true, "{}", sent.json);
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to.join(","), me.email);
    assert!(mail[0].data.contains("Lookout test"), "{}", mail[0].data);

    let hook = api
        .post(
            "/api/v1/me/contact-methods",
            json!({"kind": "webhook", "address": hook_url}),
        )
        .await;
    let secret = hook.json["signing_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let path = format!(
        "/api/v1/me/contact-methods/{}/test",
        hook.json["id"].as_str().expect("id")
    );
    let posted = api.post(&path, json!({})).await;
    assert_eq!(posted.json["delivered"], true, "{}", posted.json);
    let (event, signed, body) = receiver.posts.lock().unwrap()[0].clone();
    assert_eq!(event, "test");
    let (signature, raw) = signed.split_once('|').expect("signature|body");
    assert_eq!(signature, signature_of(&secret, raw));
    assert_eq!(body["recipient"]["email"], me.email.as_str());

    // A receiver that refuses: said so, not hidden.
    receiver.answers.lock().unwrap().push(500);
    let refused = api.post(&path, json!({})).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.json["delivered"], false);
    assert!(
        refused.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("HTTP 500")),
        "{}",
        refused.json
    );
    // Three in a burst, then one a second: the fourth at once is refused.
    let again = api.post(&path, json!({})).await;
    assert_eq!(again.status, 429, "{}", again.json);
    assert!(again.headers.contains_key("retry-after"));

    let missing = api
        .post(
            "/api/v1/me/contact-methods/01JBOGUSBOGUSBOGUS/test",
            json!({}),
        )
        .await;
    assert_eq!(missing.status, 404);

    // From the page, the answer is the page's message.
    app.clock.advance(Duration::seconds(10));
    let browser = app.browser();
    browser.login(&me.email, crate::helpers::PASSWORD).await;
    let page = browser.get("/profile").await;
    assert!(page.body.contains("/profile/contact-methods/account/test"));
    let done = browser
        .submit("/profile", "/profile/contact-methods/account/test", &[])
        .await;
    assert_eq!(done.status, 303);
    let page = browser.get("/profile").await;
    assert!(page.body.contains("Test sent to e-mail"), "{}", page.body);
    assert_eq!(sink.wait_for(2).await.len(), 2);
}
