//! How times and durations read on pages: short, in the viewer's zone, relative where that
//! helps a tired person ("12 min ago", "ack due in 3 min").

use chrono::{DateTime, Duration, Utc};

/// `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`: two units at most.
pub fn duration(d: Duration) -> String {
    let secs = d.num_seconds().abs();
    if secs < 60 {
        return format!("{secs} s");
    }
    let mins = secs / 60;
    if mins < 60 {
        return format!("{mins} min");
    }
    let (hours, mins) = (mins / 60, mins % 60);
    if hours < 24 {
        return if mins == 0 {
            format!("{hours} h")
        } else {
            format!("{hours} h {mins} min")
        };
    }
    let (days, hours) = (hours / 24, hours % 24);
    if hours == 0 {
        format!("{days} d")
    } else {
        format!("{days} d {hours} h")
    }
}

/// `12 min ago` or `in 12 min`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t <= now {
        format!("{} ago", duration(now - t))
    } else {
        format!("in {}", duration(t - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(Duration::seconds(42)), "42 s");
        assert_eq!(duration(Duration::minutes(12)), "12 min");
        assert_eq!(duration(Duration::minutes(185)), "3 h 5 min");
        assert_eq!(duration(Duration::hours(5)), "5 h");
        assert_eq!(duration(Duration::hours(52)), "2 d 4 h");
        assert_eq!(duration(Duration::minutes(-12)), "12 min");
        let now = Utc::now();
        assert_eq!(relative(now - Duration::minutes(3), now), "3 min ago");
        assert_eq!(relative(now + Duration::minutes(3), now), "in 3 min");
    }
}
