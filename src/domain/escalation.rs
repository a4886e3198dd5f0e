//! Escalation policies and what the engine decides when due work comes up. Pure: the caller
//! loads the incident and the policy, passes `now`, and carries out the decision.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::incident::IncidentStatus;

pub const MAX_STEPS: usize = 10;
pub const MAX_TARGETS: usize = 20;
pub const MAX_REPEAT: u32 = 9;
/// A step waits at most a day before the next one.
pub const MAX_DELAY_MINUTES: u32 = 24 * 60;

/// Whom a step notifies: a person, or whoever is on call on a schedule at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Target {
    User(String),
    Schedule(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Minutes to wait for an acknowledgement before the next step.
    pub delay_minutes: u32,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub steps: Vec<Step>,
    /// How many more times the whole list runs after the first pass.
    pub repeat: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("a policy needs at least one step")]
    NoSteps,
    #[error("at most {MAX_STEPS} steps")]
    TooManySteps,
    #[error("step {0} has nobody to notify")]
    NoTargets(usize),
    #[error("step {0} has more than {MAX_TARGETS} targets")]
    TooManyTargets(usize),
    #[error("step {0}: the delay must be between 1 and {MAX_DELAY_MINUTES} minutes")]
    BadDelay(usize),
    #[error("repeat must be between 0 and {MAX_REPEAT}")]
    BadRepeat,
}

impl Policy {
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.steps.is_empty() {
            return Err(PolicyError::NoSteps);
        }
        if self.steps.len() > MAX_STEPS {
            return Err(PolicyError::TooManySteps);
        }
        if self.repeat > MAX_REPEAT {
            return Err(PolicyError::BadRepeat);
        }
        for (i, step) in self.steps.iter().enumerate() {
            let n = i + 1;
            if step.targets.is_empty() {
                return Err(PolicyError::NoTargets(n));
            }
            if step.targets.len() > MAX_TARGETS {
                return Err(PolicyError::TooManyTargets(n));
            }
            if !(1..=MAX_DELAY_MINUTES).contains(&step.delay_minutes) {
                return Err(PolicyError::BadDelay(n));
            }
        }
        Ok(())
    }

    /// Every step of every pass, in order.
    pub fn total_steps(&self) -> usize {
        self.steps.len() * (self.repeat as usize + 1)
    }

    /// The step at position `n` counting through the repeats.
    pub fn step_at(&self, n: usize) -> Option<&Step> {
        if n >= self.total_steps() {
            return None;
        }
        self.steps.get(n % self.steps.len())
    }
}

/// Kinds of due work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Notify step `n` of the policy.
    Step,
    /// The acknowledge deadline.
    AckSla,
    /// The resolve deadline.
    ResolveSla,
    /// A snooze ends: an incident still acknowledged is triggered again.
    Snooze,
    /// An acknowledgement goes stale when nothing happens for the acknowledge window.
    StaleAck,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Step => "step",
            JobKind::AckSla => "ack_sla",
            JobKind::ResolveSla => "resolve_sla",
            JobKind::Snooze => "snooze",
            JobKind::StaleAck => "stale_ack",
        }
    }

    pub fn parse(raw: &str) -> Option<JobKind> {
        [
            JobKind::Step,
            JobKind::AckSla,
            JobKind::ResolveSla,
            JobKind::Snooze,
            JobKind::StaleAck,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// What to do with a due step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDecision {
    /// Acknowledged or resolved meanwhile: nothing to do.
    Stop,
    /// The policy has run its course (every step of every pass).
    Exhausted,
    /// Notify these targets; the next step is due at `next_due` unless acknowledged first.
    Notify {
        targets: Vec<Target>,
        /// 1-based, as people count: "step 2".
        number: usize,
        /// 1-based pass through the policy.
        pass: usize,
        next_due: DateTime<Utc>,
    },
}

pub fn decide_step(
    policy: &Policy,
    n: usize,
    status: IncidentStatus,
    now: DateTime<Utc>,
) -> StepDecision {
    if status != IncidentStatus::Triggered {
        return StepDecision::Stop;
    }
    let Some(step) = policy.step_at(n) else {
        return StepDecision::Exhausted;
    };
    // After the last step too: when its wait ends unacknowledged, the timeline says the
    // policy has run its course.
    StepDecision::Notify {
        targets: step.targets.clone(),
        number: n % policy.steps.len() + 1,
        pass: n / policy.steps.len() + 1,
        next_due: now + Duration::minutes(i64::from(step.delay_minutes)),
    }
}

/// Why the next step comes: the timeline says it in these words.
pub fn delay_reason(policy: &Policy, n: usize) -> String {
    let (Some(step), next) = (policy.step_at(n), n + 1) else {
        return String::new();
    };
    if next >= policy.total_steps() {
        return String::new();
    }
    format!(
        "escalated to step {}: not acknowledged within {}",
        next % policy.steps.len().max(1) + 1,
        minutes_text(i64::from(step.delay_minutes))
    )
}

/// "15 min", "1 h", "1 h 30 min", "3 days".
pub fn minutes_text(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) if h % 24 == 0 && h >= 48 => format!("{} days", h / 24),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// What a lapsed deadline does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineDecision {
    /// Met in time (acknowledged, or resolved): nothing to do.
    Met,
    /// Lapsed: mark the breach, tell the service's managers, and (for the acknowledge deadline)
    /// escalate to the next step at once.
    Lapsed { escalate: bool, message: String },
}

pub fn decide_deadline(
    kind: JobKind,
    status: IncidentStatus,
    within: Duration,
) -> DeadlineDecision {
    match kind {
        JobKind::AckSla if status == IncidentStatus::Triggered => DeadlineDecision::Lapsed {
            escalate: true,
            message: format!(
                "SLA breached: not acknowledged within {}",
                minutes_text(within.num_minutes())
            ),
        },
        JobKind::ResolveSla if status != IncidentStatus::Resolved => DeadlineDecision::Lapsed {
            escalate: false,
            message: format!(
                "resolve deadline passed: not resolved within {}",
                minutes_text(within.num_minutes())
            ),
        },
        _ => DeadlineDecision::Met,
    }
}

/// What a due snooze or stale-acknowledgement check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetriggerDecision {
    /// No longer acknowledged (resolved, or triggered again already): nothing.
    Nothing,
    /// Activity since: look again when the window has passed since the last of it.
    LookAgainAt(DateTime<Utc>),
    /// Back to triggered, paging from step 1, for this reason.
    Retrigger(String),
}

pub fn decide_retrigger(
    kind: JobKind,
    status: IncidentStatus,
    last_activity: Option<DateTime<Utc>>,
    window: Duration,
    now: DateTime<Utc>,
) -> RetriggerDecision {
    if status != IncidentStatus::Acknowledged {
        return RetriggerDecision::Nothing;
    }
    match kind {
        JobKind::StaleAck => match last_activity {
            Some(last) if last + window > now => RetriggerDecision::LookAgainAt(last + window),
            _ => RetriggerDecision::Retrigger(format!(
                "triggered again: acknowledged, but nothing happened for {}",
                minutes_text(window.num_minutes())
            )),
        },
        _ => RetriggerDecision::Retrigger("triggered again: the snooze is over".into()),
    }
}

/// When a failed delivery is tried again: 30 s, 1 min, 2 min, ... at most 15 min apart, so a
/// mail server that is down for an hour still gets the page as soon as it is back.
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 6) - 1;
    (Duration::seconds(30) * 2_i32.pow(doublings as u32)).min(Duration::minutes(15))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy(repeat: u32) -> Policy {
        Policy {
            steps: vec![
                Step {
                    delay_minutes: 10,
                    targets: vec![Target::User("ana".into())],
                },
                Step {
                    delay_minutes: 30,
                    targets: vec![Target::Schedule("primary".into())],
                },
            ],
            repeat,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn steps_run_in_order_and_then_repeat() {
        let p = policy(1);
        assert_eq!(p.total_steps(), 4);
        let first = decide_step(&p, 0, IncidentStatus::Triggered, t0());
        assert_eq!(
            first,
            StepDecision::Notify {
                targets: vec![Target::User("ana".into())],
                number: 1,
                pass: 1,
                next_due: t0() + Duration::minutes(10),
            }
        );
        match decide_step(&p, 2, IncidentStatus::Triggered, t0()) {
            StepDecision::Notify { number, pass, .. } => assert_eq!((number, pass), (1, 2)),
            other => panic!("{other:?}"),
        }
        match decide_step(&p, 3, IncidentStatus::Triggered, t0()) {
            StepDecision::Notify { next_due, .. } => {
                assert_eq!(
                    next_due,
                    t0() + Duration::minutes(30),
                    "the last step's wait"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide_step(&p, 4, IncidentStatus::Triggered, t0()),
            StepDecision::Exhausted
        );
    }

    #[test]
    fn acknowledging_or_resolving_stops_the_steps() {
        let p = policy(0);
        assert_eq!(
            decide_step(&p, 1, IncidentStatus::Acknowledged, t0()),
            StepDecision::Stop
        );
        assert_eq!(
            decide_step(&p, 1, IncidentStatus::Resolved, t0()),
            StepDecision::Stop
        );
    }

    #[test]
    fn deadlines_lapse_only_when_unmet() {
        let within = Duration::minutes(15);
        assert_eq!(
            decide_deadline(JobKind::AckSla, IncidentStatus::Triggered, within),
            DeadlineDecision::Lapsed {
                escalate: true,
                message: "SLA breached: not acknowledged within 15 min".into()
            }
        );
        assert_eq!(
            decide_deadline(JobKind::AckSla, IncidentStatus::Acknowledged, within),
            DeadlineDecision::Met
        );
        assert!(matches!(
            decide_deadline(
                JobKind::ResolveSla,
                IncidentStatus::Acknowledged,
                Duration::hours(4)
            ),
            DeadlineDecision::Lapsed {
                escalate: false,
                ..
            }
        ));
        assert_eq!(
            decide_deadline(JobKind::ResolveSla, IncidentStatus::Resolved, within),
            DeadlineDecision::Met
        );
    }

    #[test]
    fn reasons_and_durations_read_naturally() {
        assert_eq!(
            delay_reason(&policy(0), 0),
            "escalated to step 2: not acknowledged within 10 min"
        );
        assert_eq!(minutes_text(60), "1 h");
        assert_eq!(minutes_text(90), "1 h 30 min");
        assert_eq!(minutes_text(3 * 24 * 60), "3 days");
        assert_eq!(minutes_text(24 * 60), "24 h");
    }

    #[test]
    fn policies_are_checked() {
        assert_eq!(policy(0).check(), Ok(()));
        let mut p = policy(0);
        p.steps[1].targets.clear();
        assert_eq!(p.check(), Err(PolicyError::NoTargets(2)));
        p = policy(0);
        p.steps[0].delay_minutes = 0;
        assert_eq!(p.check(), Err(PolicyError::BadDelay(1)));
        assert_eq!(policy(10).check(), Err(PolicyError::BadRepeat));
        assert_eq!(
            Policy {
                steps: Vec::new(),
                repeat: 0
            }
            .check(),
            Err(PolicyError::NoSteps)
        );
    }

    #[test]
    fn stale_acknowledgements_and_snoozes_retrigger() {
        let window = Duration::hours(1);
        let now = t0();
        assert_eq!(
            decide_retrigger(
                JobKind::StaleAck,
                IncidentStatus::Acknowledged,
                Some(now - Duration::minutes(10)),
                window,
                now
            ),
            RetriggerDecision::LookAgainAt(now + Duration::minutes(50))
        );
        assert!(matches!(
            decide_retrigger(
                JobKind::StaleAck,
                IncidentStatus::Acknowledged,
                Some(now - window),
                window,
                now
            ),
            RetriggerDecision::Retrigger(_)
        ));
        assert_eq!(
            decide_retrigger(
                JobKind::StaleAck,
                IncidentStatus::Resolved,
                None,
                window,
                now
            ),
            RetriggerDecision::Nothing
        );
        assert_eq!(
            decide_retrigger(
                JobKind::Snooze,
                IncidentStatus::Acknowledged,
                Some(now),
                window,
                now
            ),
            RetriggerDecision::Retrigger("triggered again: the snooze is over".into())
        );
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(retry_delay(1), Duration::seconds(30));
        assert_eq!(retry_delay(2), Duration::minutes(1));
        assert_eq!(retry_delay(5), Duration::minutes(8));
        assert_eq!(retry_delay(9), Duration::minutes(15));
    }
}
