//! Importing a schedule's holidays from an iCalendar file: every new day in one transaction with
//! one audit entry, or nothing at all.

use std::collections::HashSet;

use serde::Serialize;

use crate::db::is_unique_violation;
use crate::db::repo::schedules as repo;
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::holiday_calendar::parse_holidays;
use crate::domain::ids::{is_valid_id, new_id};
use crate::error::AppError;
use crate::services::{audit, schedules};
use crate::state::AppState;

/// What an import did. `added` and `already_there` count days; `skipped` counts events of the
/// file that gave no day (repeating, cancelled, longer than a month, or without a date).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub added: usize,
    pub already_there: usize,
    pub skipped: usize,
}

/// Adds the holidays of `bytes` (an .ics file) to the schedule. Days it already has are left as
/// they are and counted, not refused, so importing the same file twice is harmless.
pub async fn import_holidays(
    st: &AppState,
    actor: &Actor,
    schedule_id: &str,
    bytes: &[u8],
) -> Result<ImportCounts, AppError> {
    let now = st.clock.now();
    // The zone decides the date of events given in UTC; read before parsing, outside the write.
    let zone = schedules::get(st, schedule_id, now, now).await?.time_zone;
    let calendar =
        parse_holidays(bytes, zone).map_err(|e| AppError::invalid("file", e.to_string()))?;
    let (schedule_id, actor) = (schedule_id.to_owned(), actor.clone());
    st.db
        .write(move |c| {
            if !is_valid_id(&schedule_id) {
                return Err(AppError::NotFound);
            }
            let schedule = repo::find(c, &schedule_id)?.ok_or(AppError::NotFound)?;
            let present: HashSet<_> = repo::holidays_of(c, std::slice::from_ref(&schedule_id))?
                .into_iter()
                .map(|h| h.day)
                .collect();
            let mut counts = ImportCounts {
                skipped: calendar.skipped,
                ..ImportCounts::default()
            };
            for holiday in &calendar.holidays {
                if present.contains(&holiday.day) {
                    counts.already_there += 1;
                    continue;
                }
                match repo::insert_holiday(c, &new_id(), &schedule_id, holiday.day, &holiday.name, now) {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(AppError::Conflict(
                            "someone added holidays to this schedule meanwhile; import the file again"
                                .into(),
                        ));
                    }
                    other => other?,
                }
                counts.added += 1;
            }
            if counts.added > 0 {
                repo::touch(c, &schedule_id, now)?;
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::ScheduleUpdated,
                Some(("schedule", &schedule_id)),
                &format!(
                    "holidays imported into '{}': {} added, {} already there, {} events skipped",
                    schedule.name, counts.added, counts.already_there, counts.skipped
                ),
            )?;
            Ok(counts)
        })
        .await
}
