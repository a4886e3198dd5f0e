//! The demo's escalation: the primary on call first, then the backup, then a manager, twice
//! round; every live service follows it. Incidents the demo opened before it existed only carry
//! their deadlines, so the first start of the server marks the overdue ones as breached.
//! Some of the team have rules of their own: a second address, reminders.

use crate::domain::audit::Actor;
use crate::domain::user::User;
use crate::error::AppError;
use crate::services::catalog::{self, ServiceInput};
use crate::services::contacts::{self, MethodInput, RuleInput};
use crate::services::escalation::{self, PolicyInput, StepInput, TargetInput};
use crate::services::schedules;
use crate::state::AppState;

pub async fn fill(st: &AppState, actor: &Actor, people: &[User]) -> Result<(), AppError> {
    reach(st, people).await?;
    let rota = schedules::list(st, st.clock.now()).await?;
    let schedule = |name: &str| {
        rota.iter()
            .find(|s| s.name == name)
            .map(|s| TargetInput::Schedule { id: s.id.clone() })
            .ok_or_else(|| AppError::Internal(format!("demo schedule '{name}' is missing")))
    };
    let policy = escalation::create(
        st,
        actor,
        &PolicyInput {
            name: "Platform standard".into(),
            description: "Primary on call, then the backup, then the duty manager.".into(),
            repeat: 1,
            retrigger_stale_ack: true,
            steps: vec![
                StepInput {
                    delay_minutes: 5,
                    targets: vec![schedule("Platform primary")?],
                },
                StepInput {
                    delay_minutes: 10,
                    targets: vec![schedule("Platform backup")?],
                },
                StepInput {
                    delay_minutes: 15,
                    targets: vec![TargetInput::User {
                        email: "marco@demo.lookout.dev".into(),
                    }],
                },
            ],
        },
    )
    .await?;
    for service in catalog::list_services(st, false).await? {
        let owner = service.owner_id.clone().unwrap_or_default();
        let input = ServiceInput {
            name: service.name.clone(),
            description: service.description.clone(),
            owner,
            escalation_policy: policy.id.clone(),
            webhook_url: service.webhook_url.clone().unwrap_or_default(),
            webhook_format: service.webhook_format.clone(),
        };
        catalog::update_service(st, actor, &service.id, &input).await?;
    }
    Ok(())
}

/// Marco (the duty manager) is e-mailed at work at once and at home after 10 minutes; Priya
/// gets a reminder at her phone's address after 5.
async fn reach(st: &AppState, people: &[User]) -> Result<(), AppError> {
    let plans: [(&str, &str, &str, &str, i64); 2] = [
        (
            "marco@demo.lookout.dev",
            "email",
            "marco.rossi@home.example",
            "home",
            10,
        ),
        // A webhook would be truer to life, but no demo receiver exists to answer it, and its
        // retries would fill the timelines.
        (
            "priya@demo.lookout.dev",
            "email",
            "priya.nair@phone.example",
            "phone",
            5,
        ),
    ];
    for (email, kind, address, label, delay) in plans {
        let Some(person) = people.iter().find(|p| p.email == email) else {
            continue;
        };
        let actor = Actor::user(&person.id, &person.email, None);
        let method = contacts::add_method(
            st,
            person,
            &actor,
            &MethodInput {
                kind: kind.into(),
                address: address.into(),
                label: label.into(),
            },
        )
        .await?;
        contacts::add_rule(
            st,
            person,
            &actor,
            &RuleInput {
                contact: method.key().to_owned(),
                delay_minutes: delay,
            },
        )
        .await?;
    }
    Ok(())
}
