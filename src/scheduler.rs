//! The escalation engine's loops: one runs what is due, the other delivers the outbox. Each
//! sleeps until its earliest due time or until a change wakes it. There is no polling interval;
//! a restart runs everything that fell due while the process was down on the first rounds.
//!
//! Two loops rather than one round doing both: a batch of mail to a slow relay takes seconds,
//! and a due step must not wait behind it (lateness is what people trust the engine for).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::AppError;
use crate::services::{escalation, outbox};
use crate::state::AppState;

/// After a failed round (the database away, say), the next try.
const AFTER_ERROR: StdDuration = StdDuration::from_secs(5);

/// Wakes the engine's loops early: something committed new due work or new mail.
#[derive(Default)]
pub struct EngineWake {
    jobs: Notify,
    deliveries: Notify,
}

impl EngineWake {
    pub fn new() -> Arc<EngineWake> {
        Arc::new(EngineWake::default())
    }

    /// Both loops look again. `notify_one` keeps a permit when a loop is mid-round, so a change
    /// committed during a round is not slept through.
    pub fn notify_one(&self) {
        self.jobs.notify_one();
        self.deliveries.notify_one();
    }

    fn deliveries_only(&self) {
        self.deliveries.notify_one();
    }
}

/// One round of both: every due job, then every due delivery. Returns when the next one is due.
/// For tests that drive the engine by hand; the running server uses the two loops of `start`.
pub async fn run_once(st: &AppState) -> Result<Option<DateTime<Utc>>, AppError> {
    let pass = escalation::run_due(st).await?;
    let deliveries = outbox::deliver_due(st).await?;
    Ok(earliest(pass.next_due, deliveries))
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Starts both loops on the current tokio runtime; they run until the runtime stops or the
/// handle is aborted.
pub fn start(st: AppState) -> JoinHandle<()> {
    let jobs = tokio::spawn(run_loop(st.clone(), Loop::Jobs));
    let deliveries = tokio::spawn(run_loop(st, Loop::Deliveries));
    tokio::spawn(async move {
        // Aborting this task drops the guard, which aborts both loops.
        let _guard = AbortBoth(jobs, deliveries);
        std::future::pending::<()>().await;
    })
}

struct AbortBoth(JoinHandle<()>, JoinHandle<()>);

impl Drop for AbortBoth {
    fn drop(&mut self) {
        self.0.abort();
        self.1.abort();
    }
}

#[derive(Clone, Copy)]
enum Loop {
    Jobs,
    Deliveries,
}

async fn run_loop(st: AppState, which: Loop) {
    let wake = match which {
        Loop::Jobs => &st.engine_wake.jobs,
        Loop::Deliveries => &st.engine_wake.deliveries,
    };
    loop {
        // Registered before the round, so a wake-up during the round is not lost.
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let round = match which {
            Loop::Jobs => escalation::run_due(&st).await.map(|pass| {
                if pass.jobs > 0 {
                    // The jobs may have queued pages: the other loop sends them now.
                    st.engine_wake.deliveries_only();
                }
                pass.next_due
            }),
            Loop::Deliveries => outbox::deliver_due(&st).await,
        };
        match round {
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
                let what = match which {
                    Loop::Jobs => "escalation jobs",
                    Loop::Deliveries => "notification delivery",
                };
                tracing::error!(error = %e, "{what} round failed; trying again shortly");
                tokio::time::sleep(AFTER_ERROR).await;
            }
        }
    }
}
