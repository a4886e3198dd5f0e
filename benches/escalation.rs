//! Escalation engine benchmark on the real clock: how late due escalation steps run, and what the
//! engine costs while it waits.
//!
//! The server runs in this process as `lookout serve` runs it: `Application::build` with
//! `SystemClock`, on an actix system (one thread, like `#[actix_web::main]`), against a fresh
//! database: a temporary SQLite file, or with `--postgres URL` a database created for the run on
//! that PostgreSQL server and dropped afterwards. Pages are mailed through lettre to a minimal
//! SMTP receiver on its own thread of this process (it counts messages and keeps none); its CPU
//! is shown apart from the server's. With `--mail-off` no SMTP is configured and the outbox
//! records every page as `off`, which still leases, records and writes the timeline entry.
//!
//! The run:
//!
//! 1. Idle, empty database: CPU over `--idle-seconds`.
//! 2. Seeding: one service whose policy has two steps (step 1 pages one user and waits 1 minute;
//!    step 2 pages another and waits 60 minutes, so the "run its course" marker is an hour away).
//!    N triggered P2 incidents are opened through `services::incidents::create` while the service
//!    has no policy yet, so they carry their real deadline jobs (4 h and 3 days away) and no step.
//!    Then the service gets the policy and each incident gets the step-1 job `plan_opened` would
//!    have written, due not "now" but at times spread evenly over `--window-seconds`, starting
//!    5 s after the jobs are written.
//! 3. Firing: the engine runs step 1 of each incident as it falls due, and step 2 one minute
//!    after that; both waves page through the outbox. CPU is measured from the first due time
//!    until the engine has run 2N jobs and the outbox has recorded 2N pages.
//! 4. Idle, N open incidents waiting (nothing due for an hour): CPU over `--idle-seconds`.
//! 5. From the database: lateness of every step job, and checks that each ran exactly once.
//!
//! Two latenesses are reported. `job`: `done_at - due_at`, where `done_at` is the engine's clock
//! reading at the start of the round that claimed the job. `page`: when the outbox recorded the
//! page (the time on its timeline entry) minus `due_at`, which includes the job's transaction and
//! the outbox and the SMTP conversation with the receiver.
//!
//! Run:
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/target-bench cargo bench --bench escalation
//! CARGO_TARGET_DIR=/tmp/target-bench cargo bench --bench escalation -- \
//!     --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! Options: `--incidents N` (default 10000), `--window-seconds S` (step-1 due times spread over
//! S seconds, default 60), `--idle-seconds S` (each idle measurement, default 10),
//! `--postgres URL`, `--mail-off`. The process exits with status 1 when a check fails.

// A benchmark should stop loudly on anything unexpected rather than report numbers for a run
// that did not happen as described.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use lookout::clock::SystemClock;
use lookout::config::DatabaseUrl;
use lookout::db::repo::escalation::{self as escalation_repo, NewJob};
use lookout::db::repo::to_db;
use lookout::db::schema::{escalation_jobs, incident_events, incidents, notifications};
use lookout::db::{DbConn, write_tx};
use lookout::domain::audit::Actor;
use lookout::domain::ids::new_id;
use lookout::domain::user::User;
use lookout::metrics::NotificationLabels;
use lookout::services::auth::{AuthMethod, Principal};
use lookout::services::catalog::{self, ServiceInput};
use lookout::services::escalation::{PolicyInput, StepInput, TargetInput};
use lookout::services::{escalation, incidents as incident_service, users};
use lookout::startup::Application;
use lookout::state::AppState;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use common::{
    BenchDb, TICKS_PER_SECOND, machine_ticks, numeric_entries, postgres_ticks,
    postgres_ticks_since, read_stat,
};

/// From writing the step jobs to the first of them falling due.
const LEAD: Duration = Duration::from_secs(5);
/// Step 1's wait before step 2.
const STEP_1_DELAY_MINUTES: u32 = 1;
/// Step 2's wait before the policy has run its course: long, so that nothing is due while idle
/// CPU is measured after the run.
const STEP_2_DELAY_MINUTES: u32 = 60;
const ANA: (&str, &str) = ("bench-ana@example.com", "Bench Ana");
const BEN: (&str, &str) = ("bench-ben@example.com", "Bench Ben");
/// Step jobs written per transaction while seeding.
const JOBS_PER_TRANSACTION: usize = 1_000;
/// How often the run looks whether the engine is done (in-memory counters, no query).
const POLL: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------------
// Command line

#[derive(Debug)]
struct Args {
    incidents: usize,
    window_seconds: u64,
    idle_seconds: u64,
    postgres: Option<String>,
    mail_off: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            incidents: 10_000,
            window_seconds: 60,
            idle_seconds: 10,
            postgres: None,
            mail_off: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            match flag.as_str() {
                // `cargo bench` adds `--bench` to every bench binary's arguments.
                "--bench" => {}
                "--incidents" => args.incidents = number(&flag, &value()),
                "--window-seconds" => args.window_seconds = number(&flag, &value()),
                "--idle-seconds" => args.idle_seconds = number(&flag, &value()),
                "--postgres" => args.postgres = Some(value()),
                "--mail-off" => args.mail_off = true,
                other => {
                    panic!("unknown argument {other:?} (see the top of benches/escalation.rs)")
                }
            }
        }
        assert!(args.incidents > 0, "--incidents must be at least 1");
        assert!(
            args.window_seconds > 0,
            "--window-seconds must be at least 1"
        );
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
    lookout::telemetry::init("warn");
    let (bench_db, url, shown_url) = BenchDb::create(args.postgres.as_deref());
    // The runtime `lookout serve` has (`#[actix_web::main]`): the engine shares one thread with
    // the server's accept loop and this benchmark's few timers.
    let ok = actix_web::rt::System::new().block_on(run(&args, url, shown_url));
    drop(bench_db);
    if !ok {
        std::process::exit(1);
    }
}

async fn run(args: &Args, url: DatabaseUrl, shown_url: String) -> bool {
    let sink = (!args.mail_off).then(SmtpSink::start);
    let mut settings = common::settings(url);
    settings.smtp_url = sink.as_ref().map(|s| s.url.clone());
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("Lookout starts");
    let st = app.state().clone();
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    println!(
        "Lookout escalation benchmark: {} at {shown_url}; {} CPUs; {} incidents, step 1 due over \
         {} s; {}",
        st.db.backend().name(),
        cpus(),
        args.incidents,
        args.window_seconds,
        match &sink {
            Some(sink) => format!("mail to the SMTP receiver at {}", sink.url),
            None => "mail off".into(),
        },
    );
    let idle = Duration::from_secs(args.idle_seconds);

    let idle_empty = measure_idle(&st, idle).await;
    println!("  idle, empty database: done");

    let seeded = Instant::now();
    let seed = seed(
        &st,
        args.incidents,
        Duration::from_secs(args.window_seconds),
    )
    .await;
    println!(
        "  seeded {} incidents in {:.1} s; step 1 due from {} to {}",
        seed.incidents.len(),
        seeded.elapsed().as_secs_f64(),
        seed.first_due.format("%H:%M:%S%.3f"),
        seed.last_due.format("%H:%M:%S%.3f"),
    );

    let firing = fire(&st, &seed, args).await;
    println!(
        "  fired {} jobs and recorded {} pages in {:.1} s",
        firing.jobs, firing.pages, firing.cpu.seconds
    );

    let idle_open = measure_idle(&st, idle).await;
    println!("  idle, {} open incidents: done", seed.incidents.len());

    let outcome = examine(&st, &seed, sink.as_ref()).await;
    println!();
    print!(
        "{}",
        report(
            args,
            &st,
            &outcome,
            &[
                ("idle, empty database", idle_empty),
                ("firing", firing.cpu),
                ("idle, incidents waiting", idle_open),
            ]
        )
    );
    let ok = outcome.problems.is_empty() && firing.complete;
    if !firing.complete {
        eprintln!(
            "DISCREPANCY: the engine did not finish in time: {} of {} jobs run, {} of {} pages \
             recorded, {} deliveries retried or failed",
            firing.jobs,
            2 * seed.incidents.len(),
            firing.pages,
            2 * seed.incidents.len(),
            firing.unsent,
        );
    }
    for problem in &outcome.problems {
        eprintln!("DISCREPANCY: {problem}");
    }

    handle.stop(true).await;
    let _ = server.await;
    ok
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
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

// ---------------------------------------------------------------------------------------------
// Seeding

struct Seed {
    /// Incident ids with the due time of their step-1 job.
    incidents: Vec<(String, DateTime<Utc>)>,
    first_due: DateTime<Utc>,
    last_due: DateTime<Utc>,
}

async fn create_user(st: &AppState, email: &str, name: &str, role: &str) -> User {
    let input = users::NewUserInput {
        email: email.into(),
        name: name.into(),
        role: role.into(),
        password: Some("correct horse battery staple".into()),
        time_zone: None,
    };
    users::create(st, &Actor::cli(), &input)
        .await
        .expect("create user")
        .user
}

async fn seed(st: &AppState, count: usize, window: Duration) -> Seed {
    let admin = create_user(st, "bench-admin@example.com", "Bench Admin", "admin").await;
    for (email, name) in [ANA, BEN] {
        create_user(st, email, name, "responder").await;
    }
    let step = |delay_minutes, email: &str| StepInput {
        delay_minutes,
        targets: vec![TargetInput::User {
            email: email.into(),
        }],
    };
    let policy = escalation::create(
        st,
        &Actor::cli(),
        &PolicyInput {
            name: "Bench pager".into(),
            description: String::new(),
            repeat: 0,
            steps: vec![
                step(STEP_1_DELAY_MINUTES, ANA.0),
                step(STEP_2_DELAY_MINUTES, BEN.0),
            ],
            retrigger_stale_ack: false,
        },
    )
    .await
    .expect("create the policy");
    let mut service_input = ServiceInput {
        name: "Bench checkout".into(),
        description: "escalation benchmark".into(),
        owner: String::new(),
        ..ServiceInput::default()
    };
    let service = catalog::create_service(st, &Actor::cli(), &service_input)
        .await
        .expect("create the service");

    // Opened while the service has no policy: the real incident, timeline, audit entry and
    // deadline jobs, and no step due at once.
    let principal = Principal {
        user: admin,
        method: AuthMethod::Token { id: "bench".into() },
    };
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let input = incident_service::NewIncidentInput {
            title: format!("Bench incident {i}: checkout error rate high"),
            service: service.id.clone(),
            severity: "P2".into(),
            description: String::new(),
        };
        let view = incident_service::create(st, &principal, None, &input)
            .await
            .expect("open an incident");
        ids.push(view.incident.id);
    }

    service_input.escalation_policy = policy.id.clone();
    catalog::update_service(st, &Actor::cli(), &service.id, &service_input)
        .await
        .expect("give the service its policy");

    // The step-1 job as `escalation::plan_opened` writes it (kind "step", step 0, no reason), due
    // at its place in the window instead of at once.
    let first_due = st.clock.now() + LEAD;
    let window_us = i64::try_from(window.as_micros()).expect("window in microseconds");
    let incidents: Vec<(String, DateTime<Utc>)> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let offset = window_us * i as i64 / count as i64;
            (id, first_due + chrono::Duration::microseconds(offset))
        })
        .collect();
    let rows = incidents.clone();
    with_conn(st, move |c| {
        for chunk in rows.chunks(JOBS_PER_TRANSACTION) {
            write_tx(c, |c| -> diesel::QueryResult<()> {
                let now = Utc::now();
                for (incident_id, due) in chunk {
                    let added = escalation_repo::insert_job(
                        c,
                        &NewJob {
                            id: &new_id(),
                            incident_id,
                            kind: "step",
                            cycle: 0,
                            step: 0,
                            due: *due,
                            reason: "",
                            now,
                        },
                    )?;
                    assert!(added, "incident {incident_id} already had a step-1 job");
                }
                Ok(())
            })
            .expect("write the step jobs");
        }
    })
    .await;
    assert!(
        st.clock.now() < first_due,
        "writing the step jobs took longer than the {LEAD:?} lead: the first were written after \
         they fell due, so their lateness would not be the engine's"
    );
    // As `incidents::create` does after its commit: new due work, so the engine looks again.
    st.engine_wake.notify_one();
    let last_due = incidents.last().map_or(first_due, |(_, due)| *due);
    Seed {
        incidents,
        first_due,
        last_due,
    }
}

// ---------------------------------------------------------------------------------------------
// Firing and idling

/// Process, SMTP receiver, PostgreSQL and machine CPU ticks at one moment.
struct CpuSample {
    at: Instant,
    /// The whole process, the receiver included.
    process: u64,
    sink: u64,
    postgres: HashMap<u32, u64>,
    machine: u64,
}

/// CPU over a stretch of time, in % of one core.
#[derive(Clone, Copy)]
struct CpuUse {
    seconds: f64,
    /// The process without the SMTP receiver: the server, its engine, this benchmark's timers.
    lookout: f64,
    sink: f64,
    postgres: f64,
    machine: f64,
}

impl CpuSample {
    fn take() -> CpuSample {
        // The whole process, threads that have ended included: the engine's queries run on
        // blocking-pool threads that retire after 10 s idle.
        let process = read_stat("/proc/self/stat").map_or(0, |(_, ticks)| ticks);
        let sink = numeric_entries("/proc/self/task")
            .into_iter()
            .filter_map(|tid| read_stat(&format!("/proc/self/task/{tid}/stat")))
            .filter(|(name, _)| name == SINK_THREAD)
            .map(|(_, ticks)| ticks)
            .sum();
        CpuSample {
            at: Instant::now(),
            process,
            sink,
            postgres: postgres_ticks(),
            machine: machine_ticks().0,
        }
    }

    fn since(&self, before: &CpuSample) -> CpuUse {
        let seconds = self.at.duration_since(before.at).as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds * 100.0;
        let sink = self.sink.saturating_sub(before.sink);
        CpuUse {
            seconds,
            lookout: pct(self
                .process
                .saturating_sub(before.process)
                .saturating_sub(sink)),
            sink: pct(sink),
            postgres: pct(postgres_ticks_since(&self.postgres, &before.postgres)),
            machine: pct(self.machine.saturating_sub(before.machine)),
        }
    }
}

/// CPU while nothing is due, after checking that nothing will be.
async fn measure_idle(st: &AppState, idle: Duration) -> CpuUse {
    // Let the engine finish the round a seeding or a run left it in, and blocking threads settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (job, delivery) = with_conn(st, |c| {
        (
            escalation_repo::earliest_job(c).expect("earliest job"),
            escalation_repo::earliest_delivery(c).expect("earliest delivery"),
        )
    })
    .await;
    let until = st.clock.now() + chrono::Duration::from_std(idle).expect("idle") * 2;
    for (what, at) in [("an escalation job", job), ("a delivery", delivery)] {
        if let Some(at) = at.filter(|at| *at < until) {
            eprintln!("warning: {what} is due at {at} within the idle measurement");
        }
    }
    let before = CpuSample::take();
    tokio::time::sleep(idle).await;
    CpuSample::take().since(&before)
}

struct Firing {
    /// Jobs the engine ran (its `escalation_jobs` counter).
    jobs: u64,
    /// Pages the outbox recorded as sent (or as `off`, with mail off).
    pages: u64,
    /// Deliveries recorded as retried or failed.
    unsent: u64,
    complete: bool,
    cpu: CpuUse,
}

/// Waits for both waves of steps, from the first due time until the engine has run them all and
/// the outbox has recorded every page. Watches the engine's own counters, so the waiting costs no
/// queries.
async fn fire(st: &AppState, seed: &Seed, args: &Args) -> Firing {
    let expected = 2 * seed.incidents.len() as u64;
    let recorded = |result| {
        st.metrics
            .notifications
            .get_or_create(&NotificationLabels {
                channel: "email",
                result,
            })
            .get()
    };
    let counts = || {
        (
            st.metrics.escalation_jobs.get(),
            recorded(if args.mail_off { "off" } else { "sent" }),
        )
    };
    let (jobs_before, pages_before) = counts();
    let unsent_before = recorded("retried") + recorded("failed");
    let wait = (seed.first_due - st.clock.now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    let before = CpuSample::take();
    // Step 2 falls due a minute after step 1 ran; two more minutes for stragglers.
    let deadline = Instant::now()
        + Duration::from_secs(args.window_seconds + 60 * u64::from(STEP_1_DELAY_MINUTES) + 120);
    let (mut jobs, mut pages);
    loop {
        let (j, p) = counts();
        (jobs, pages) = (j - jobs_before, p - pages_before);
        if (jobs >= expected && pages >= expected) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    Firing {
        jobs,
        pages,
        unsent: recorded("retried") + recorded("failed") - unsent_before,
        complete: jobs >= expected && pages >= expected,
        cpu: CpuSample::take().since(&before),
    }
}

// ---------------------------------------------------------------------------------------------
// What the database says

/// Sorted lateness in microseconds.
struct Lateness {
    label: &'static str,
    us: Vec<i64>,
}

impl Lateness {
    fn new(label: &'static str, mut us: Vec<i64>) -> Lateness {
        us.sort_unstable();
        Lateness { label, us }
    }

    /// Nearest rank.
    fn percentile(&self, p: f64) -> f64 {
        if self.us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.us.len() as f64).ceil() as usize;
        self.us[rank.clamp(1, self.us.len()) - 1] as f64 / 1_000.0
    }
}

struct Outcome {
    lateness: Vec<Lateness>,
    problems: Vec<String>,
}

fn micros(d: chrono::TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// Lateness of every step job and page, and whether each step ran exactly once.
async fn examine(st: &AppState, seed: &Seed, sink: Option<&SmtpSink>) -> Outcome {
    let now = to_db(st.clock.now());
    let (jobs, overdue, entries, pages, outbox, steps) = with_conn(st, move |c| {
        let jobs: Vec<(String, i32, NaiveDateTime, Option<NaiveDateTime>)> = escalation_jobs::table
            .filter(escalation_jobs::kind.eq("step"))
            .select((
                escalation_jobs::incident_id,
                escalation_jobs::step,
                escalation_jobs::due_at,
                escalation_jobs::done_at,
            ))
            .load(c)
            .expect("step jobs");
        let overdue: i64 = escalation_jobs::table
            .filter(escalation_jobs::done_at.is_null())
            .filter(escalation_jobs::due_at.le(now))
            .count()
            .get_result(c)
            .expect("overdue jobs");
        let entries: Vec<(String, String)> = incident_events::table
            .filter(incident_events::kind.eq("escalation"))
            .select((incident_events::incident_id, incident_events::message))
            .load(c)
            .expect("escalation entries");
        let pages: Vec<(String, String, NaiveDateTime)> = incident_events::table
            .filter(incident_events::kind.eq_any(["notified", "notification_failed"]))
            .select((
                incident_events::incident_id,
                incident_events::message,
                incident_events::at,
            ))
            .load(c)
            .expect("page entries");
        let outbox: Vec<(String, String, String)> = notifications::table
            .select((
                notifications::incident_id,
                notifications::address,
                notifications::state,
            ))
            .load(c)
            .expect("notifications");
        let steps: Vec<i32> = incidents::table
            .select(incidents::escalation_step)
            .load(c)
            .expect("incidents");
        (jobs, overdue, entries, pages, outbox, steps)
    })
    .await;

    let mut problems = Vec::new();
    let n = seed.incidents.len();
    // (step 0, step 1, step 2) jobs of each incident: (due, done).
    type Jobs = [Option<(NaiveDateTime, Option<NaiveDateTime>)>; 3];
    let mut by_incident: HashMap<String, Jobs> = HashMap::with_capacity(n);
    for (incident, step, due, done) in jobs {
        let slot = usize::try_from(step).ok().filter(|s| *s < 3);
        let Some(slot) = slot else {
            problems.push(format!("incident {incident} has a step job {step}"));
            continue;
        };
        by_incident.entry(incident).or_default()[slot] = Some((due, done));
    }
    let (mut job_step1, mut job_step2) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut unrun = 0;
    let mut step2_due: HashMap<&str, NaiveDateTime> = HashMap::with_capacity(n);
    for (id, planned) in &seed.incidents {
        let Some(jobs) = by_incident.get(id) else {
            problems.push(format!("incident {id} has no step jobs"));
            continue;
        };
        match jobs[0] {
            Some((due, Some(done))) => {
                if due != to_db(*planned) {
                    problems.push(format!(
                        "incident {id}: step 1 was due {due}, not {planned}"
                    ));
                }
                job_step1.push(micros(done - due));
            }
            _ => unrun += 1,
        }
        match jobs[1] {
            Some((due, Some(done))) => {
                job_step2.push(micros(done - due));
                step2_due.insert(id, due);
            }
            _ => unrun += 1,
        }
        if !matches!(jobs[2], Some((due, None)) if due > now) {
            problems.push(format!(
                "incident {id}: the end-of-policy job is not pending in the future: {:?}",
                jobs[2]
            ));
        }
    }
    if unrun > 0 {
        problems.push(format!("{unrun} step jobs of the run were not done"));
    }
    if overdue > 0 {
        problems.push(format!("{overdue} jobs are due and not done"));
    }

    // Each step on each timeline exactly once.
    let expected_messages = [
        format!("step 1: paging {}", ANA.1),
        format!(
            "escalated to step 2: not acknowledged within {STEP_1_DELAY_MINUTES} min: paging {}",
            BEN.1
        ),
    ];
    let mut counted: HashMap<(String, String), usize> = HashMap::new();
    for entry in entries {
        *counted.entry(entry).or_default() += 1;
    }
    let mut wrong: BTreeMap<String, usize> = BTreeMap::new();
    for (id, _) in &seed.incidents {
        for message in &expected_messages {
            let times = counted.remove(&(id.clone(), message.clone())).unwrap_or(0);
            if times != 1 {
                *wrong
                    .entry(format!("'{message}' {times} times on a timeline"))
                    .or_default() += 1;
            }
        }
    }
    for ((_, message), times) in counted {
        *wrong
            .entry(format!("unexpected escalation entry '{message}'"))
            .or_default() += times;
    }
    for (what, incidents) in wrong {
        problems.push(format!("{what} ({incidents} incidents)"));
    }

    // Pages: one per step per incident, sent (or recorded as `off` with mail off); lateness from
    // the step's due time.
    let (page_prefix, page_state) = match sink {
        Some(_) => ("paged ", "sent"),
        None => ("e-mail is off", "off"),
    };
    let due_of: HashMap<&str, NaiveDateTime> = seed
        .incidents
        .iter()
        .map(|(id, due)| (id.as_str(), to_db(*due)))
        .collect();
    let (mut page1, mut page2) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut unmatched = 0;
    for (incident, message, at) in &pages {
        let due = if message.contains(ANA.0) {
            due_of.get(incident.as_str())
        } else if message.contains(BEN.0) {
            step2_due.get(incident.as_str())
        } else {
            None
        };
        match due {
            Some(due) if message.starts_with(page_prefix) => {
                let late = micros(*at - *due);
                if message.contains(ANA.0) {
                    page1.push(late);
                } else {
                    page2.push(late);
                }
            }
            _ => unmatched += 1,
        }
    }
    if unmatched > 0 {
        problems.push(format!("{unmatched} page entries not matched to a step"));
    }
    if page1.len() != n || page2.len() != n {
        problems.push(format!(
            "page entries: {} for step 1 and {} for step 2, expected {n} each",
            page1.len(),
            page2.len()
        ));
    }
    let other_state = outbox
        .iter()
        .filter(|(_, _, state)| state != page_state)
        .count();
    if outbox.len() != 2 * n || other_state > 0 {
        problems.push(format!(
            "outbox: {} notifications ({other_state} not `{page_state}`), expected {}",
            outbox.len(),
            2 * n
        ));
    }
    if let Some(sink) = sink {
        let received = sink.received.load(Ordering::Relaxed);
        if received != 2 * n as u64 {
            problems.push(format!(
                "the SMTP receiver got {received} messages, expected {}",
                2 * n
            ));
        }
    }
    let not_at_2 = steps.iter().filter(|s| **s != 2).count();
    if steps.len() != n || not_at_2 > 0 {
        problems.push(format!(
            "{} incidents, {not_at_2} not at escalation step 2",
            steps.len()
        ));
    }

    let all_jobs = job_step1.iter().chain(&job_step2).copied().collect();
    let all_pages = page1.iter().chain(&page2).copied().collect();
    Outcome {
        lateness: vec![
            Lateness::new("job, step 1", job_step1),
            Lateness::new("job, step 2", job_step2),
            Lateness::new("job, all", all_jobs),
            Lateness::new("page, step 1", page1),
            Lateness::new("page, step 2", page2),
            Lateness::new("page, all", all_pages),
        ],
        problems,
    }
}

fn report(args: &Args, st: &AppState, outcome: &Outcome, cpu: &[(&str, CpuUse)]) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "Lateness on {} ({} incidents, step 1 due over {} s, step 2 a minute after each):",
        st.db.backend().name(),
        args.incidents,
        args.window_seconds
    )
    .unwrap();
    writeln!(
        out,
        "{:<14} {:>7} {:>9} {:>9} {:>9}",
        "measure", "count", "p50 ms", "p99 ms", "max ms"
    )
    .unwrap();
    for l in &outcome.lateness {
        writeln!(
            out,
            "{:<14} {:>7} {:>9.1} {:>9.1} {:>9.1}",
            l.label,
            l.us.len(),
            l.percentile(50.0),
            l.percentile(99.0),
            l.percentile(100.0),
        )
        .unwrap();
    }
    out.push_str(
        "job = done_at - due_at (the engine's clock when its round claimed the job); page = the \
         outbox's record of the page - due_at\n\n",
    );
    writeln!(
        out,
        "CPU, % of one core ({} cores = {}%):",
        cpus(),
        cpus() * 100
    )
    .unwrap();
    writeln!(
        out,
        "{:<24} {:>8} {:>8} {:>6} {:>9} {:>8}",
        "phase", "seconds", "lookout", "smtp", "postgres", "machine"
    )
    .unwrap();
    for (label, c) in cpu {
        writeln!(
            out,
            "{:<24} {:>8.1} {:>8.2} {:>6.2} {:>9.2} {:>8.2}",
            label, c.seconds, c.lookout, c.sink, c.postgres, c.machine
        )
        .unwrap();
    }
    out.push_str(
        "lookout = this process without the SMTP receiver (server, engine, this benchmark's \
         timers); smtp = the receiver's thread; postgres = all postgres processes; machine = \
         every CPU of the machine, other work on it included\n",
    );
    if outcome.problems.is_empty() {
        out.push_str("\nChecks: every step ran exactly once; nothing due is left undone.\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The SMTP receiver

const SINK_THREAD: &str = "smtp-sink";

/// Enough of RFC 5321 for lettre (no TLS, AUTH or pipelining) on its own thread, so that its CPU
/// can be told apart from the server's. Counts messages and keeps nothing. It runs until the
/// process ends.
struct SmtpSink {
    url: url::Url,
    received: Arc<AtomicU64>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the SMTP receiver");
        listener
            .set_nonblocking(true)
            .expect("SMTP receiver listener non-blocking");
        let addr = listener.local_addr().expect("SMTP receiver address");
        let url = url::Url::parse(&format!("smtp://{addr}")).expect("SMTP URL");
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        std::thread::Builder::new()
            .name(SINK_THREAD.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .expect("SMTP receiver runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("SMTP receiver listener");
                    while let Ok((stream, _)) = listener.accept().await {
                        // A client that hangs up mid-conversation is its own business.
                        tokio::spawn(smtp_session(stream, counter.clone()));
                    }
                });
            })
            .expect("start the SMTP receiver");
        SmtpSink { url, received }
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    received: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let verb: Vec<u8> = line
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .map(u8::to_ascii_uppercase)
            .collect();
        let reply: &[u8] = match verb.as_slice() {
            b"EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            b"DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                loop {
                    line.clear();
                    if read.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                }
                received.fetch_add(1, Ordering::Relaxed);
                b"250 2.0.0 queued\r\n"
            }
            b"QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            // HELO, MAIL, RCPT, RSET, NOOP: whatever it is, yes.
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await?;
    }
}
