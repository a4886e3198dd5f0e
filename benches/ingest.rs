//! Load benchmark: drives a real Lookout server over HTTP and measures webhook ingest and the
//! incident list.
//!
//! The server runs in this process (`Application::build` on 127.0.0.1:0) against a fresh
//! database: a temporary SQLite file, or with `--postgres URL` a database created for the run on
//! that PostgreSQL server and dropped afterwards. Scenarios:
//!
//! * `healthz`: `GET /healthz`, 16 connections, 10 s. No database: the ceiling of this HTTP
//!   stack plus this load generator on this machine, to tell whether the generator is the limit.
//! * `single`: one firing Alertmanager alert per `POST /hooks/alertmanager/{key}`, 16
//!   connections, 20 s; 1,000 fingerprints spread over 100 groups.
//! * `single64`: the same at 64 connections.
//! * `batch`: 100 alerts (one group) per post, 16 connections, 20 s, over the same 1,000
//!   fingerprints.
//! * `incidents-page`: 100,000 incidents inserted straight into the database, then 500
//!   sequential requests each of `GET /incidents` (asking for gzip as browsers do, and once more
//!   without), `GET /incidents?status=resolved&severity=P2` (signed in as a viewer) and
//!   `GET /api/v1/incidents?limit=50` (viewer's bearer token).
//!
//! Every load scenario starts from an empty incident table with its own service and integration,
//! and is checked against the database afterwards: every alert acknowledged with a 2xx must be
//! counted in `alerts.occurrences` ("alerts lost" must be 0). The CPU table splits the machine's
//! time between the load generator, the server's threads, PostgreSQL and everything else.
//!
//! Run:
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/target-bench cargo bench --bench ingest
//! CARGO_TARGET_DIR=/tmp/target-bench cargo bench --bench ingest -- \
//!     --scenario single --connections 16 --seconds 20 \
//!     [--postgres postgres://postgres@127.0.0.1:5432/postgres]
//! ```
//!
//! Options: `--scenario a,b` (repeatable; default: all of the above), `--connections N` and
//! `--seconds S` (override every load scenario's), `--postgres URL`, `--incidents N` (rows for
//! `incidents-page`, default 100000), `--requests N` (per URL, default 500), `--client-threads N`
//! (load generator threads, default 1), `--accept-gzip` (load requests ask for gzip answers,
//! as Alertmanager's Go HTTP client does).

// A benchmark should stop loudly on anything unexpected rather than report numbers for a run
// that did not happen as described.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use lookout::clock::SystemClock;
use lookout::config::DatabaseUrl;
use lookout::db::schema::{alerts, counters, incident_events, incidents};
use lookout::db::{Backend, DbConn, write_tx};
use lookout::domain::audit::Actor;
use lookout::domain::user::User;
use lookout::services::catalog::{self, ServiceInput};
use lookout::services::{tokens, users};
use lookout::startup::Application;
use lookout::state::AppState;
use serde_json::{Value, json};

use common::{
    BenchDb, TICKS_PER_SECOND, machine_ticks, numeric_entries, postgres_ticks,
    postgres_ticks_since, read_stat,
};

const PASSWORD: &str = "correct horse battery staple";
/// Alertmanager's sentinel for "not ended" (Go's zero time).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
const FINGERPRINTS: usize = 1_000;
const GROUPS: usize = 100;
const BATCH: usize = 100;

// ---------------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Healthz,
    Single,
    Single64,
    Batch,
    IncidentsPage,
}

impl Scenario {
    const STANDARD: [Scenario; 5] = [
        Scenario::Healthz,
        Scenario::Single,
        Scenario::Single64,
        Scenario::Batch,
        Scenario::IncidentsPage,
    ];

    fn parse(name: &str) -> Scenario {
        match name {
            "healthz" => Scenario::Healthz,
            "single" => Scenario::Single,
            "single64" => Scenario::Single64,
            "batch" => Scenario::Batch,
            "incidents-page" => Scenario::IncidentsPage,
            other => panic!(
                "unknown scenario {other:?}; known: healthz, single, single64, batch, incidents-page"
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::Single => "single",
            Scenario::Single64 => "single64",
            Scenario::Batch => "batch",
            Scenario::IncidentsPage => "incidents-page",
        }
    }

    /// Connections and seconds when the command line does not say.
    fn defaults(self) -> (usize, u64) {
        match self {
            Scenario::Healthz => (16, 10),
            Scenario::Single64 => (64, 20),
            _ => (16, 20),
        }
    }
}

#[derive(Debug)]
struct Args {
    scenarios: Vec<Scenario>,
    connections: Option<usize>,
    seconds: Option<u64>,
    postgres: Option<String>,
    incidents: usize,
    requests: usize,
    client_threads: usize,
    accept_gzip: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            scenarios: Vec::new(),
            connections: None,
            seconds: None,
            postgres: None,
            incidents: 100_000,
            requests: 500,
            client_threads: 1,
            accept_gzip: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            match flag.as_str() {
                // `cargo bench` adds `--bench` to every bench binary's arguments.
                "--bench" => {}
                "--scenario" => args
                    .scenarios
                    .extend(value().split(',').map(str::trim).map(Scenario::parse)),
                "--connections" => args.connections = Some(number(&flag, &value())),
                "--seconds" => args.seconds = Some(number(&flag, &value())),
                "--postgres" => args.postgres = Some(value()),
                "--incidents" => args.incidents = number(&flag, &value()),
                "--requests" => args.requests = number(&flag, &value()),
                "--client-threads" => args.client_threads = number(&flag, &value()),
                "--accept-gzip" => args.accept_gzip = true,
                other => panic!("unknown argument {other:?} (see the top of benches/ingest.rs)"),
            }
        }
        if args.scenarios.is_empty() {
            args.scenarios = Scenario::STANDARD.to_vec();
        }
        args
    }
}

fn number<T: std::str::FromStr>(flag: &str, raw: &str) -> T {
    raw.parse()
        .unwrap_or_else(|_| panic!("{flag} wants a number, got {raw:?}"))
}

// ---------------------------------------------------------------------------------------------
// Entry point

fn main() {
    let args = Args::parse();
    // "warn", never RUST_LOG: per-request logging would be part of what is measured.
    lookout::telemetry::init("warn");
    let (bench_db, url, shown_url) = BenchDb::create(args.postgres.as_deref());
    // The generator's threads are named so the CPU table can tell them from the server's.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&args, url, shown_url));
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(bench_db);
}

struct Ctx {
    state: AppState,
    addr: SocketAddr,
    admin: User,
}

async fn run(args: &Args, url: DatabaseUrl, shown_url: String) {
    let app = Application::build(common::settings(url), Arc::new(SystemClock))
        .await
        .expect("Lookout starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
    let state = app.state().clone();
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let admin = create_user(&state, "bench-admin@example.com", "admin").await;
    let ctx = Ctx { state, addr, admin };

    println!(
        "Lookout benchmark: {} at {shown_url}; {} CPUs; {} load-generator thread(s); server on {addr}",
        ctx.state.db.backend().name(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.client_threads,
    );

    let mut loads = Vec::new();
    let mut pages = None;
    for &scenario in &args.scenarios {
        if scenario == Scenario::IncidentsPage {
            pages = Some(incidents_page(&ctx, args.incidents, args.requests).await);
        } else {
            let (connections, seconds) = scenario.defaults();
            let connections = args.connections.unwrap_or(connections);
            let seconds = args.seconds.unwrap_or(seconds);
            let report =
                load_scenario(&ctx, scenario, connections, seconds, args.accept_gzip).await;
            println!(
                "  done: {} ({:.0} req/s)",
                scenario.name(),
                report.requests_per_second()
            );
            loads.push(report);
        }
    }

    println!();
    if !loads.is_empty() {
        print!("{}", load_table(&loads));
        println!();
        print!("{}", cpu_table(&loads));
        println!();
    }
    if let Some(pages) = pages {
        print!("{}", pages.table());
    }

    handle.stop(true).await;
    let _ = server.await;
}

async fn create_user(st: &AppState, email: &str, role: &str) -> User {
    let input = users::NewUserInput {
        email: email.into(),
        name: format!("Bench {role}"),
        role: role.into(),
        password: Some(PASSWORD.into()),
        time_zone: None,
    };
    users::create(st, &Actor::cli(), &input)
        .await
        .expect("create user")
        .user
}

/// A fresh service with an Alertmanager integration: its id and webhook key.
async fn service_with_key(ctx: &Ctx, name: &str) -> (String, String) {
    let input = ServiceInput {
        name: name.into(),
        description: "load benchmark".into(),
        owner: ctx.admin.email.clone(),
        ..ServiceInput::default()
    };
    let service = catalog::create_service(&ctx.state, &Actor::cli(), &input)
        .await
        .expect("create service");
    let issued =
        catalog::create_integration(&ctx.state, &Actor::cli(), &service.id, "alertmanager", None)
            .await
            .expect("create integration");
    (service.id, issued.key)
}

/// Runs `f` on a pooled connection on a blocking thread.
async fn with_conn<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut DbConn) -> T + Send + 'static,
) -> T {
    let db = st.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("database connection");
        f(&mut conn)
    })
    .await
    .expect("database task")
}

/// Empties the incident tables, so each scenario starts from the same state.
async fn clear_incidents(st: &AppState) {
    with_conn(st, |c| {
        write_tx(c, |c| -> diesel::QueryResult<()> {
            diesel::delete(incident_events::table).execute(c)?;
            diesel::delete(alerts::table).execute(c)?;
            diesel::delete(incidents::table).execute(c)?;
            Ok(())
        })
        .expect("clear incidents");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/// One Alertmanager webhook message (version 4) for `group`, with one firing alert per
/// fingerprint number.
fn alertmanager_body(group: usize, fingerprints: &[usize]) -> Bytes {
    let alertname = format!("Load-{group}");
    let alerts: Vec<Value> = fingerprints
        .iter()
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {
                    "alertname": alertname,
                    "instance": format!("host-{i}:9100"),
                    "severity": "warning",
                },
                "annotations": { "summary": format!("Load alert {i} in group {group}") },
                "startsAt": "2026-11-22T03:19:42.824140805Z",
                "endsAt": ZERO_TIME,
                "generatorURL": "",
                "fingerprint": format!("fp-{i}"),
            })
        })
        .collect();
    // Alertmanager puts what all alerts share in `common*`: everything when there is one.
    let (common_labels, common_annotations) = match alerts.as_slice() {
        [only] => (only["labels"].clone(), only["annotations"].clone()),
        _ => (
            json!({ "alertname": alertname, "severity": "warning" }),
            json!({}),
        ),
    };
    let body = json!({
        "receiver": "lookout",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": { "alertname": alertname },
        "commonLabels": common_labels,
        "commonAnnotations": common_annotations,
        "externalURL": "http://alertmanager.bench:9093",
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
        "truncatedAlerts": 0,
    });
    Bytes::from(serde_json::to_vec(&body).expect("json"))
}

/// What the workers send: one method and path, and bodies they cycle through.
struct Target {
    method: Method,
    uri: Uri,
    /// Each body with the number of alerts in it.
    bodies: Vec<(Bytes, u64)>,
    /// Send `Accept-Encoding: gzip`, as Go's HTTP client (Alertmanager's) does by default.
    accept_gzip: bool,
}

fn target(scenario: Scenario, key: &str, accept_gzip: bool) -> Target {
    let hook: Uri = format!("/hooks/alertmanager/{key}").parse().expect("uri");
    match scenario {
        Scenario::Healthz => Target {
            method: Method::GET,
            uri: Uri::from_static("/healthz"),
            bodies: vec![(Bytes::new(), 0)],
            accept_gzip,
        },
        // Fingerprint i is in group i % 100: ten alerts per group, and consecutive requests
        // land in different groups.
        Scenario::Single | Scenario::Single64 => Target {
            method: Method::POST,
            uri: hook,
            bodies: (0..FINGERPRINTS)
                .map(|i| (alertmanager_body(i % GROUPS, &[i]), 1))
                .collect(),
            accept_gzip,
        },
        // Ten bodies of 100 consecutive fingerprints, each body one group.
        Scenario::Batch => Target {
            method: Method::POST,
            uri: hook,
            bodies: (0..FINGERPRINTS / BATCH)
                .map(|b| {
                    let fps: Vec<usize> = (b * BATCH..(b + 1) * BATCH).collect();
                    (alertmanager_body(b, &fps), BATCH as u64)
                })
                .collect(),
            accept_gzip,
        },
        Scenario::IncidentsPage => unreachable!("not a load scenario"),
    }
}

// ---------------------------------------------------------------------------------------------
// Load

#[derive(Default)]
struct WorkerStats {
    /// Microseconds from sending the request to having read the whole answer.
    latencies_us: Vec<u32>,
    non_2xx: u64,
    /// Connection-level failures (no HTTP answer at all).
    errors: u64,
    /// Alerts in requests answered 2xx: what the server promised to have stored.
    alerts_ok: u64,
    first_failure: Option<String>,
}

struct LoadReport {
    scenario: Scenario,
    connections: usize,
    elapsed: Duration,
    requests: u64,
    non_2xx: u64,
    errors: u64,
    alerts_ok: u64,
    /// Sorted.
    latencies_us: Vec<u32>,
    first_failure: Option<String>,
    /// From the database after the run; `None` for `healthz`.
    check: Option<DbCheck>,
    cpu: CpuUse,
}

struct DbCheck {
    incidents: i64,
    occurrences: i64,
    events: i64,
}

impl LoadReport {
    fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn alerts_per_second(&self) -> f64 {
        self.alerts_ok as f64 / self.elapsed.as_secs_f64()
    }
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    // Requests are one small write each; Nagle would only add delay.
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes the connection; a failure shows
        // up as an error on the next request.
        let _ = connection.await;
    });
    sender
}

/// One keep-alive connection sending requests back to back until `deadline`.
async fn worker(
    addr: SocketAddr,
    target: Arc<Target>,
    first_body: usize,
    deadline: Instant,
    expected: usize,
) -> WorkerStats {
    let host = HeaderValue::from_str(&addr.to_string()).expect("host header");
    let json = HeaderValue::from_static("application/json");
    let gzip = HeaderValue::from_static("gzip");
    let mut stats = WorkerStats {
        latencies_us: Vec::with_capacity(expected),
        ..WorkerStats::default()
    };
    let mut sender = connect(addr).await;
    let mut next = first_body;
    let mut verified = false;
    while Instant::now() < deadline {
        let (body, alerts) = &target.bodies[next % target.bodies.len()];
        next += 1;
        let mut builder = Request::builder()
            .method(target.method.clone())
            .uri(target.uri.clone())
            .header(header::HOST, host.clone());
        if target.method == Method::POST {
            builder = builder.header(header::CONTENT_TYPE, json.clone());
        }
        if target.accept_gzip {
            builder = builder.header(header::ACCEPT_ENCODING, gzip.clone());
        }
        // `Bytes` clones share the pre-serialized body: nothing is built per request.
        let request = builder.body(Full::new(body.clone())).expect("request");
        if sender.ready().await.is_err() {
            stats.errors += 1;
            sender = connect(addr).await;
            continue;
        }
        let started = Instant::now();
        let answer = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| (status, b.to_bytes()))
            }
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        stats
            .latencies_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        match answer {
            Ok((status, answer)) if status.is_success() => {
                stats.alerts_ok += alerts;
                // Once per connection, check the answer says what we think it says; parsing
                // every answer would cost the generator CPU the server needs. A gzipped answer
                // is not checked (no gzip decoder here); the database check covers it.
                if !verified && *alerts > 0 && !target.accept_gzip {
                    let v: Value = serde_json::from_slice(&answer).expect("JSON answer");
                    assert_eq!(v["status"], "ok", "unexpected answer: {v}");
                    assert_eq!(
                        v["alerts"].as_u64(),
                        Some(*alerts),
                        "unexpected answer: {v}"
                    );
                    verified = true;
                }
            }
            Ok((status, answer)) => {
                stats.non_2xx += 1;
                stats.first_failure.get_or_insert_with(|| {
                    format!("{status}: {}", String::from_utf8_lossy(&answer))
                });
            }
            Err(e) => {
                stats.errors += 1;
                stats.first_failure.get_or_insert_with(|| e.to_string());
                sender = connect(addr).await;
            }
        }
    }
    stats
}

async fn load_scenario(
    ctx: &Ctx,
    scenario: Scenario,
    connections: usize,
    seconds: u64,
    accept_gzip: bool,
) -> LoadReport {
    let service = if scenario == Scenario::Healthz {
        None
    } else {
        clear_incidents(&ctx.state).await;
        Some(service_with_key(ctx, &format!("bench-{}", scenario.name())).await)
    };
    let key = service.as_ref().map_or("", |(_, key)| key.as_str());
    let target = Arc::new(target(scenario, key, accept_gzip));

    let cpu_before = CpuSample::take();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    // Sized for ~20,000 requests/s shared by all connections, so pushes rarely reallocate.
    let expected = (20_000 * seconds as usize / connections).max(1_024);
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            // Spread the starting points so connections send different fingerprints at once.
            let first = w * target.bodies.len() / connections;
            tokio::spawn(worker(ctx.addr, target.clone(), first, deadline, expected))
        })
        .collect();
    let mut all = Vec::with_capacity(connections);
    for w in workers {
        all.push(w.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    let cpu = CpuSample::take().since(&cpu_before);

    let mut latencies_us: Vec<u32> = all
        .iter_mut()
        .flat_map(|s| std::mem::take(&mut s.latencies_us))
        .collect();
    latencies_us.sort_unstable();
    let check = match service {
        Some((service_id, _)) => Some(check_db(&ctx.state, service_id).await),
        None => None,
    };
    LoadReport {
        scenario,
        connections,
        elapsed,
        requests: latencies_us.len() as u64,
        non_2xx: all.iter().map(|s| s.non_2xx).sum(),
        errors: all.iter().map(|s| s.errors).sum(),
        alerts_ok: all.iter().map(|s| s.alerts_ok).sum(),
        first_failure: all.iter_mut().find_map(|s| s.first_failure.take()),
        latencies_us,
        check,
        cpu,
    }
}

/// What the database holds for the service after the load: every 2xx-acknowledged alert must
/// be counted in some alert's `occurrences`.
async fn check_db(st: &AppState, service_id: String) -> DbCheck {
    with_conn(st, move |c| {
        let incidents = incidents::table
            .filter(incidents::service_id.eq(&service_id))
            .count()
            .get_result::<i64>(c)
            .expect("count incidents");
        // Summed here: SUM(BIGINT) is NUMERIC on PostgreSQL, which the portable schema lacks.
        let occurrences: i64 = alerts::table
            .inner_join(incidents::table)
            .filter(incidents::service_id.eq(&service_id))
            .select(alerts::occurrences)
            .load::<i64>(c)
            .expect("alert occurrences")
            .iter()
            .sum();
        let events = incident_events::table
            .inner_join(incidents::table)
            .filter(incidents::service_id.eq(&service_id))
            .count()
            .get_result::<i64>(c)
            .expect("count events");
        DbCheck {
            incidents,
            occurrences,
            events,
        }
    })
    .await
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

fn load_table(reports: &[LoadReport]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{:<9} {:>5} {:>6} {:>9} {:>8} {:>9} {:>7} {:>7} {:>8} {:>7} {:>6} {:>9} {:>6} {:>7}",
        "scenario",
        "conns",
        "secs",
        "requests",
        "req/s",
        "alerts/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "non-2xx",
        "errors",
        "incidents",
        "lost",
        "events"
    )
    .unwrap();
    for r in reports {
        let (incidents, lost, events) = match &r.check {
            Some(c) => (
                c.incidents.to_string(),
                (r.alerts_ok as i64 - c.occurrences).to_string(),
                c.events.to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        writeln!(
            out,
            "{:<9} {:>5} {:>6.1} {:>9} {:>8.0} {:>9.0} {:>7.2} {:>7.2} {:>8.2} {:>7} {:>6} {:>9} {:>6} {:>7}",
            r.scenario.name(),
            r.connections,
            r.elapsed.as_secs_f64(),
            r.requests,
            r.requests_per_second(),
            r.alerts_per_second(),
            percentile_ms(&r.latencies_us, 50.0),
            percentile_ms(&r.latencies_us, 99.0),
            percentile_ms(&r.latencies_us, 100.0),
            r.non_2xx,
            r.errors,
            incidents,
            lost,
            events,
        )
        .unwrap();
        if let Some(failure) = &r.first_failure {
            writeln!(out, "          first failure: {failure}").unwrap();
        }
    }
    out.push_str(
        "lost = alerts in 2xx answers - SUM(alerts.occurrences) of the scenario's service \
         (must be 0)\n",
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The incident list

/// Extra request headers: a session cookie or a bearer token.
type Headers = [(header::HeaderName, HeaderValue)];

/// The incident list's answer times for one URL.
struct PageTiming {
    label: &'static str,
    path: String,
    /// Sorted.
    latencies_us: Vec<u32>,
    bytes: usize,
}

struct PagesReport {
    backend: Backend,
    incidents: usize,
    seed: Duration,
    timings: Vec<PageTiming>,
}

impl PagesReport {
    fn table(&self) -> String {
        let mut out = String::new();
        writeln!(
            out,
            "incidents-page: {} incidents inserted in {:.1} s ({:.0} rows/s){}; sequential \
             requests on one keep-alive connection",
            self.incidents,
            self.seed.as_secs_f64(),
            self.incidents as f64 / self.seed.as_secs_f64(),
            if self.backend == Backend::Postgres {
                ", then ANALYZE"
            } else {
                ""
            },
        )
        .unwrap();
        writeln!(
            out,
            "{:<46} {:>5} {:>7} {:>7} {:>7} {:>8}",
            "url", "n", "p50 ms", "p99 ms", "max ms", "bytes"
        )
        .unwrap();
        for t in &self.timings {
            writeln!(
                out,
                "{:<46} {:>5} {:>7.2} {:>7.2} {:>7.2} {:>8}",
                format!("{} ({})", t.path, t.label),
                t.latencies_us.len(),
                percentile_ms(&t.latencies_us, 50.0),
                percentile_ms(&t.latencies_us, 99.0),
                percentile_ms(&t.latencies_us, 100.0),
                t.bytes,
            )
            .unwrap();
        }
        out
    }
}

async fn incidents_page(ctx: &Ctx, incidents: usize, requests: usize) -> PagesReport {
    clear_incidents(&ctx.state).await;
    let (service_id, _) = service_with_key(ctx, "bench-pages").await;
    let backend = ctx.state.db.backend();
    let started = Instant::now();
    with_conn(&ctx.state, move |c| {
        seed_incidents(c, &service_id, incidents);
        // PostgreSQL's autovacuum would analyze a table that grew this much within a minute;
        // do it now so the plan is the one a running installation gets. Lookout never runs
        // ANALYZE on SQLite, so neither do we.
        if c.backend() == Backend::Postgres {
            c.batch_execute("ANALYZE incidents").expect("analyze");
        }
    })
    .await;
    let seed = started.elapsed();
    println!(
        "  seeded {incidents} incidents in {:.1} s",
        seed.as_secs_f64()
    );

    let viewer = create_user(&ctx.state, "bench-viewer@example.com", "viewer").await;
    let cookie = sign_in(ctx.addr, "bench-viewer@example.com").await;
    let token = tokens::create(&ctx.state, &Actor::cli(), &viewer, "bench")
        .await
        .expect("token")
        .secret;

    // Pages as a browser asks for them (gzip); the API as a script does (no compression).
    let browser = vec![
        (
            header::COOKIE,
            HeaderValue::from_str(&cookie).expect("cookie"),
        ),
        (header::ACCEPT, HeaderValue::from_static("text/html")),
        (header::ACCEPT_ENCODING, HeaderValue::from_static("gzip")),
    ];
    let script = vec![(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("token header"),
    )];
    // The same page uncompressed, to tell the cost of rendering from that of compression.
    let plain = &browser[..2];
    let urls: [(&'static str, &str, &Headers); 4] = [
        ("default view", "/incidents", &browser),
        ("default, no gzip", "/incidents", plain),
        (
            "filtered",
            "/incidents?status=resolved&severity=P2",
            &browser,
        ),
        ("API, bearer", "/api/v1/incidents?limit=50", &script),
    ];
    let mut timings = Vec::new();
    for (label, path, headers) in urls {
        timings.push(time_get(ctx.addr, label, path, headers, requests).await);
    }
    PagesReport {
        backend,
        incidents,
        seed,
        timings,
    }
}

/// Signs in through the login form like a browser and returns the `Cookie` header to send.
async fn sign_in(addr: SocketAddr, email: &str) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = format!("http://{addr}");
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("login page");
    let marker = "name=\"csrf_token\" value=\"";
    let start = form.find(marker).expect("csrf_token on the login page") + marker.len();
    let csrf = &form[start..start + form[start..].find('"').expect("end of csrf_token")];
    let answer = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", csrf),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::SEE_OTHER,
        "sign-in refused"
    );
    let cookies: Vec<&str> = answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter(|c| c.starts_with("lookout_session="))
        .collect();
    assert!(!cookies.is_empty(), "no session cookie after sign-in");
    cookies.join("; ")
}

/// `requests` sequential GETs of `path`, after a few untimed ones to warm caches.
async fn time_get(
    addr: SocketAddr,
    label: &'static str,
    path: &str,
    headers: &Headers,
    requests: usize,
) -> PageTiming {
    const WARM_UP: usize = 5;
    let uri: Uri = path.parse().expect("uri");
    let host = HeaderValue::from_str(&addr.to_string()).expect("host header");
    let mut sender = connect(addr).await;
    let mut latencies_us = Vec::with_capacity(requests);
    let mut bytes = 0;
    for i in 0..WARM_UP + requests {
        let mut builder = Request::get(uri.clone()).header(header::HOST, host.clone());
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(Bytes::new())).expect("request");
        sender.ready().await.expect("connection ready");
        let started = Instant::now();
        let response = sender.send_request(request).await.expect("GET");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let took = started.elapsed();
        assert!(
            status.is_success(),
            "GET {path}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if i >= WARM_UP {
            latencies_us.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        }
        bytes = body.len();
    }
    latencies_us.sort_unstable();
    PageTiming {
        label,
        path: path.to_owned(),
        latencies_us,
        bytes,
    }
}

/// Response times per severity, as the migration seeds them: (ack, resolve) in minutes.
fn response_minutes(severity: &str) -> (i64, i64) {
    match severity {
        "P0" => (15, 240),
        "P1" => (60, 1440),
        "P2" => (240, 4320),
        _ => (1440, 10080),
    }
}

/// The text both databases accept for a TIMESTAMP and that diesel writes for SQLite.
fn ts(t: DateTime<Utc>) -> String {
    t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Inserts `count` incidents for `service_id` with plain multi-row INSERTs: 500 rows per
/// statement, 5,000 per transaction. Ids are UUIDv7 made now, numbers follow the counter, and
/// creation times climb over the last 90 days, so all three orders agree as they do for real
/// incidents. 1% are open (half triggered, half acknowledged), the rest resolved.
fn seed_incidents(c: &mut DbConn, service_id: &str, count: usize) {
    const PER_STATEMENT: usize = 500;
    const PER_TRANSACTION: usize = 5_000;
    let first_number: i64 = counters::table
        .filter(counters::name.eq("incident_number"))
        .select(counters::value)
        .first::<i64>(c)
        .expect("incident counter")
        + 1;
    let now = Utc::now();
    let span = chrono::Duration::days(90);
    let start = now - span;
    let step_us = span.num_microseconds().expect("span") / count.max(1) as i64;

    let mut n = 0usize;
    while n < count {
        let end = (n + PER_TRANSACTION).min(count);
        write_tx(c, |c| -> diesel::QueryResult<()> {
            let mut sql = String::new();
            for row in n..end {
                if (row - n).is_multiple_of(PER_STATEMENT) {
                    if !sql.is_empty() {
                        c.batch_execute(&sql)?;
                        sql.clear();
                    }
                    sql.push_str(
                        "INSERT INTO incidents (id, number, service_id, title, description, \
                         severity, status, dedup_key, alert_count, created_at, updated_at, \
                         last_alert_at, acknowledged_at, acknowledged_by, resolved_at, \
                         resolved_by, ack_deadline, resolve_deadline, sla_breached, \
                         escalation_step, flapping, version) VALUES ",
                    );
                } else {
                    sql.push(',');
                }
                push_incident_row(
                    &mut sql,
                    service_id,
                    first_number + row as i64,
                    row,
                    start + chrono::Duration::microseconds(step_us * row as i64),
                );
            }
            c.batch_execute(&sql)
        })
        .expect("insert incidents");
        n = end;
    }
    let last = first_number + count as i64 - 1;
    diesel::update(counters::table.filter(counters::name.eq("incident_number")))
        .set(counters::value.eq(last))
        .execute(c)
        .expect("advance the incident counter");
}

fn push_incident_row(
    sql: &mut String,
    service_id: &str,
    number: i64,
    row: usize,
    created: DateTime<Utc>,
) {
    // A cheap deterministic scramble, so severities and statuses do not follow the row order.
    let mix = (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let severity = match mix % 100 {
        0..5 => "P0",
        5..20 => "P1",
        20..60 => "P2",
        _ => "P3",
    };
    let status = match row % 200 {
        0 => "triggered",
        100 => "acknowledged",
        _ => "resolved",
    };
    let (ack_min, resolve_min) = response_minutes(severity);
    let minutes = |m: u64| created + chrono::Duration::minutes(m as i64);
    let acknowledged_at = minutes(1 + mix % 30);
    let resolved_at = minutes(31 + mix % 240);
    let null = || "NULL".to_owned();
    let quoted = |s: String| format!("'{s}'");
    let (ack_at, ack_by, res_at, res_by, updated) = match status {
        "triggered" => (null(), null(), null(), null(), created),
        "acknowledged" => (
            quoted(ts(acknowledged_at)),
            quoted("Bench responder".into()),
            null(),
            null(),
            acknowledged_at,
        ),
        _ => (
            quoted(ts(acknowledged_at)),
            quoted("Bench responder".into()),
            quoted(ts(resolved_at)),
            quoted("Alertmanager".into()),
            resolved_at,
        ),
    };
    // Only generated ids, numbers and fixed words go into this SQL: nothing needs escaping.
    write!(
        sql,
        "('{id}', {number}, '{service_id}', 'Bench incident {number}: error rate high on web-{host}', \
         '', '{severity}', '{status}', 'bench-{number}', 1, '{created}', '{updated}', '{created}', \
         {ack_at}, {ack_by}, {res_at}, {res_by}, '{ack_deadline}', '{resolve_deadline}', FALSE, 0, \
         FALSE, 1)",
        id = uuid::Uuid::now_v7().hyphenated(),
        host = row % 50,
        created = ts(created),
        updated = ts(updated),
        ack_deadline = ts(minutes(ack_min as u64)),
        resolve_deadline = ts(minutes(resolve_min as u64)),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/// CPU time so far: this process's threads by id (name, ticks), PostgreSQL's processes, and the
/// whole machine from /proc/stat.
struct CpuSample {
    at: Instant,
    threads: HashMap<u32, (String, u64)>,
    postgres: HashMap<u32, u64>,
    busy: u64,
    iowait: u64,
}

/// Where the CPU went during one scenario, in "% of one core" (200% is this whole machine).
#[derive(Default)]
struct CpuUse {
    client: f64,
    http_workers: f64,
    db_threads: f64,
    ingest_writer: f64,
    other_own: f64,
    postgres: f64,
    other_processes: f64,
    machine_busy: f64,
    iowait: f64,
}

impl CpuSample {
    fn take() -> CpuSample {
        let threads = numeric_entries("/proc/self/task")
            .into_iter()
            .filter_map(|tid| Some((tid, read_stat(&format!("/proc/self/task/{tid}/stat"))?)))
            .collect();
        let postgres = postgres_ticks();
        let (busy, iowait) = machine_ticks();
        CpuSample {
            at: Instant::now(),
            threads,
            postgres,
            busy,
            iowait,
        }
    }

    /// CPU used between `before` and this sample. Threads that ended in between are missed
    /// (idle blocking-pool threads retire after 10 s); the machine totals are not affected.
    fn since(&self, before: &CpuSample) -> CpuUse {
        let seconds = self.at.duration_since(before.at).as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds * 100.0;
        let own_pid = std::process::id();
        let mut used = CpuUse::default();
        let mut own_total = 0;
        for (tid, (name, ticks)) in &self.threads {
            let delta = ticks - before.threads.get(tid).map_or(0, |(_, t)| *t);
            own_total += delta;
            let slot = if *tid == own_pid || name.starts_with("bench-client") {
                // The main thread drives the scenarios; the workers run the connections.
                &mut used.client
            } else if name == "lookout-ingest" {
                &mut used.ingest_writer
            } else if name.starts_with("actix-") {
                &mut used.http_workers
            } else if name.starts_with("tokio-") {
                // Blocking pools of the server's per-worker runtimes: the `Db::read`/`write`
                // queries (sessions, key lookups, pages).
                &mut used.db_threads
            } else {
                &mut used.other_own
            };
            *slot += pct(delta);
        }
        let postgres = postgres_ticks_since(&self.postgres, &before.postgres);
        used.postgres = pct(postgres);
        let machine = self.busy - before.busy;
        used.machine_busy = pct(machine);
        used.iowait = pct(self.iowait - before.iowait);
        used.other_processes = pct(machine.saturating_sub(own_total + postgres));
        used
    }
}

fn cpu_table(reports: &[LoadReport]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "CPU, % of one core ({} cores = {}%):",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::thread::available_parallelism().map_or(0, |n| n.get() * 100)
    )
    .unwrap();
    writeln!(
        out,
        "{:<9} {:>7} {:>7} {:>8} {:>7} {:>6} {:>8} {:>7} {:>8} {:>7}",
        "scenario",
        "client",
        "http",
        "db-thrd",
        "writer",
        "other",
        "postgres",
        "others",
        "machine",
        "iowait"
    )
    .unwrap();
    for r in reports {
        let c = &r.cpu;
        writeln!(
            out,
            "{:<9} {:>7.0} {:>7.0} {:>8.0} {:>7.0} {:>6.0} {:>8.0} {:>7.0} {:>8.0} {:>7.0}",
            r.scenario.name(),
            c.client,
            c.http_workers,
            c.db_threads,
            c.ingest_writer,
            c.other_own,
            c.postgres,
            c.other_processes,
            c.machine_busy,
            c.iowait,
        )
        .unwrap();
    }
    out.push_str(
        "client = load generator; http = actix workers; db-thrd = server blocking pool (Db::read, \
         Db::write); writer = ingest group-commit thread; other = rest of this process; \
         postgres = all postgres processes; others = other processes on the machine; iowait is \
         idle time waiting for disk\n",
    );
    out
}
