//! Response times per severity (the SLA table): how long an incident may wait for an
//! acknowledgement and for its resolution. Deadlines are set when an incident opens and when its
//! severity changes; changing the table does not move the deadlines of incidents already open.

use crate::db::repo::severity_levels;
use crate::domain::audit::{Actor, AuditAction};
use crate::domain::severity::Severity;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::audit;
use crate::state::AppState;

/// A week: nothing waits longer for an acknowledgement.
const MAX_ACK_MINUTES: i64 = 7 * 24 * 60;
/// Ninety days.
const MAX_RESOLVE_MINUTES: i64 = 90 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityTimes {
    pub severity: Severity,
    pub ack_within_minutes: i64,
    pub resolve_within_minutes: i64,
}

pub async fn list(st: &AppState) -> Result<Vec<SeverityTimes>, AppError> {
    st.db
        .read(|c| {
            Severity::ALL
                .into_iter()
                .map(|severity| {
                    let times = severity_levels::response_times(c, severity)?;
                    Ok(SeverityTimes {
                        severity,
                        ack_within_minutes: times.ack_within.num_minutes(),
                        resolve_within_minutes: times.resolve_within.num_minutes(),
                    })
                })
                .collect()
        })
        .await
}

/// Sets the given rows: `(severity, acknowledge within, resolve within)` in minutes. All or
/// nothing: one bad row changes no row.
pub async fn update(
    st: &AppState,
    actor: &Actor,
    rows: &[(String, i64, i64)],
) -> Result<Vec<SeverityTimes>, AppError> {
    let mut errors = FieldErrors::new();
    let mut valid = Vec::new();
    if rows.is_empty() {
        errors.add("severities", "give at least one severity");
    }
    for (raw, ack, resolve) in rows {
        let Ok(severity) = raw.trim().parse::<Severity>() else {
            errors.add("severity", format!("'{raw}' is not a severity (P0 to P3)"));
            continue;
        };
        if !(1..=MAX_ACK_MINUTES).contains(ack) {
            errors.add(
                "ack_within_minutes",
                format!("{severity}: acknowledge within 1 to {MAX_ACK_MINUTES} minutes"),
            );
        } else if !(*ack..=MAX_RESOLVE_MINUTES).contains(resolve) {
            errors.add(
                "resolve_within_minutes",
                format!(
                    "{severity}: resolve within {ack} to {MAX_RESOLVE_MINUTES} minutes (not before the acknowledge deadline)"
                ),
            );
        } else if valid.iter().any(|(s, _, _)| *s == severity) {
            errors.add("severity", format!("{severity} is given twice"));
        } else {
            valid.push((severity, *ack, *resolve));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let (actor, now) = (actor.clone(), st.clock.now());
    st.db
        .write(move |c| {
            let mut summary = Vec::new();
            for (severity, ack, resolve) in &valid {
                let to_i32 = |m: i64| i32::try_from(m).unwrap_or(i32::MAX);
                severity_levels::set(c, *severity, to_i32(*ack), to_i32(*resolve), now)?;
                summary.push(format!("{severity}: ack {ack} min, resolve {resolve} min"));
            }
            audit::record(
                c,
                now,
                &actor,
                AuditAction::SeveritiesUpdated,
                None,
                &summary.join("; "),
            )?;
            Ok::<_, AppError>(())
        })
        .await?;
    list(st).await
}
