//! The `lookout` binary: commands, settings errors, start-up failures.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::*;

fn lookout(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lookout"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LOOKOUT_BIND")
        .env_remove("LOOKOUT_BASE_URL")
        .env_remove("LOOKOUT_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run lookout");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let out = lookout(&["--help"], &[], "");
    assert!(out.status.success());
    for command in ["serve", "migrate", "user", "token", "demo"] {
        assert!(
            stdout(&out).contains(command),
            "{command} missing:\n{}",
            stdout(&out)
        );
    }
}

#[test]
fn a_bad_setting_stops_the_start_with_one_line_naming_it() {
    let out = lookout(
        &["migrate"],
        &[("DATABASE_URL", "mysql://root:hunter2@db/lookout")],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid setting DATABASE_URL (from environment)"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password is not shown: {err}");

    let out = lookout(&["serve", "--bind", "localhost"], &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid setting LOOKOUT_BIND (from command line)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_database_stops_the_start_with_one_line() {
    let out = lookout(
        &["serve", "--bind", "127.0.0.1:0"],
        &[(
            "DATABASE_URL",
            "postgres://postgres:s3cret@127.0.0.1:1/lookout",
        )],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with(
            "lookout: cannot connect to the database at postgres://postgres:***@127.0.0.1:1/lookout"
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret"));
    assert!(!err.contains("panicked"));
}

#[test]
fn a_taken_port_stops_the_start_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = lookout(&["serve", "--bind", &addr], &[("DATABASE_URL", &db)], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_from_the_command_line_work_in_the_app() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("lookout.db").display());
    let env = [("DATABASE_URL", db.as_str())];

    let out = lookout(&["migrate"], &env, "");
    assert!(out.status.success(), "{}", stderr(&out));

    let out = lookout(
        &[
            "user",
            "add",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops Lead",
            "--role",
            "admin",
        ],
        &env,
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("created Ops Lead <ops@example.com> as admin"));

    let out = lookout(
        &[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--name",
            "Again",
            "--role",
            "viewer",
        ],
        &env,
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a user with this e-mail address already exists"),
        "{}",
        stderr(&out)
    );

    let out = lookout(
        &[
            "user",
            "add",
            "--email",
            "b@example.com",
            "--name",
            "B",
            "--role",
            "boss",
        ],
        &env,
        "short\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("password must be at least 10 characters") && err.contains("unknown role"),
        "{err}"
    );

    let out = lookout(
        &[
            "user",
            "add",
            "--email",
            "c@example.com",
            "--name",
            "C",
            "--role",
            "viewer",
        ],
        &env,
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no password on standard input"));

    let out = lookout(
        &[
            "token",
            "add",
            "--email",
            "ops@example.com",
            "--label",
            "terraform",
        ],
        &env,
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(
        token.starts_with("lk_"),
        "stdout holds only the token: {token:?}"
    );

    let out = lookout(
        &[
            "token",
            "add",
            "--email",
            "nobody@example.com",
            "--label",
            "x",
        ],
        &env,
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no active user with e-mail nobody@example.com"));

    // The server on the same file knows them.
    let database = lookout::config::DatabaseUrl::parse(&db).expect("url");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.database = database).await;
    assert!(
        app.setup_link.is_none(),
        "an admin exists, so no setup link"
    );
    let me = app.api(Some(&token)).get("/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["email"], "ops@example.com");
    app.browser().login("ops@example.com", PASSWORD).await;
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"token.created".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_an_empty_database_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let env = [("DATABASE_URL", db.as_str())];
    let out = lookout(&["demo"], &env, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Demo team of 9 people created."), "{text}");
    assert!(text.contains("alice@demo.lookout.dev"));
    assert!(
        text.contains("6 services with integrations and 22 incidents"),
        "{text}"
    );
    assert!(text.contains("3 duty schedules"), "{text}");
    let again = lookout(&["demo"], &env, "");
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already has users"));

    // A living team: incidents in every state, an overdue one, a flapping one.
    let database = lookout::config::DatabaseUrl::parse(&db).expect("url");
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.database = database).await;
    let page = lookout::services::incidents::list(
        &app.state,
        lookout::services::incidents::ListQuery {
            limit: 200,
            ..Default::default()
        },
    )
    .await
    .expect("list");
    let statuses: Vec<&str> = page
        .items
        .iter()
        .map(|v| v.incident.status.as_str())
        .collect();
    for status in ["triggered", "acknowledged", "resolved"] {
        assert!(statuses.contains(&status), "{status} missing: {statuses:?}");
    }
    let now = chrono::Utc::now();
    assert!(
        page.items.iter().any(|v| v.incident.flapping),
        "a flapping key"
    );
    assert!(
        page.items.iter().any(|v| v.incident.sla_breached_at(now)),
        "an overdue incident"
    );
    assert!(page.items.iter().any(|v| v.incident.severity
        == lookout::domain::severity::Severity::P0
        && v.incident.status.is_open()));

    // Someone is on call on every demo schedule, and the overrides are there.
    let at = app.state.clock.now();
    let rota = lookout::services::schedules::list(&app.state, at)
        .await
        .expect("schedules");
    assert_eq!(rota.len(), 3);
    for schedule in &rota {
        assert!(
            schedule.on_call_at(at).is_some(),
            "nobody on call on {}",
            schedule.name
        );
    }
    assert!(rota.iter().any(|s| !s.overrides.is_empty()), "an override");

    // Swaps waiting for someone and for a manager, and leave that meets duty.
    let primary = rota
        .iter()
        .find(|s| s.name == "Platform primary")
        .expect("primary");
    assert!(primary.swaps_need_approval);
    let swaps = lookout::services::swaps::of_schedule(&app.state, primary)
        .await
        .expect("swaps");
    let states: Vec<&str> = swaps.iter().map(|s| s.state.as_str()).collect();
    assert!(states.contains(&"open"), "{states:?}");
    assert!(states.contains(&"awaiting_approval"), "{states:?}");
    let weeks = now + chrono::Duration::weeks(6);
    let detail = lookout::services::schedules::get(&app.state, &primary.id, now, weeks)
        .await
        .expect("primary");
    let conflicts = lookout::services::time_off::conflicts_in(&app.state, &detail, now, weeks)
        .await
        .expect("conflicts");
    assert!(
        conflicts.iter().any(|(_, l)| l.reason == "Conference"),
        "a leave conflict to settle"
    );
    assert!(
        conflicts.iter().all(|(_, l)| l.reason != "Holiday"),
        "the holiday is covered by its override"
    );

    // Every live service follows the demo's escalation policy.
    let policies = lookout::services::escalation::list(&app.state)
        .await
        .expect("policies");
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].policy.steps.len(), 3);
    let services = lookout::services::catalog::list_services(&app.state, false)
        .await
        .expect("services");
    assert!(
        services
            .iter()
            .all(|s| s.escalation_policy_id.as_deref() == Some(policies[0].id.as_str()))
    );

    // Some of the team have notification rules of their own.
    let marco = lookout::services::users::find_by_email(&app.state, "marco@demo.lookout.dev")
        .await
        .expect("lookup")
        .expect("marco");
    let reach = lookout::services::contacts::reach_of(&app.state, &marco)
        .await
        .expect("reach");
    assert!(!reach.default_rules);
    let rules: Vec<(String, i32)> = reach
        .rules
        .iter()
        .map(|r| (r.method.address.clone(), r.delay_minutes))
        .collect();
    assert_eq!(
        rules,
        [
            ("marco@demo.lookout.dev".to_owned(), 0),
            ("marco.rossi@home.example".to_owned(), 10)
        ]
    );
}
