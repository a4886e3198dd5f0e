//! `lookout demo`: fills an empty database with a believable on-call team, so a newcomer can sign
//! in and look around. Each feature adds its part here: `team` (people), `operations` (services,
//! integrations and two weeks of incidents in every state), `rota` (duty schedules, overrides,
//! swaps and leave), `paging` (an escalation policy every service follows).

mod operations;
mod paging;
mod rota;
mod team;

use team::TEAM;

use std::fmt;

use crate::db::repo::users;
use crate::domain::audit::Actor;
use crate::error::AppError;
use crate::services::tokens;
use crate::services::users::{NewUserInput, temporary_password};
use crate::state::AppState;

pub struct DemoSummary {
    pub people: usize,
    pub admin_email: String,
    pub password: String,
    pub api_token: String,
    pub base_url: String,
    pub services: usize,
    pub incidents: usize,
    pub schedules: usize,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo team of {} people created.", self.people)?;
        writeln!(
            f,
            "{} services with integrations and {} incidents from the last two weeks.",
            self.services, self.incidents
        )?;
        writeln!(
            f,
            "{} duty schedules (primary, backup, follow-the-sun) with overrides, swaps and leave, and an escalation policy.",
            self.schedules
        )?;
        writeln!(
            f,
            "Start the server (`lookout serve`) and open {}",
            self.base_url
        )?;
        writeln!(
            f,
            "Sign in as {} (admin) with password: {}",
            self.admin_email, self.password
        )?;
        writeln!(
            f,
            "Every demo account (see Admin > Users) has that same password."
        )?;
        write!(f, "API token for {}: {}", self.admin_email, self.api_token)
    }
}

/// Creates the demo; refuses when anyone exists already, so it never mixes with real data.
pub async fn fill(st: &AppState) -> Result<DemoSummary, AppError> {
    if st
        .db
        .read(|c| users::count(c).map_err(AppError::from))
        .await?
        > 0
    {
        return Err(AppError::Conflict(
            "the database already has users; the demo only fills an empty database".into(),
        ));
    }
    let password = temporary_password();
    let actor = Actor {
        user_id: None,
        label: "demo".into(),
        ip: None,
    };
    let mut people = Vec::new();
    for (name, email, role, tz) in TEAM {
        let input = NewUserInput {
            email: (*email).into(),
            name: (*name).into(),
            role: (*role).into(),
            password: Some(password.clone()),
            time_zone: Some((*tz).into()),
        };
        people.push(
            crate::services::users::create(st, &actor, &input)
                .await?
                .user,
        );
    }
    let admin = people
        .first()
        .cloned()
        .ok_or_else(|| AppError::Internal("demo team is empty".into()))?;
    let ops = operations::fill(st, &actor, &people).await?;
    let rota = rota::fill(st, &actor).await?;
    paging::fill(st, &actor, &people).await?;
    let token = tokens::create(st, &actor, &admin, "demo scripts").await?;
    Ok(DemoSummary {
        people: TEAM.len(),
        admin_email: admin.email,
        password,
        api_token: token.secret,
        base_url: st.base_url.as_str().to_owned(),
        services: ops.services,
        incidents: ops.incidents,
        schedules: rota.schedules,
    })
}
