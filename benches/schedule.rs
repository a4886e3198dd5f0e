//! On-call lookups are a computation, not a table scan: how long one takes, and the four weeks of
//! final shifts the schedule page draws. A schedule of three layers (weekly 7x24 over 50 people, a
//! weekend layer, business hours) with 20 overrides, in Europe/London.
//!
//! ```text
//! cargo bench --bench schedule
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use criterion::{Criterion, criterion_group, criterion_main};
use lookout::domain::schedule::{
    Layer, Override, Restriction, Rotation, RotationUnit, Schedule, Version,
};

fn layer(name: &str, unit: RotationUnit, people: std::ops::Range<usize>) -> Layer {
    Layer {
        name: name.into(),
        rotation: Rotation { unit, count: 1 },
        start: NaiveDate::from_ymd_opt(2025, 6, 2).expect("date"),
        handoff: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        participants: people.map(|i| format!("user-{i}")).collect(),
        restrictions: Vec::new(),
    }
}

fn schedule() -> Schedule {
    let time = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
    let mut weekend = layer("weekend", RotationUnit::Daily, 0..10);
    weekend.restrictions = vec![Restriction {
        days: vec![Weekday::Sat, Weekday::Sun],
        from: time(0),
        to: time(0),
    }];
    let mut business = layer("business hours", RotationUnit::Daily, 10..20);
    business.restrictions = vec![Restriction {
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ],
        from: time(9),
        to: time(17),
    }];
    let start: DateTime<Utc> = "2026-11-01T10:00:00Z".parse().expect("time");
    Schedule {
        time_zone: chrono_tz::Europe::London,
        versions: vec![Version {
            effective_from: DateTime::<Utc>::UNIX_EPOCH,
            layers: vec![
                layer("7x24", RotationUnit::Weekly, 0..50),
                weekend,
                business,
            ],
        }],
        overrides: (0..20)
            .map(|i| Override {
                id: format!("o{i}"),
                user_id: format!("user-{}", i * 2),
                start: start + Duration::hours(37 * i),
                end: start + Duration::hours(37 * i + 12),
            })
            .collect(),
    }
}

fn lookups(c: &mut Criterion) {
    let s = schedule();
    let everyone = |_: &str| true;
    let at: DateTime<Utc> = "2026-11-22T09:30:00Z".parse().expect("time");
    c.bench_function("on_call_at", |b| {
        b.iter(|| black_box(s.on_call_at(black_box(at), &everyone)))
    });
    let from: DateTime<Utc> = "2026-11-22T00:00:00Z".parse().expect("time");
    let to = from + Duration::weeks(4);
    c.bench_function("final_shifts, 4 weeks", |b| {
        b.iter(|| black_box(s.final_shifts(black_box(from), black_box(to), &everyone)))
    });
    c.bench_function("gaps, 4 weeks", |b| {
        b.iter(|| black_box(s.gaps(black_box(from), black_box(to), &everyone)))
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
