//! The optional per-integration limit on alerts per second: a token bucket per integration,
//! kept in memory (each instance limits what it receives).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::service::RateLimit;

struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes `cost` tokens (one per alert) for `key`; on refusal, returns the seconds until
    /// enough have refilled.
    pub fn take(
        &self,
        key: &str,
        limit: RateLimit,
        cost: u32,
        now: DateTime<Utc>,
    ) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let burst = f64::from(limit.burst);
        let rate = f64::from(limit.per_second);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = (now - bucket.at)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64
            / 1e6;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        let cost = f64::from(cost);
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            return Ok(());
        }
        // A request larger than the burst can never pass; say when the bucket is full instead.
        let missing = cost.min(burst) - bucket.tokens;
        Err((missing / rate).ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let limiter = RateLimiter::default();
        let limit = RateLimit::new(2, Some(3)).expect("limit");
        let t0 = Utc::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", limit, 1, t0), Ok(()));
        }
        assert_eq!(limiter.take("a", limit, 1, t0), Err(1));
        assert_eq!(
            limiter.take("b", limit, 1, t0),
            Ok(()),
            "buckets are per integration"
        );
        assert_eq!(
            limiter.take("a", limit, 1, t0 + Duration::milliseconds(500)),
            Ok(())
        );
        assert_eq!(
            limiter.take("a", limit, 1, t0 + Duration::milliseconds(500)),
            Err(1)
        );
        assert!(
            limiter
                .take("a", limit, 5, t0 + Duration::seconds(10))
                .is_err(),
            "bigger than the burst"
        );
    }
}
