//! The demo's duty roster: a weekly primary rotation, its backup (the same people shifted by one
//! place, as the operations guide asks), a follow-the-sun business-hours layer, and overrides for
//! a holiday and a sick day.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::domain::audit::Actor;
use crate::error::AppError;
use crate::services::schedules::{
    self, LayerInput, OverrideInput, RestrictionInput, ScheduleInput,
};
use crate::state::AppState;

pub struct RotaSummary {
    pub schedules: usize,
}

fn layer(
    name: &str,
    every: &str,
    start: &str,
    handoff: &str,
    people: &[&str],
    restrictions: Vec<RestrictionInput>,
) -> LayerInput {
    LayerInput {
        name: name.into(),
        every: every.into(),
        count: 1,
        start: start.into(),
        handoff: handoff.into(),
        participants: people
            .iter()
            .map(|p| format!("{p}@demo.lookout.dev"))
            .collect(),
        restrictions,
    }
}

fn weekdays(from: &str, to: &str) -> Vec<RestrictionInput> {
    vec![RestrictionInput {
        days: ["mon", "tue", "wed", "thu", "fri"]
            .map(String::from)
            .to_vec(),
        from: from.into(),
        to: to.into(),
    }]
}

/// The Monday of the week four weeks before `now`, so the rota has a history.
fn rota_start(now: DateTime<Utc>) -> String {
    let today = now.date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    (monday - Duration::weeks(4)).format("%Y-%m-%d").to_string()
}

pub async fn fill(st: &AppState, actor: &Actor) -> Result<RotaSummary, AppError> {
    let now = st.clock.now();
    let start = rota_start(now);
    let responders = ["sam", "lena", "diego", "yuki", "omar"];
    let backup_order = ["lena", "diego", "yuki", "omar", "sam"];
    let primary = ScheduleInput {
        name: "Platform primary".into(),
        description:
            "First to be paged for the platform services, 7x24, weekly hand-off on Monday morning."
                .into(),
        time_zone: "Europe/Berlin".into(),
        layers: vec![
            layer(
                "Weekly 7x24",
                "weekly",
                &start,
                "09:00",
                &responders,
                Vec::new(),
            ),
            // Business hours in Berlin are covered by the managers, so the week's primary can
            // work on other things during the day.
            layer(
                "Business hours",
                "daily",
                &start,
                "09:00",
                &["marco", "priya"],
                weekdays("09:00", "17:00"),
            ),
        ],
    };
    let primary = schedules::create(st, actor, &primary).await?;
    let backup = ScheduleInput {
        name: "Platform backup".into(),
        description: "Paged when the primary does not answer: the same people, one place later."
            .into(),
        time_zone: "Europe/Berlin".into(),
        layers: vec![layer(
            "Weekly 7x24",
            "weekly",
            &start,
            "09:00",
            &backup_order,
            Vec::new(),
        )],
    };
    schedules::create(st, actor, &backup).await?;
    let sun = ScheduleInput {
        name: "Support follow-the-sun".into(),
        description: "Customer support escalations, handed around the world with the daylight."
            .into(),
        time_zone: "UTC".into(),
        layers: vec![
            layer(
                "Americas",
                "weekly",
                &start,
                "00:00",
                &["diego"],
                vec![RestrictionInput {
                    days: Vec::new(),
                    from: "16:00".into(),
                    to: "00:00".into(),
                }],
            ),
            layer(
                "Asia-Pacific",
                "weekly",
                &start,
                "00:00",
                &["yuki", "omar"],
                vec![RestrictionInput {
                    days: Vec::new(),
                    from: "00:00".into(),
                    to: "08:00".into(),
                }],
            ),
            layer(
                "Europe",
                "weekly",
                &start,
                "00:00",
                &["sam", "lena"],
                vec![RestrictionInput {
                    days: Vec::new(),
                    from: "08:00".into(),
                    to: "16:00".into(),
                }],
            ),
        ],
    };
    schedules::create(st, actor, &sun).await?;
    // A holiday swap next week and a sick day that already happened.
    let next_monday = {
        let today = now.date_naive();
        today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()))
    };
    let holiday_start = next_monday.and_hms_opt(9, 0, 0).map(|t| t.and_utc());
    if let Some(holiday_start) = holiday_start {
        let swap = OverrideInput {
            user: "omar@demo.lookout.dev".into(),
            start: holiday_start,
            end: holiday_start + Duration::days(2),
            reason: "Holiday swap: Sam is away, Omar covers".into(),
        };
        schedules::add_override(st, actor, &primary.id, &swap).await?;
    }
    let sick = OverrideInput {
        user: "lena@demo.lookout.dev".into(),
        start: now - Duration::days(3),
        end: now - Duration::days(2),
        reason: "Sick day".into(),
    };
    schedules::add_override(st, actor, &primary.id, &sick).await?;
    // The holidays the operations guide asks to plan for, marked on the primary rota.
    let year = now.year();
    for (day, name) in [
        (format!("{year}-12-24"), "Christmas Eve"),
        (format!("{year}-12-25"), "Christmas Day"),
        (format!("{year}-12-26"), "Boxing Day"),
        (format!("{}-01-01", year + 1), "New Year's Day"),
    ] {
        schedules::add_holiday(st, actor, &primary.id, &day, name).await?;
    }
    // The duty log the operations guide asks for: what the last shift left for the next one.
    for (author, note) in [
        (
            "Lena Fischer",
            "Quiet night. db-2 disk at 81 %; the log cleanup job is scheduled for 02:00, check it finished.",
        ),
        (
            "Lena Fischer",
            "Payments latency alert flapped twice around 18:00 after the deploy; rolled back, watch the P99 dashboard.",
        ),
    ] {
        schedules::add_note(st, actor, author, &primary.id, note).await?;
    }
    Ok(RotaSummary { schedules: 3 })
}
