//! Escalation over HTTP and real SMTP, on the manual clock: a P0 that nobody acknowledges pages
//! step 1 at once, step 2 after its delay, breaches its SLA at 15 minutes and tells the service's
//! owner; acknowledging stops the rest; a restart with work overdue runs it once, in order.
//! The test clock starts at 2026-11-22T09:00Z.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Api, Backend, TestApp};
use crate::smtp::SmtpSink;

pub(crate) struct Setup {
    pub(crate) api: Api,
    hook: String,
    policy: String,
    service: String,
}

/// Ana and Ben respond, Boss owns the service. Step 1 pages Ana and waits 5 minutes; step 2
/// pages whoever is on call on "Night" (Ben) and waits 10.
pub(crate) async fn setup(app: &TestApp, repeat: u32) -> Setup {
    for (who, role) in [
        ("ana", "responder"),
        ("ben", "responder"),
        ("boss", "manager"),
    ] {
        app.create_user(&format!("{who}@example.com"), role).await;
    }
    let (_, token) = app.token_for("admin").await;
    let api = app.api(Some(&token));
    let schedule = api
        .post(
            "/api/v1/schedules",
            json!({"name": "Night", "time_zone": "UTC", "layers": [{"name": "Only",
                "rotation": {"every": "weekly", "count": 1}, "start": "2026-11-16",
                "handoff": "00:00", "participants": ["ben@example.com"]}]}),
        )
        .await;
    assert_eq!(schedule.status, 201, "{}", schedule.json);
    let policy = api
        .post(
            "/api/v1/escalation-policies",
            json!({"name": "Checkout pager", "repeat": repeat, "steps": [
                {"delay_minutes": 5, "targets": [{"type": "user", "email": "ana@example.com"}]},
                {"delay_minutes": 10, "targets": [{"type": "schedule", "id": schedule.json["id"]}]}
            ]}),
        )
        .await;
    assert_eq!(policy.status, 201, "{}", policy.json);
    assert_eq!(policy.json["steps"][1]["targets"][0]["name"], "Night");
    let (service, _, key) = app.integration("generic").await;
    let patched = api
        .patch(
            &format!("/api/v1/services/{service}"),
            json!({"owner": "boss@example.com", "escalation_policy_id": policy.json["id"]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["escalation_policy_id"], policy.json["id"]);
    Setup {
        api,
        hook: format!("/hooks/generic/{key}"),
        policy: policy.json["id"].as_str().expect("id").to_owned(),
        service,
    }
}

pub(crate) async fn open(app: &TestApp, s: &Setup, title: &str) -> String {
    let reply = app
        .post_json(
            &s.hook,
            json!({"title": title, "severity": "P0", "dedup_key": title}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    list.json["incidents"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["title"] == title)
        .and_then(|i| i["id"].as_str())
        .expect("incident")
        .to_owned()
}

pub(crate) async fn timeline(s: &Setup, incident: &str) -> Vec<String> {
    let reply = s
        .api
        .get(&format!("/api/v1/incidents/{incident}/timeline"))
        .await;
    reply
        .json
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn recipients(mail: &[crate::smtp::Received]) -> Vec<String> {
    mail.iter().map(|m| m.to.join(",")).collect()
}

pub(crate) async fn with_mail(backend: Backend) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(url::Url::parse(&url).expect("smtp url"));
    })
    .await;
    (app, sink)
}

fn incident_of(list: &Value, id: &str) -> Value {
    list["incidents"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .expect("incident")
}

async fn a_p0_nobody_acknowledges(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let id = open(&app, &s, "Checkout down").await;

    // Step 1 at once: Ana, by real e-mail.
    app.settle().await;
    let mail = sink.wait_for(1).await;
    assert_eq!(recipients(&mail), ["ana@example.com"]);
    assert!(mail[0].data.contains("[P0]"), "{}", mail[0].data);
    assert!(mail[0].data.contains("Checkout down"));
    let events = timeline(&s, &id).await;
    assert!(
        events.iter().any(|e| e == "step 1: paging Ana"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "paged ana@example.com by e-mail"),
        "{events:?}"
    );

    // Nothing more before the delay ends.
    app.clock.advance(Duration::minutes(4));
    app.settle().await;
    assert_eq!(sink.messages().len(), 1);

    // Step 2 at t0 + 5 min: whoever is on call on Night, now.
    app.clock.advance(Duration::minutes(1));
    app.settle().await;
    let mail = sink.wait_for(2).await;
    assert_eq!(recipients(&mail)[1], "ben@example.com");
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e == "escalated to step 2: not acknowledged within 5 min: paging Ben"),
        "{events:?}"
    );

    // At t0 + 15 min the acknowledge deadline (P0: 15 min) lapses: breach marked, owner told.
    app.clock.advance(Duration::minutes(10));
    app.settle().await;
    let mail = sink.wait_for(3).await;
    assert_eq!(recipients(&mail)[2], "boss@example.com");
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e == "SLA breached: not acknowledged within 15 min"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("escalation policy 'Checkout pager' has run its course")),
        "{events:?}"
    );
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    let incident = incident_of(&list.json, &id);
    assert_eq!(incident["sla_breached"], true);
    assert_eq!(incident["escalation_step"], 2);

    // Each page went out once, whatever ran meanwhile.
    app.clock.advance(Duration::hours(1));
    app.settle().await;
    app.settle().await;
    let counted: Vec<String> = recipients(&sink.messages());
    assert_eq!(
        counted,
        ["ana@example.com", "ben@example.com", "boss@example.com"]
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .contains("lookout_notification_attempts_total{channel=\"email\",result=\"sent\"} 3"),
        "{metrics}"
    );
}

async fn acknowledging_stops_the_steps_and_repeat_goes_round(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 1).await;
    let quiet = open(&app, &s, "Disk filling").await;
    app.settle().await;
    sink.wait_for(1).await;
    // "Escalate now" pages step 2 without waiting for its delay.
    let page = app
        .signed_in("responder")
        .await
        .get(&format!("/incidents/{quiet}"))
        .await;
    assert!(
        page.body.contains("Checkout pager") && page.body.contains(">Escalate now</button>"),
        "{}",
        page.body
    );
    let hurry = s
        .api
        .post(&format!("/api/v1/incidents/{quiet}/escalate"), json!({}))
        .await;
    assert_eq!(hurry.status, 202, "{}", hurry.json);
    app.settle().await;
    sink.wait_for(2).await;
    let events = timeline(&s, &quiet).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("escalated to step 2 by ") && e.ends_with(": paging Ben")),
        "{events:?}"
    );
    let ack = s
        .api
        .post(&format!("/api/v1/incidents/{quiet}/acknowledge"), json!({}))
        .await;
    assert_eq!(ack.status, 200, "{}", ack.json);
    let again = s
        .api
        .post(&format!("/api/v1/incidents/{quiet}/escalate"), json!({}))
        .await;
    assert_eq!(
        again.status, 409,
        "an acknowledged incident does not escalate"
    );
    app.clock.advance(Duration::minutes(30));
    app.settle().await;
    assert_eq!(
        recipients(&sink.messages()),
        ["ana@example.com", "ben@example.com"],
        "acknowledged: nobody else is paged"
    );
    let events = timeline(&s, &quiet).await;
    assert!(
        !events.iter().any(|e| e.contains("SLA breached")),
        "{events:?}"
    );

    // Repeat 1: after both steps, the list runs once more.
    let loud = open(&app, &s, "Payments failing").await;
    app.settle().await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(5));
        app.settle().await;
        app.clock.advance(Duration::minutes(10));
        app.settle().await;
    }
    let events = timeline(&s, &loud).await;
    assert!(
        events
            .iter()
            .any(|e| e
                == "escalated to step 1: not acknowledged within 10 min (round 2): paging Ana"),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e.starts_with("escalation policy 'Checkout pager' has run its course: nobody acknowledged after 4 steps")), "{events:?}");
    let _ = s.policy;
    let _ = s.service;
}

async fn a_restart_runs_what_fell_due_once_in_order(backend: Backend) {
    let (mut app, sink) = with_mail(backend).await;
    let mut s = setup(&app, 0).await;
    let id = open(&app, &s, "Queue stuck").await;
    // Nobody drives the engine here: the new incident wakes it.
    let mail = sink.wait_for(1).await;
    assert_eq!(recipients(&mail), ["ana@example.com"]);
    app.settle().await;

    // Down for 20 minutes: step 2 (due at +5) and the acknowledge deadline (+15) fall due
    // while nothing runs. The new instance's engine runs both on its own first round.
    app.restart(|clock| clock.advance(Duration::minutes(20)))
        .await;
    s.api = app.api(s.api.token.as_deref());
    let mail = sink.wait_for(3).await;
    assert_eq!(
        recipients(&mail),
        ["ana@example.com", "ben@example.com", "boss@example.com"]
    );
    app.settle().await;
    let events = timeline(&s, &id).await;
    let step2 = events
        .iter()
        .position(|e| e.starts_with("escalated to step 2"));
    let breach = events.iter().position(|e| e.starts_with("SLA breached"));
    assert!(
        step2.is_some() && breach.is_some() && step2 < breach,
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("escalated to step 2"))
            .count(),
        1,
        "{events:?}"
    );
    assert_eq!(sink.messages().len(), 3, "each page once");
}

async fn pages_are_retried_until_the_mail_server_is_back(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    sink.fail_with(Some("451 4.3.0 try again later"));
    let id = open(&app, &s, "Cache cold").await;
    app.settle().await;
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("e-mail to ana@example.com failed (")
                && e.ends_with("trying again in 30 s")),
        "{events:?}"
    );
    assert!(sink.messages().is_empty());
    app.clock.advance(Duration::seconds(30));
    app.settle().await;
    let events = timeline(&s, &id).await;
    assert!(
        events.iter().any(|e| e.ends_with("trying again in 1 min")),
        "{events:?}"
    );

    // The server is back: the page goes out at the next attempt, once.
    sink.fail_with(None);
    app.clock.advance(Duration::minutes(1));
    app.settle().await;
    let mail = sink.wait_for(1).await;
    assert_eq!(recipients(&mail), ["ana@example.com"]);
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e == "paged ana@example.com by e-mail"),
        "{events:?}"
    );
    // Step 2 is due at +5 min (the clock is at +1 min 30 s): it goes out normally.
    app.clock.advance(Duration::seconds(210));
    app.settle().await;
    sink.wait_for(2).await;
    assert_eq!(
        recipients(&sink.messages()),
        ["ana@example.com", "ben@example.com"]
    );
}

/// The acknowledge link in a page e-mail, with quoted-printable soft breaks undone.
pub fn ack_link(mail: &crate::smtp::Received) -> String {
    let text = mail.data.replace("=\r\n", "").replace("=3D", "=");
    let at = text.find("/ack/").expect("an acknowledge link");
    let from = text[..at].rfind("http").expect("an absolute link");
    text[from..]
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>'))
        .next()
        .unwrap_or("")
        .replace("&amp;", "&")
}

async fn the_mailed_link_acknowledges_after_a_confirmation(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let id = open(&app, &s, "Login errors").await;
    app.settle().await;
    let mail = sink.wait_for(1).await;
    let link = ack_link(&mail[0]);
    let path = link.trim_start_matches(&app.address).to_owned();
    assert!(path.starts_with(&format!("/ack/{id}?")), "{link}");

    // Opening it (as a mail scanner would) shows a button and changes nothing.
    let stranger = app.browser();
    let page = stranger.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Login errors") && page.body.contains(">Acknowledge</button>"));
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    assert_eq!(incident_of(&list.json, &id)["status"], "triggered");

    // A changed signature, or the link on another incident, is refused.
    let forged = stranger.get(&format!("{}x", path)).await;
    assert_eq!(forged.status, 403);
    let other = open(&app, &s, "Other trouble").await;
    let moved = stranger.get(&path.replace(&id, &other)).await;
    assert_eq!(moved.status, 403);

    // The button acknowledges, as Ana, without signing in.
    let query: Vec<(String, String)> = url::Url::parse(&link)
        .expect("link")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let fields: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let done = stranger.submit(&path, &format!("/ack/{id}"), &fields).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Acknowledged."), "{}", done.body);
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    let incident = incident_of(&list.json, &id);
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["acknowledged_by"], "Ana");
    let events = timeline(&s, &id).await;
    assert!(
        events.iter().any(|e| e == "Acknowledged by Ana"),
        "{events:?}"
    );

    // Without the form's CSRF token the button does nothing; a day later the link is dead.
    let bare = stranger.post_raw(&format!("/ack/{other}"), &fields).await;
    assert_eq!(bare.status, 403);
    app.clock.advance(Duration::hours(25));
    let late = stranger.get(&path).await;
    assert_eq!(late.status, 409);
    assert!(late.body.contains("expired"));
}

/// Two instances on one PostgreSQL race over 1,000 steps that fall due at the same moment:
/// every page goes out once.
const COUNT: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_page_once() {
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let (app, sink) = with_mail(Backend::Postgres).await;
    app.create_user("ben@example.com", "responder").await;
    let (_, token) = app.token_for("admin").await;
    let api = app.api(Some(&token));
    // Step 1 names a rota that has not begun (nobody to page), so the only mail is step 2's.
    let later = api
        .post(
            "/api/v1/schedules",
            json!({"name": "Next year", "time_zone": "UTC", "layers": [{"name": "Only",
                "rotation": {"every": "weekly", "count": 1}, "start": "2027-06-07",
                "handoff": "00:00", "participants": ["ben@example.com"]}]}),
        )
        .await;
    let policy = api
        .post(
            "/api/v1/escalation-policies",
            json!({"name": "Race", "steps": [
                {"delay_minutes": 10, "targets": [{"type": "schedule", "id": later.json["id"]}]},
                {"delay_minutes": 10, "targets": [{"type": "user", "email": "ben@example.com"}]}
            ]}),
        )
        .await;
    assert_eq!(policy.status, 201, "{}", policy.json);
    let (service, _, key) = app.integration("generic").await;
    api.patch(
        &format!("/api/v1/services/{service}"),
        json!({"escalation_policy_id": policy.json["id"]}),
    )
    .await;
    let hook = format!("/hooks/generic/{key}");
    for chunk in (0..COUNT).collect::<Vec<_>>().chunks(50) {
        let posts = chunk.iter().map(|i| {
            app.post_json(
                &hook,
                json!({"title": format!("Shard {i} slow"), "severity": "P2", "dedup_key": format!("shard-{i}")}).to_string(),
            )
        });
        for reply in futures_util::future::join_all(posts).await {
            assert_eq!(reply.status, 202);
        }
    }
    app.settle().await;
    assert!(sink.messages().is_empty());

    // A second instance joins; ten minutes later both engines wake to the same 1,000 steps.
    let (_, second) = app.second_instance().await;
    app.clock.advance(Duration::minutes(10));
    let started = std::time::Instant::now();
    sink.wait_for_within(COUNT, std::time::Duration::from_secs(120))
        .await;
    // Whatever either instance still has under way finishes; nothing more may arrive.
    app.settle().await;
    lookout::scheduler::run_once(&second)
        .await
        .expect("second round");
    app.settle().await;
    let mail = sink.messages();
    eprintln!(
        "{COUNT} pages by two instances in {:?}; steps run by the first: {}, by the second: {}",
        started.elapsed(),
        app.state.metrics.escalation_jobs.get(),
        second.metrics.escalation_jobs.get()
    );
    assert_eq!(mail.len(), COUNT, "each page exactly once");
    let mut ids: Vec<String> = mail
        .iter()
        .filter_map(|m| {
            m.data
                .lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), COUNT, "a different message each time");
    assert!(mail.iter().all(|m| m.to == ["ben@example.com"]));
}

async fn snoozes_and_stale_acknowledgements_page_again(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let id = open(&app, &s, "Backups late").await;
    app.settle().await;
    sink.wait_for(1).await;

    // Snoozed for 30 minutes: acknowledged meanwhile, so no step 2 and no breach.
    let snoozed = s
        .api
        .post(
            &format!("/api/v1/incidents/{id}/snooze"),
            json!({"minutes": 30}),
        )
        .await;
    assert_eq!(snoozed.status, 200, "{}", snoozed.json);
    assert_eq!(snoozed.json["status"], "acknowledged");
    let bad = s
        .api
        .post(
            &format!("/api/v1/incidents/{id}/snooze"),
            json!({"minutes": 0}),
        )
        .await;
    assert_eq!(bad.status, 400);
    app.clock.advance(Duration::minutes(29));
    app.settle().await;
    assert_eq!(sink.messages().len(), 1);
    // Then it is triggered again and step 1 pages again.
    app.clock.advance(Duration::minutes(1));
    app.settle().await;
    let mail = sink.wait_for(2).await;
    assert_eq!(recipients(&mail), ["ana@example.com", "ana@example.com"]);
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    assert_eq!(incident_of(&list.json, &id)["status"], "triggered");
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e == "triggered again: the snooze is over"),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e.starts_with("SLA breached")),
        "{events:?}"
    );

    let resolved = s
        .api
        .post(&format!("/api/v1/incidents/{id}/resolve"), json!({}))
        .await;
    assert_eq!(resolved.status, 200);

    // A stale acknowledgement: the policy says so; activity puts the check off.
    let policy = s
        .api
        .get(&format!("/api/v1/escalation-policies/{}", s.policy))
        .await
        .json;
    let mut body = policy.clone();
    for field in ["id", "services", "created_at", "updated_at"] {
        body.as_object_mut().expect("object").remove(field);
    }
    body["retrigger_stale_ack"] = json!(true);
    body["steps"] = json!([
        {"delay_minutes": 5, "targets": [{"type": "user", "email": "ana@example.com"}]},
        {"delay_minutes": 10, "targets": [{"type": "user", "email": "ben@example.com"}]}
    ]);
    let put = s
        .api
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/escalation-policies/{}", s.policy),
            Some(body),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.json);
    assert_eq!(put.json["retrigger_stale_ack"], true);
    let stale = open(&app, &s, "Replica lag").await;
    app.settle().await;
    sink.wait_for(3).await;
    s.api
        .post(&format!("/api/v1/incidents/{stale}/acknowledge"), json!({}))
        .await;
    app.clock.advance(Duration::minutes(10));
    s.api
        .post(
            &format!("/api/v1/incidents/{stale}/notes"),
            json!({"text": "looking at the replica"}),
        )
        .await;
    app.clock.advance(Duration::minutes(6));
    app.settle().await;
    assert_eq!(
        sink.messages().len(),
        3,
        "a note 6 minutes ago: not stale yet"
    );
    app.clock.advance(Duration::minutes(10));
    app.settle().await;
    let mail = sink.wait_for(4).await;
    assert_eq!(recipients(&mail)[3], "ana@example.com");
    let events = timeline(&s, &stale).await;
    assert!(
        events
            .iter()
            .any(|e| e == "triggered again: acknowledged, but nothing happened for 15 min"),
        "{events:?}"
    );
}

/// A webhook receiver: records each post, answers with the statuses queued (200 when none).
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    pub(crate) posts: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
    pub(crate) answers: std::sync::Arc<std::sync::Mutex<Vec<u16>>>,
    /// Milliseconds (real time) to take before answering, for a slow receiver.
    pub(crate) delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Requests that have arrived, answered or not yet.
    pub(crate) started: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Receiver {
    pub(crate) async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let shared = receiver.clone();
        let server = actix_web::HttpServer::new(move || {
            let r = shared.clone();
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let r = r.clone();
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        r.started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let delay = r.delay_ms.load(std::sync::atomic::Ordering::SeqCst);
                        if delay > 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                        }
                        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        r.posts.lock().unwrap().push((
                            header("x-lookout-event"),
                            format!(
                                "{}|{}",
                                header("x-lookout-signature"),
                                String::from_utf8_lossy(&body)
                            ),
                            json,
                        ));
                        let status = {
                            let mut answers = r.answers.lock().unwrap();
                            if answers.is_empty() {
                                200
                            } else {
                                answers.remove(0)
                            }
                        };
                        actix_web::HttpResponse::build(
                            actix_web::http::StatusCode::from_u16(status).unwrap(),
                        )
                        .finish()
                    }
                },
            ))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind receiver");
        let url = format!("http://{}/hook", server.addrs()[0]);
        tokio::spawn(server.run());
        (receiver, url)
    }

    pub(crate) fn events(&self) -> Vec<String> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _, _)| e.clone())
            .collect()
    }
}

pub(crate) fn signature_of(secret: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn service_webhooks_are_told_and_signed(backend: Backend) {
    let (app, _sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let (receiver, url) = Receiver::start().await;
    let bad = s
        .api
        .patch(
            &format!("/api/v1/services/{}", s.service),
            json!({"webhook_url": "ftp://x"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json["fields"]["webhook_url"].is_string(),
        "{}",
        bad.json
    );
    let set = s
        .api
        .patch(
            &format!("/api/v1/services/{}", s.service),
            json!({"webhook_url": url}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let secret = set.json["webhook_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(secret.len() >= 24);
    let shown = s.api.get(&format!("/api/v1/services/{}", s.service)).await;
    assert!(
        shown.json.get("webhook_secret").is_none(),
        "the secret is not in ordinary answers"
    );

    let id = open(&app, &s, "Webhooks fire").await;
    app.settle().await;
    assert_eq!(receiver.events(), ["opened", "escalated"]);
    s.api
        .post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({}))
        .await;
    app.settle().await;
    // The receiver is down when the incident resolves: the post is retried.
    receiver.answers.lock().unwrap().push(503);
    s.api
        .post(&format!("/api/v1/incidents/{id}/resolve"), json!({}))
        .await;
    app.settle().await;
    app.clock.advance(Duration::seconds(30));
    app.settle().await;
    assert_eq!(
        receiver.events(),
        [
            "opened",
            "escalated",
            "acknowledged",
            "resolved",
            "resolved"
        ]
    );
    let posts = receiver.posts.lock().unwrap().clone();
    for (_, signed, json) in &posts {
        let (signature, body) = signed.split_once('|').expect("signature|body");
        assert_eq!(signature, signature_of(&secret, body));
        assert_eq!(json["incident"]["id"], id.as_str());
    }
    assert_eq!(posts[2].2["event"], "acknowledged");
    assert!(
        posts[2].2["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("acknowledged by ")
    );
    assert_eq!(posts[3].2["incident"]["status"], "resolved");
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("webhook (resolved) to http") && e.contains("HTTP 503")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "posted resolved to the service's webhook"),
        "{events:?}"
    );

    // Slack's format: one line of text.
    s.api
        .patch(
            &format!("/api/v1/services/{}", s.service),
            json!({"webhook_format": "slack"}),
        )
        .await;
    open(&app, &s, "Slack hears").await;
    app.settle().await;
    let last = receiver
        .posts
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("post");
    let text = last.2["text"].as_str().expect("text");
    assert!(
        text.starts_with("[P0] #") && text.contains("Slack hears"),
        "{text}"
    );
}

/// "Reassign to step N" from the API and the page: the step is paged now, an acknowledged
/// incident is triggered again, and escalation carries on from that step.
async fn reassigning_to_a_step_pages_it_and_goes_on_from_there(backend: Backend) {
    let (app, sink) = with_mail(backend).await;
    let s = setup(&app, 0).await;
    let id = open(&app, &s, "Queue backlog").await;
    app.settle().await;
    sink.wait_for(1).await;
    let ack = s
        .api
        .post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(ack.status, 200);

    for (body, status) in [
        (json!({"step": 3}), 400),
        (json!({"step": 0}), 400),
        (json!({"steps": 1}), 400),
    ] {
        let reply = s
            .api
            .post(&format!("/api/v1/incidents/{id}/escalate"), body.clone())
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.json);
    }
    let reply = s
        .api
        .post(
            &format!("/api/v1/incidents/{id}/escalate"),
            json!({"step": 2}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    app.settle().await;
    let mail = sink.wait_for(2).await;
    assert_eq!(recipients(&mail), ["ana@example.com", "ben@example.com"]);
    let list = s.api.get("/api/v1/incidents?limit=50").await;
    let incident = incident_of(&list.json, &id);
    assert_eq!(
        incident["status"], "triggered",
        "somebody has to answer again"
    );
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("reassigned to step 2 by ") && e.ends_with(": paging Ben")),
        "{events:?}"
    );

    // From the page: back to step 1, Ana paged again at once (a new round of the policy).
    let browser = app.browser();
    let (admin, _) = app.token_for("responder").await;
    browser.login(&admin.email, crate::helpers::PASSWORD).await;
    let number = incident["number"].as_i64().expect("number");
    let page = browser.get(&format!("/incidents/{number}")).await;
    assert!(page.body.contains("step 2: Night"), "{}", page.body);
    let done = browser
        .submit(
            &format!("/incidents/{number}"),
            &format!("/incidents/{id}/escalate"),
            &[("step", "1")],
        )
        .await;
    assert_eq!(done.status, 303);
    app.settle().await;
    let mail = sink.wait_for(3).await;
    assert_eq!(recipients(&mail)[2], "ana@example.com");
    // And the policy goes on: step 2 after step 1's 5 minutes.
    app.clock.advance(Duration::minutes(5));
    app.settle().await;
    let mail = sink.wait_for(4).await;
    assert_eq!(recipients(&mail)[3], "ben@example.com");

    s.api
        .post(&format!("/api/v1/incidents/{id}/resolve"), json!({}))
        .await;
    let reply = s
        .api
        .post(
            &format!("/api/v1/incidents/{id}/escalate"),
            json!({"step": 1}),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.json);
}

/// A relay that refuses Lookout's login fails every page alike: the pages stay queued and are
/// retried, the timeline says why, and admins see the problem on every page.
async fn a_refused_smtp_login_keeps_the_pages_and_tells_the_admins(backend: Backend) {
    let sink = SmtpSink::start_with(crate::smtp::SinkOptions {
        login: Some(crate::smtp::Login::new("lookout", "right", &["PLAIN"])),
        tls: None,
    })
    .await;
    let url = sink.url_with(Some(("lookout", "wrong")), "");
    let app = TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(url::Url::parse(&url).expect("smtp url"));
    })
    .await;
    let s = setup(&app, 0).await;
    let id = open(&app, &s, "Login refused").await;
    app.settle().await;
    assert!(sink.messages().is_empty());
    let events = timeline(&s, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("e-mail to ana@example.com failed")
                && e.contains("refused the login")
                && e.contains("trying again in 30 s")),
        "{events:?}"
    );
    let admin = app.signed_in("admin").await;
    let page = admin.get("/incidents").await;
    assert!(
        page.body.contains("Pages cannot be e-mailed") && page.body.contains("LOOKOUT_SMTP_URL"),
        "{}",
        page.body
    );
    let responder = app.signed_in("responder").await;
    assert!(
        !responder
            .get("/incidents")
            .await
            .body
            .contains("Pages cannot be e-mailed")
    );
    // Still queued, not given up: a later attempt is due.
    app.clock.advance(Duration::seconds(30));
    app.settle().await;
    let events = timeline(&s, &id).await;
    assert!(
        events.iter().any(|e| e.contains("trying again in 1 min")),
        "{events:?}"
    );
}

/// Both databases, each with its own SMTP sink (the usual macro spawns the app itself).
macro_rules! with_smtp_on_both {
    ($($name:ident => $scenario:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if crate::helpers::postgres_url().is_some() {
                        super::$scenario(crate::helpers::Backend::Postgres).await;
                    }
                }
            }
        )+
    };
}

pub(crate) use with_smtp_on_both;

with_smtp_on_both! {
    a_p0_that_nobody_acknowledges_escalates_and_breaches => a_p0_nobody_acknowledges,
    acknowledging_stops_escalation_and_policies_repeat => acknowledging_stops_the_steps_and_repeat_goes_round,
    a_restart_runs_overdue_work_once_in_order => a_restart_runs_what_fell_due_once_in_order,
    failed_pages_are_retried_until_the_mail_server_is_back => pages_are_retried_until_the_mail_server_is_back,
    the_mailed_link_acknowledges_after_a_confirmation => the_mailed_link_acknowledges_after_a_confirmation,
    snoozes_and_stale_acknowledgements_page_again => snoozes_and_stale_acknowledgements_page_again,
    service_webhooks_are_told_and_signed => service_webhooks_are_told_and_signed,
    reassigning_to_a_step_pages_it => reassigning_to_a_step_pages_it_and_goes_on_from_there,
    a_refused_smtp_login_tells_the_admins => a_refused_smtp_login_keeps_the_pages_and_tells_the_admins,
}
