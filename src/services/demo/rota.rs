//! The demo's duty roster: a weekly primary rotation, its backup (the same people shifted by one
//! place, as the operations guide asks), a follow-the-sun business-hours layer, overrides for
//! a holiday and a sick day, swaps waiting for someone or for a manager, and leave.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::domain::audit::Actor;
use crate::domain::schedule::Shift;
use crate::domain::user::User;
use crate::error::AppError;
use crate::services::schedules::{
    self, LayerInput, OverrideInput, RestrictionInput, ScheduleInput,
};
use crate::services::swaps::{self, OfferInput};
use crate::services::time_off::{self, LeaveInput};
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
    swaps_and_leave(st, actor, &primary.id, now).await?;
    Ok(RotaSummary { schedules: 3 })
}

async fn person(st: &AppState, who: &str) -> Result<User, AppError> {
    crate::services::users::find_by_email(st, &format!("{who}@demo.lookout.dev"))
        .await?
        .ok_or_else(|| AppError::Internal(format!("demo person {who} is missing")))
}

/// The first weekend stretch of `who` on the primary rota after `after`: Friday 17:00 to Monday
/// 09:00, when the business-hours layer is off.
async fn weekend_of(
    st: &AppState,
    schedule_id: &str,
    who: &User,
    after: DateTime<Utc>,
) -> Result<Option<Shift>, AppError> {
    let detail = schedules::get(st, schedule_id, after, after + Duration::weeks(6)).await?;
    Ok(detail
        .final_shifts(after, after + Duration::weeks(6))
        .into_iter()
        .find(|s| s.user_id == who.id && s.end - s.start >= Duration::hours(60)))
}

/// Swaps in each state and leave with a conflict, so the schedule and review pages have
/// something to show: an open offer, one taken and waiting for a manager, and someone's leave
/// in their coming duty week.
async fn swaps_and_leave(
    st: &AppState,
    actor: &Actor,
    primary: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    swaps::set_approval(st, actor, primary, true).await?;
    let (lena, diego, yuki, sam) = (
        person(st, "lena").await?,
        person(st, "diego").await?,
        person(st, "yuki").await?,
        person(st, "sam").await?,
    );
    if let Some(weekend) = weekend_of(st, primary, &lena, now + Duration::days(7)).await? {
        let offer = OfferInput {
            start: weekend.start + Duration::hours(16),
            end: weekend.start + Duration::hours(40),
            offered_to: None,
            note: "Family visit on Saturday".into(),
        };
        swaps::offer(
            st,
            &lena,
            &Actor::user(&lena.id, &lena.email, None),
            primary,
            &offer,
        )
        .await?;
    }
    if let Some(weekend) = weekend_of(st, primary, &diego, now + Duration::days(7)).await? {
        let offer = OfferInput {
            start: weekend.start + Duration::hours(40),
            end: weekend.end,
            offered_to: Some(yuki.email.clone()),
            note: "Concert on Sunday, will take one of yours".into(),
        };
        let offered = swaps::offer(
            st,
            &diego,
            &Actor::user(&diego.id, &diego.email, None),
            primary,
            &offer,
        )
        .await?;
        swaps::take(
            st,
            &yuki,
            &Actor::user(&yuki.id, &yuki.email, None),
            &offered.id,
        )
        .await?;
    }
    // Sam's holiday is covered by the override added above; Yuki's leave is not covered yet.
    let next_monday = {
        let today = now.date_naive();
        today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()))
    };
    let away = |user: &User, first: NaiveDate, last: NaiveDate, reason: &str| LeaveInput {
        user: Some(user.email.clone()),
        start: first.format("%Y-%m-%d").to_string(),
        end: last.format("%Y-%m-%d").to_string(),
        reason: reason.into(),
    };
    time_off::add(
        st,
        &sam,
        actor,
        &away(
            &sam,
            next_monday,
            next_monday + Duration::days(1),
            "Holiday",
        ),
    )
    .await?;
    let detail = schedules::get(st, primary, now, now + Duration::weeks(6)).await?;
    let yukis_week = detail
        .final_shifts(now + Duration::days(1), now + Duration::weeks(6))
        .into_iter()
        .find(|s| s.user_id == yuki.id);
    if let Some(shift) = yukis_week {
        let first = shift.start.date_naive() + Duration::days(1);
        time_off::add(
            st,
            &yuki,
            actor,
            &away(&yuki, first, first + Duration::days(1), "Conference"),
        )
        .await?;
    }
    Ok(())
}
