//! Whether mail can go out at all. A refused SMTP login or a relay without the required
//! STARTTLS fails every message the same way: that is a settings problem for the admins, shown
//! on every page they open, not a string of per-message failures nobody reads.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailProblem {
    pub message: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct MailHealth {
    problem: Mutex<Option<MailProblem>>,
}

impl MailHealth {
    /// Records a settings problem; true when it is new (it was fine before).
    pub fn report(&self, message: &str, now: DateTime<Utc>) -> bool {
        let mut problem = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        let new = problem.is_none();
        let since = problem.as_ref().map_or(now, |p| p.since);
        *problem = Some(MailProblem {
            message: message.to_owned(),
            since,
        });
        new
    }

    /// A message went out: the settings work. True when that ends a problem.
    pub fn clear(&self) -> bool {
        self.problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some()
    }

    pub fn current(&self) -> Option<MailProblem> {
        self.problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_new_once_keeps_its_start_and_clears() {
        let health = MailHealth::default();
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        assert!(health.current().is_none());
        assert!(health.report("login refused", t0));
        assert!(!health.report("login refused again", t0 + chrono::Duration::minutes(1)));
        let p = health.current().expect("problem");
        assert_eq!((p.message.as_str(), p.since), ("login refused again", t0));
        assert!(health.clear());
        assert!(!health.clear());
        assert!(health.current().is_none());
    }
}
