//! The demo's operations: services with integrations, and two weeks of incidents that arrived
//! through those integrations and were handled by the team, ending with some still open: a fresh
//! P0, an overdue P1, acknowledged ones with notes, a flapping key.
//!
//! History is written with a manual clock walked forward through the two weeks, through the same
//! services a real webhook and a real responder use, so every timeline and deadline is genuine.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::clock::{Clock, ManualClock};
use crate::domain::alert::{AlertAction, AlertLink, NormalizedAlert};
use crate::domain::audit::Actor;
use crate::domain::service::Integration;
use crate::domain::user::User;
use crate::error::AppError;
use crate::services::alert_intake::{Delivery, IngestQueue};
use crate::services::auth::{AuthMethod, Principal};
use crate::services::catalog::{self, IntegrationInput, ServiceInput};
use crate::services::incidents;
use crate::state::AppState;

pub struct Operations {
    pub services: usize,
    pub incidents: usize,
}

/// (name, description, owner index in the team, integration kind)
const SERVICES: &[(&str, &str, Option<usize>, &str)] = &[
    (
        "Checkout",
        "Cart, payment page and order confirmation",
        Some(1),
        "alertmanager",
    ),
    (
        "Search",
        "Product search and suggestions",
        Some(2),
        "grafana",
    ),
    (
        "Payments API",
        "Card and wallet payments through the payment provider",
        Some(1),
        "pagerduty",
    ),
    (
        "Identity",
        "Sign-in, sessions and account recovery",
        Some(2),
        "generic",
    ),
    (
        "Data pipeline",
        "Nightly exports and the reporting warehouse",
        None,
        "alertmanager",
    ),
];

/// A state of the demo world: the team and a clock to walk through time with.
struct World<'a> {
    st: AppState,
    clock: ManualClock,
    queue: IngestQueue,
    people: &'a [User],
    integrations: Vec<Integration>,
    incidents: usize,
}

fn principal(user: &User) -> Principal {
    Principal {
        user: user.clone(),
        method: AuthMethod::Token { id: "demo".into() },
    }
}

fn alert(
    title: &str,
    group: &str,
    fingerprint: &str,
    severity: &str,
    labels: &[(&str, &str)],
) -> NormalizedAlert {
    let mut labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.insert("severity".into(), severity.into());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_owned(), title.to_owned());
    NormalizedAlert {
        group_key: Some(group.to_owned()),
        group_title: Some(title.to_owned()),
        severity: Some(severity.to_owned()),
        labels,
        annotations,
        links: vec![AlertLink {
            href: format!(
                "https://runbooks.example.com/{}",
                group.to_lowercase().replace(' ', "-")
            ),
            text: "runbook".into(),
        }],
        generator_url: Some("https://prometheus.example.com/graph".into()),
        ..NormalizedAlert::firing(title, fingerprint)
    }
}

impl World<'_> {
    fn at(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }

    fn later(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
    }

    async fn fire(
        &mut self,
        service: usize,
        alerts: Vec<NormalizedAlert>,
    ) -> Result<String, AppError> {
        let integration = self.integrations[service].clone();
        let results = self
            .queue
            .submit(Delivery {
                integration,
                alerts,
            })
            .await?;
        let id = results
            .first()
            .and_then(|r| r.incident_id.clone())
            .ok_or_else(|| AppError::Internal("the demo alert opened no incident".into()))?;
        if results
            .iter()
            .any(|r| r.outcome == crate::services::alert_intake::Outcome::Opened)
        {
            self.incidents += 1;
        }
        Ok(id)
    }

    async fn clear(
        &mut self,
        service: usize,
        mut alerts: Vec<NormalizedAlert>,
    ) -> Result<(), AppError> {
        for a in &mut alerts {
            a.action = AlertAction::Resolve;
        }
        let integration = self.integrations[service].clone();
        self.queue
            .submit(Delivery {
                integration,
                alerts,
            })
            .await?;
        Ok(())
    }

    async fn ack(&self, who: usize, id: &str) -> Result<(), AppError> {
        incidents::acknowledge(&self.st, &principal(&self.people[who]), None, id)
            .await
            .map(|_| ())
    }

    async fn note(&self, who: usize, id: &str, text: &str) -> Result<(), AppError> {
        incidents::add_note(&self.st, &principal(&self.people[who]), None, id, text)
            .await
            .map(|_| ())
    }

    async fn resolve(&self, who: usize, id: &str) -> Result<(), AppError> {
        incidents::resolve(&self.st, &principal(&self.people[who]), None, id)
            .await
            .map(|_| ())
    }

    async fn assign(&self, who: usize, id: &str, to: usize) -> Result<(), AppError> {
        incidents::reassign(
            &self.st,
            &principal(&self.people[who]),
            None,
            id,
            &self.people[to].email,
        )
        .await
        .map(|_| ())
    }
}

/// A past incident: (days ago, service, title, severity word, minutes to ack, who acks, note,
/// minutes to resolve, resolved by the monitoring tool rather than a person).
type Past = (
    i64,
    usize,
    &'static str,
    &'static str,
    i64,
    usize,
    &'static str,
    i64,
    bool,
);

const HISTORY: &[Past] = &[
    (
        13,
        0,
        "Checkout latency p99 above 2 s",
        "critical",
        4,
        3,
        "Slow queries after the index rebuild; reverted it.",
        35,
        true,
    ),
    (
        12,
        1,
        "Search index lag over 10 min",
        "warning",
        40,
        4,
        "Indexer was paused by a deploy; resumed.",
        70,
        true,
    ),
    (
        12,
        2,
        "Payment provider timeouts",
        "critical",
        2,
        5,
        "Provider incident on their status page; failover to the second provider.",
        95,
        false,
    ),
    (
        11,
        3,
        "Password reset e-mails not sent",
        "P2",
        18,
        6,
        "SMTP credentials expired; rotated them.",
        50,
        false,
    ),
    (
        10,
        4,
        "Nightly export failed",
        "error",
        300,
        7,
        "Disk full on the export host; cleaned old dumps.",
        420,
        false,
    ),
    (
        9,
        0,
        "Checkout 5xx above 1%",
        "critical",
        6,
        4,
        "Bad feature flag for the new cart; turned it off.",
        22,
        true,
    ),
    (
        8,
        1,
        "Search suggestions empty",
        "error",
        25,
        3,
        "Suggestion cache evicted by a config typo; fixed and warmed.",
        60,
        false,
    ),
    (
        7,
        2,
        "Card declines spiking",
        "P1",
        9,
        5,
        "Fraud rules too strict after the update; rolled back the rule set.",
        80,
        false,
    ),
    (
        6,
        3,
        "Sign-in errors for SSO users",
        "P1",
        7,
        6,
        "Identity provider certificate rolled; updated the metadata.",
        45,
        false,
    ),
    (
        5,
        0,
        "Checkout pods restarting",
        "warning",
        55,
        7,
        "Memory limit too low after the upgrade; raised it.",
        120,
        true,
    ),
    (
        4,
        4,
        "Warehouse load slower than usual",
        "warning",
        180,
        3,
        "Big backfill was running; expected.",
        240,
        false,
    ),
    (
        3,
        2,
        "Webhook deliveries from the provider delayed",
        "error",
        14,
        5,
        "Queue consumer stuck; restarted it.",
        40,
        true,
    ),
    (
        2,
        1,
        "Search 5xx during reindex",
        "critical",
        3,
        4,
        "Reindex started in the day by mistake; moved it to the night window.",
        30,
        true,
    ),
    (
        1,
        3,
        "Account recovery page slow",
        "P3",
        240,
        6,
        "Third-party captcha slow; nothing to do on our side.",
        600,
        false,
    ),
];

pub async fn fill(st: &AppState, actor: &Actor, people: &[User]) -> Result<Operations, AppError> {
    let now = st.clock.now();
    let clock = ManualClock::new(now - Duration::days(14));
    let mut demo_state = st.clone();
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    demo_state.clock = shared.clone();
    let queue = IngestQueue::start(
        st.db.clone(),
        shared,
        st.events.clone(),
        st.engine_wake.clone(),
    );

    let mut integrations = Vec::new();
    for (name, description, owner, kind) in SERVICES {
        let input = ServiceInput {
            name: (*name).into(),
            description: (*description).into(),
            owner: owner.map(|i| people[i].email.clone()).unwrap_or_default(),
            ..ServiceInput::default()
        };
        let service = catalog::create_service(&demo_state, actor, &input).await?;
        let issued =
            catalog::create_integration(&demo_state, actor, &service.id, kind, Some("production"))
                .await?;
        integrations.push(issued.integration);
    }
    // An archived service with history to show what archiving keeps.
    let legacy = catalog::create_service(
        &demo_state,
        actor,
        &ServiceInput {
            name: "Legacy reports".into(),
            description: "Old PDF reports, replaced by the warehouse".into(),
            owner: String::new(),
            ..ServiceInput::default()
        },
    )
    .await?;
    catalog::set_archived(&demo_state, actor, &legacy.id, true).await?;
    // Search pages only on its own words.
    let search = &integrations[1];
    let mut settings = IntegrationInput::from_integration(search);
    settings.severity_words = "critical=P1, error=P2, warning=P3, info=P3, page=P0".into();
    catalog::update_integration(
        &demo_state,
        actor,
        &search.service_id,
        &search.id,
        &settings,
    )
    .await?;

    let mut world = World {
        st: demo_state,
        clock,
        queue,
        people,
        integrations,
        incidents: 0,
    };

    for (i, (days, service, title, severity, to_ack, who, note, to_resolve, by_tool)) in
        HISTORY.iter().enumerate()
    {
        world.at(now - Duration::days(*days) - Duration::hours((i as i64 * 5) % 11));
        let a = alert(
            title,
            &format!("{title} group"),
            &format!("past-{i}"),
            severity,
            &[("env", "prod")],
        );
        let id = world.fire(*service, vec![a.clone()]).await?;
        world.later(*to_ack);
        world.ack(*who, &id).await?;
        world.later(5);
        world.note(*who, &id, note).await?;
        world.later(to_resolve - to_ack - 5);
        if *by_tool {
            world.clear(*service, vec![a]).await?;
        } else {
            world.resolve(*who, &id).await?;
        }
    }

    // Flapping: the pipeline's lag alert came and went four times in the last hour.
    for round in 0..4 {
        world.at(now - Duration::minutes(58 - round * 14));
        let a = alert(
            "Pipeline consumer lag over 5 min",
            "pipeline-lag",
            "pipeline-lag",
            "warning",
            &[("consumer", "exports")],
        );
        world.fire(4, vec![a.clone()]).await?;
        if round < 3 {
            world.later(6);
            world.clear(4, vec![a]).await?;
        }
    }

    // Open now: an acknowledged P3 from yesterday, an acknowledged and assigned P2, an overdue P1
    // and a fresh P0 with two alerts.
    world.at(now - Duration::hours(20));
    let cert = world
        .fire(
            3,
            vec![alert(
                "TLS certificate for login.example.com expires in 9 days",
                "cert-expiry",
                "cert-login",
                "P3",
                &[("host", "login.example.com")],
            )],
        )
        .await?;
    world.later(30);
    world.ack(6, &cert).await?;
    world
        .note(6, &cert, "Renewal ticket opened with the certificate team.")
        .await?;

    world.at(now - Duration::hours(3));
    let search_id = world
        .fire(
            1,
            vec![alert(
                "Search results stale for 20 min",
                "search-stale",
                "search-stale",
                "error",
                &[("cluster", "search-eu")],
            )],
        )
        .await?;
    world.later(12);
    world.ack(4, &search_id).await?;
    world.assign(2, &search_id, 3).await?;
    world
        .note(
            3,
            &search_id,
            "Indexer is catching up; watching the lag graph.",
        )
        .await?;

    world.at(now - Duration::minutes(75));
    world
        .fire(
            2,
            vec![alert(
                "Refunds failing for wallet payments",
                "refunds-wallet",
                "refunds-wallet",
                "critical",
                &[("method", "wallet")],
            )],
        )
        .await?;

    world.at(now - Duration::minutes(4));
    world
        .fire(
            0,
            vec![
                alert(
                    "Checkout 5xx rate above 5%",
                    "checkout-5xx",
                    "web-1",
                    "P0",
                    &[("instance", "web-1:9100")],
                ),
                alert(
                    "Checkout 5xx rate above 5%",
                    "checkout-5xx",
                    "web-2",
                    "P0",
                    &[("instance", "web-2:9100")],
                ),
            ],
        )
        .await?;

    Ok(Operations {
        services: SERVICES.len() + 1,
        incidents: world.incidents,
    })
}
