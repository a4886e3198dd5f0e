//! The escalation engine's loop: run what is due, deliver the outbox, then sleep until the
//! earliest due time or until a change wakes it. There is no polling interval; a restart runs
//! everything that fell due while the process was down on its first round.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::error::AppError;
use crate::services::{escalation, outbox};
use crate::state::AppState;

/// After a failed round (the database away, say), the next try.
const AFTER_ERROR: StdDuration = StdDuration::from_secs(5);

/// One round: every due job, then every due delivery. Returns when the next one is due.
pub async fn run_once(st: &AppState) -> Result<Option<DateTime<Utc>>, AppError> {
    let pass = escalation::run_due(st).await?;
    let deliveries = outbox::deliver_due(st).await?;
    Ok(match (pass.next_due, deliveries) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Starts the engine on the current tokio runtime; it runs until the runtime stops.
pub fn start(st: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // Registered before the round, so a wake-up during the round is not lost.
            let woken = st.engine_wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match run_once(&st).await {
                Ok(next) => {
                    let sleep = match next {
                        Some(at) => st.clock.sleep_until(at),
                        None => Box::pin(std::future::pending()),
                    };
                    tokio::select! {
                        () = sleep => {}
                        () = &mut woken => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "escalation engine round failed; trying again shortly");
                    tokio::time::sleep(AFTER_ERROR).await;
                }
            }
        }
    })
}
