//! The demo's escalation: the primary on call first, then the backup, then a manager, twice
//! round; every live service follows it. Incidents the demo opened before it existed only carry
//! their deadlines, so the first start of the server marks the overdue ones as breached.

use crate::domain::audit::Actor;
use crate::error::AppError;
use crate::services::catalog::{self, ServiceInput};
use crate::services::escalation::{self, PolicyInput, StepInput, TargetInput};
use crate::services::schedules;
use crate::state::AppState;

pub async fn fill(st: &AppState, actor: &Actor) -> Result<(), AppError> {
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
