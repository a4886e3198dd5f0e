//! Rotation maths for duty schedules: who is on call when, from rotation layers, overrides and
//! schedule versions.
//!
//! All local-time reasoning goes through [`local_to_utc`], so there is exactly one place that
//! decides what a hand-off at a time the clock skips or repeats means. Lookups are arithmetic
//! (turn number from elapsed hours or local dates), never a walk from the layer's start, so the
//! cost of a query depends on the span asked about, not on how old the schedule is.

use std::cmp::{max, min};

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RotationUnit {
    Hourly,
    Daily,
    Weekly,
}

impl RotationUnit {
    pub const ALL: [RotationUnit; 3] = [
        RotationUnit::Hourly,
        RotationUnit::Daily,
        RotationUnit::Weekly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RotationUnit::Hourly => "hourly",
            RotationUnit::Daily => "daily",
            RotationUnit::Weekly => "weekly",
        }
    }

    /// Case-insensitive, surrounding blanks ignored (form input).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(s))
    }
}

/// `count` units per turn; `count >= 1` (see [`Rotation::new`]). A count of 0 built by hand is
/// treated as 1 rather than dividing by zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub unit: RotationUnit,
    pub count: u32,
}

/// How far apart turn starts are. Hours are elapsed time; days are local calendar days, which is
/// what keeps a daily hand-off at the same wall-clock time across DST.
#[derive(Debug, Clone, Copy)]
enum Step {
    Hours(i64),
    Days(u64),
}

impl Rotation {
    pub const MAX_COUNT: u32 = 365;

    pub fn new(unit: RotationUnit, count: u32) -> Result<Self, ScheduleError> {
        if (1..=Self::MAX_COUNT).contains(&count) {
            Ok(Self { unit, count })
        } else {
            Err(ScheduleError::BadCount)
        }
    }

    fn step(self) -> Step {
        let count = self.count.max(1);
        match self.unit {
            RotationUnit::Hourly => Step::Hours(i64::from(count)),
            RotationUnit::Daily => Step::Days(u64::from(count)),
            RotationUnit::Weekly => Step::Days(7 * u64::from(count)),
        }
    }
}

/// A weekly time-of-day window in the schedule's zone. `days` empty = every day. `from == to`
/// means the whole day. `to < from` crosses midnight (22:00-07:00 on mon = mon 22:00 to tue 07:00).
///
/// "The whole day" runs from `from` to `from` on the next day, so 00:00-00:00 is the calendar day
/// and 09:00-09:00 a day that starts at 09:00; touching windows join into one stretch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl Restriction {
    /// Whether a window starts on this local weekday (a window crossing midnight belongs to the
    /// day it starts on).
    pub fn applies_on(&self, day: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&day)
    }

    /// The window anchored on local `date`, if that date has one and it is not swallowed whole by
    /// a DST gap.
    fn window_on(&self, tz: Tz, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.applies_on(date.weekday()) {
            return None;
        }
        let end_date = if self.to <= self.from {
            date.succ_opt()?
        } else {
            date
        };
        let start = local_to_utc(tz, date, self.from);
        let end = local_to_utc(tz, end_date, self.to);
        (start < end).then_some((start, end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub rotation: Rotation,
    /// First shift starts on this local date at `handoff`.
    pub start: NaiveDate,
    /// Local hand-off time in the schedule's zone.
    pub handoff: NaiveTime,
    /// User ids, in turn order; the same id may appear twice.
    pub participants: Vec<String>,
    /// Empty = always active.
    pub restrictions: Vec<Restriction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub id: String,
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One version of a schedule's rotation set, in force from `effective_from` (inclusive) until the
/// next version's `effective_from`. Editing a schedule adds a version; the past never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub effective_from: DateTime<Utc>,
    /// Index 0 = bottom; a higher index wins.
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub time_zone: Tz,
    /// Sorted by `effective_from`. Before the first version nobody is on call (except overrides).
    pub versions: Vec<Version>,
    /// Should not overlap (see [`check_override`]); if stored ones do, the later in the list wins.
    pub overrides: Vec<Override>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Layer { index: usize, name: String },
    Override { id: String },
}

impl Source {
    /// How pages and the API name it: `layer Primary`, `override`.
    pub fn label(&self) -> String {
        match self {
            Source::Layer { name, .. } => format!("layer {name}"),
            Source::Override { .. } => "override".into(),
        }
    }
}

/// A span of time with one person on call (or, for gaps, nobody).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub user_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A stretch of one layer's time, before deciding whether its participant is active.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    participant: usize,
}

impl Layer {
    /// Refuses a layer nobody could be on call for or whose rotation count is out of range.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.participants.iter().all(|p| p.trim().is_empty()) {
            return Err(ScheduleError::NoParticipants);
        }
        Rotation::new(self.rotation.unit, self.rotation.count).map(|_| ())
    }

    /// When the layer's first turn begins.
    pub fn first_handoff(&self, tz: Tz) -> DateTime<Utc> {
        local_to_utc(tz, self.start, self.handoff)
    }

    /// The rotation turn covering `at`, ignoring restrictions: (index into participants, turn start, turn end).
    /// None before the layer's first hand-off or with no participants.
    pub fn turn_at(
        &self,
        tz: Tz,
        at: DateTime<Utc>,
    ) -> Option<(usize, DateTime<Utc>, DateTime<Utc>)> {
        let n = self.participants.len() as u64;
        if n == 0 {
            return None;
        }
        let (k, start, end) = self.turn_index_at(tz, self.first_handoff(tz), at)?;
        Some(((k % n) as usize, start, end))
    }

    /// The layer's own shifts overlapping [from, to): turns clipped to the restriction windows and to
    /// [from, to), in time order, source = Source::Layer { index, name } with the given index.
    ///
    /// One shift per turn and window, even when the same person has consecutive turns: the
    /// hand-off is real for whoever reads the rota.
    pub fn shifts(
        &self,
        index: usize,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Shift> {
        let mut pieces = Vec::new();
        self.pieces(tz, from, to, &mut pieces);
        pieces
            .into_iter()
            .filter_map(|p| {
                Some(Shift {
                    user_id: self.participants.get(p.participant)?.clone(),
                    start: p.start,
                    end: p.end,
                    source: Source::Layer {
                        index,
                        name: self.name.clone(),
                    },
                })
            })
            .collect()
    }

    /// Start of turn `k`; `None` only past the end of chrono's calendar.
    fn turn_start(&self, tz: Tz, first: DateTime<Utc>, k: u64) -> Option<DateTime<Utc>> {
        match self.rotation.step() {
            Step::Hours(h) => {
                let hours = h.checked_mul(i64::try_from(k).ok()?)?;
                first.checked_add_signed(TimeDelta::try_hours(hours)?)
            }
            Step::Days(d) => {
                let date = self.start.checked_add_days(Days::new(d.checked_mul(k)?))?;
                Some(local_to_utc(tz, date, self.handoff))
            }
        }
    }

    /// (turn number, start, end) of the turn covering `at`.
    fn turn_index_at(
        &self,
        tz: Tz,
        first: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Option<(u64, DateTime<Utc>, DateTime<Utc>)> {
        if at < first {
            return None;
        }
        let max_end = DateTime::<Utc>::MAX_UTC;
        match self.rotation.step() {
            Step::Hours(h) => {
                let k = u64::try_from((at - first).num_seconds() / (h * 3600)).ok()?;
                let start = self.turn_start(tz, first, k)?;
                let end = self.turn_start(tz, first, k + 1).unwrap_or(max_end);
                Some((k, start, end))
            }
            Step::Days(d) => {
                let days = (local_date(tz, at)? - self.start).num_days();
                let mut k = u64::try_from(days.max(0)).ok()? / d;
                let mut start = self.turn_start(tz, first, k)?;
                // The local date puts `at` in turn k or, before that day's hand-off, in turn k-1;
                // loops rather than a single step so odd zones (day-long gaps) stay correct.
                while k > 0 && start > at {
                    k -= 1;
                    start = self.turn_start(tz, first, k)?;
                }
                let mut end = self.turn_start(tz, first, k + 1).unwrap_or(max_end);
                while end <= at && end < max_end {
                    k += 1;
                    start = end;
                    end = self.turn_start(tz, first, k + 1).unwrap_or(max_end);
                }
                Some((k, start, end))
            }
        }
    }

    fn pieces(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, out: &mut Vec<Piece>) {
        let n = self.participants.len() as u64;
        if n == 0 {
            return;
        }
        let first = self.first_handoff(tz);
        let windows = self.active_windows(tz, max(from, first), to);
        // Turns outside every window contribute nothing, so start at the first window.
        let (Some(&(from, _)), Some(&(_, to))) = (windows.first(), windows.last()) else {
            return;
        };
        let Some((mut k, mut start, mut end)) = self.turn_index_at(tz, first, from) else {
            return;
        };
        let mut w = 0;
        loop {
            let (lo, hi) = (max(start, from), min(end, to));
            while windows.get(w).is_some_and(|win| win.1 <= lo) {
                w += 1;
            }
            // A window may outlast this turn, so `w` stays put for the next one.
            for &(ws, we) in windows.iter().skip(w).take_while(|win| win.0 < hi) {
                let (s, e) = (max(lo, ws), min(hi, we));
                if s < e {
                    out.push(Piece {
                        start: s,
                        end: e,
                        participant: (k % n) as usize,
                    });
                }
            }
            if end >= to {
                break;
            }
            k += 1;
            start = end;
            end = self
                .turn_start(tz, first, k + 1)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
    }
    /// The union of the restriction windows within [from, to), sorted, merged where they touch
    /// so a shift is not cut at a boundary that is not a hand-off.
    fn active_windows(
        &self,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if from >= to {
            return Vec::new();
        }
        if self.restrictions.is_empty() {
            return vec![(from, to)];
        }
        let (Some(first_day), Some(last_day)) = (local_date(tz, from), local_date(tz, to)) else {
            return Vec::new();
        };
        // A window crossing midnight into `first_day` is anchored on the day before.
        let mut day = first_day.pred_opt().unwrap_or(first_day);
        let mut raw = Vec::new();
        loop {
            for r in &self.restrictions {
                if let Some((s, e)) = r.window_on(tz, day)
                    && s < to
                    && e > from
                {
                    raw.push((max(s, from), min(e, to)));
                }
            }
            if day >= last_day {
                break;
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        raw.sort_unstable();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(raw.len());
        for (s, e) in raw {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = max(last.1, e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Point version of `active_windows`, cheap enough to probe every layer in `on_call_at`.
    fn restriction_allows(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        if self.restrictions.is_empty() {
            return true;
        }
        let Some(today) = local_date(tz, at) else {
            return false;
        };
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .any(|day| {
                self.restrictions
                    .iter()
                    .any(|r| r.window_on(tz, day).is_some_and(|(s, e)| s <= at && at < e))
            })
    }
}

/// Borrowed form of [`Source`], so resolving a schedule clones strings only for what it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceRef<'a> {
    Layer(usize, &'a str),
    Override(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct Seg<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    user: &'a str,
    source: SourceRef<'a>,
}

impl Seg<'_> {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    fn to_shift(self) -> Shift {
        Shift {
            user_id: self.user.to_owned(),
            start: self.start,
            end: self.end,
            source: match self.source {
                SourceRef::Layer(index, name) => Source::Layer {
                    index,
                    name: name.to_owned(),
                },
                SourceRef::Override(id) => Source::Override { id: id.to_owned() },
            },
        }
    }
}

fn push_merged<'a>(out: &mut Vec<Seg<'a>>, seg: Seg<'a>) {
    if let Some(last) = out.last_mut()
        && last.end == seg.start
        && last.user == seg.user
        && last.source == seg.source
    {
        last.end = seg.end;
    } else {
        out.push(seg);
    }
}

/// Lays prioritised tracks over each other: `tracks[0]` wins. Each track must be sorted and
/// free of overlaps; the result is too, with same-user same-source neighbours merged.
fn sweep<'a>(tracks: &[Vec<Seg<'a>>], out: &mut Vec<Seg<'a>>) {
    let mut points: Vec<DateTime<Utc>> = tracks
        .iter()
        .flatten()
        .flat_map(|s| [s.start, s.end])
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut cursors = vec![0usize; tracks.len()];
    for pair in points.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        // Between two consecutive points no segment begins or ends, so whichever covers `start`
        // covers the whole elementary span.
        let winner = tracks
            .iter()
            .zip(cursors.iter_mut())
            .find_map(|(track, c)| {
                while track.get(*c).is_some_and(|s| s.end <= start) {
                    *c += 1;
                }
                track.get(*c).filter(|s| s.start <= start)
            });
        if let Some(seg) = winner {
            push_merged(out, Seg { start, end, ..*seg });
        }
    }
}

impl Schedule {
    /// The final shifts overlapping [from, to), clipped to it, in time order, never overlapping:
    /// overrides win over every layer; among layers the highest index with someone active wins;
    /// versions apply only within their own effective span. `is_active(user_id)` false means the
    /// user is deactivated: such a user is never named (their layer time falls through to lower
    /// layers, an override for them is ignored); time nobody covers is left out (see `gaps`).
    /// Adjacent pieces with the same user AND same source are merged into one shift.
    pub fn final_shifts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        is_active: &dyn Fn(&str) -> bool,
    ) -> Vec<Shift> {
        self.resolve(from, to, is_active, 0)
            .into_iter()
            .map(Seg::to_shift)
            .collect()
    }

    /// Who is on call at `at`: the final shift covering it, with its full extent (not clipped to
    /// `at`): it runs from the hand-off that gave this person the pager to the one that takes it
    /// away, bounded by the turn (or override) it comes from, so consecutive turns of the same
    /// person show as separate shifts here.
    pub fn on_call_at(&self, at: DateTime<Utc>, is_active: &dyn Fn(&str) -> bool) -> Option<Shift> {
        let (lo, hi, floor) = self.winner_extent(at, is_active)?;
        // Resolving a whole weekly turn costs dozens of zone lookups; most shifts are far shorter,
        // so look close to `at` first and widen only a side where the shift reaches the edge.
        let (mut back, mut ahead) = (TimeDelta::hours(12), TimeDelta::hours(12));
        loop {
            let from = at.checked_sub_signed(back).map_or(lo, |t| max(t, lo));
            let to = at.checked_add_signed(ahead).map_or(hi, |t| min(t, hi));
            let seg = self
                .resolve(from, to, is_active, floor)
                .into_iter()
                .find(|s| s.contains(at))?;
            let open_before = seg.start == from && from > lo;
            let open_after = seg.end == to && to < hi;
            if !open_before && !open_after {
                return Some(seg.to_shift());
            }
            if open_before {
                back = back * 2;
            }
            if open_after {
                ahead = ahead * 2;
            }
        }
    }

    /// Spans of [from, to) where nobody is on call.
    pub fn gaps(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        is_active: &dyn Fn(&str) -> bool,
    ) -> Vec<Gap> {
        let mut gaps = Vec::new();
        if from >= to {
            return gaps;
        }
        let mut cursor = from;
        for seg in self.resolve(from, to, is_active, 0) {
            if seg.start > cursor {
                gaps.push(Gap {
                    start: cursor,
                    end: seg.start,
                });
            }
            cursor = seg.end;
        }
        if cursor < to {
            gaps.push(Gap {
                start: cursor,
                end: to,
            });
        }
        gaps
    }

    /// Each version's span as (start, end, layers), preceded by the layer-less time before the
    /// first version. Spans are clamped to never go backwards, so even a mis-sorted list yields
    /// disjoint spans instead of two versions claiming the same hour.
    fn spans(&self) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>, &[Layer])> {
        let first = self
            .versions
            .first()
            .map_or(DateTime::<Utc>::MAX_UTC, |v| v.effective_from);
        let mut floor = first;
        std::iter::once((DateTime::<Utc>::MIN_UTC, first, &[][..])).chain(
            self.versions.iter().enumerate().map(move |(i, v)| {
                let start = max(v.effective_from, floor);
                let end = self
                    .versions
                    .get(i + 1)
                    .map_or(DateTime::<Utc>::MAX_UTC, |next| {
                        max(next.effective_from, start)
                    });
                floor = end;
                (start, end, v.layers.as_slice())
            }),
        )
    }

    /// Layers below index `floor` are left out: they cannot change a shift that wins above them,
    /// which is all `on_call_at` needs.
    fn resolve<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        is_active: &dyn Fn(&str) -> bool,
        floor: usize,
    ) -> Vec<Seg<'a>> {
        let mut layer_track = Vec::new();
        if from >= to {
            return layer_track;
        }
        let tz = self.time_zone;
        let mut tracks: Vec<Vec<Seg<'a>>> = Vec::new();
        let mut pieces = Vec::new();
        for (start, end, layers) in self.spans() {
            let (lo, hi) = (max(start, from), min(end, to));
            if lo >= hi || layers.is_empty() {
                continue;
            }
            tracks.clear();
            for (index, layer) in layers.iter().enumerate().rev() {
                if index < floor {
                    break;
                }
                pieces.clear();
                layer.pieces(tz, lo, hi, &mut pieces);
                let source = SourceRef::Layer(index, &layer.name);
                tracks.push(
                    pieces
                        .iter()
                        .filter_map(|p| {
                            let user = layer.participants.get(p.participant)?.as_str();
                            is_active(user).then_some(Seg {
                                start: p.start,
                                end: p.end,
                                user,
                                source,
                            })
                        })
                        .collect(),
                );
            }
            sweep(&tracks, &mut layer_track);
        }

        tracks.clear();
        for o in self.overrides.iter().rev() {
            if o.start < to && o.end > from && o.start < o.end && is_active(&o.user_id) {
                tracks.push(vec![Seg {
                    start: max(o.start, from),
                    end: min(o.end, to),
                    user: &o.user_id,
                    source: SourceRef::Override(&o.id),
                }]);
            }
        }
        if tracks.is_empty() {
            return layer_track;
        }
        tracks.push(layer_track);
        let mut out = Vec::new();
        sweep(&tracks, &mut out);
        out
    }

    /// Where to look for the shift `on_call_at` returns, as (start, end, lowest layer that can
    /// matter): the span of the override or turn (clipped to its version) that wins at `at`. The
    /// shift cannot reach beyond it, and layers below the winner cannot cut it short.
    fn winner_extent(
        &self,
        at: DateTime<Utc>,
        is_active: &dyn Fn(&str) -> bool,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>, usize)> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end && is_active(&o.user_id))
        {
            return Some((o.start, o.end, usize::MAX));
        }
        let tz = self.time_zone;
        let (vs, ve, layers) = self.spans().find(|(s, e, _)| *s <= at && at < *e)?;
        layers.iter().enumerate().rev().find_map(|(index, layer)| {
            let (p, start, end) = layer.turn_at(tz, at)?;
            let active = layer.participants.get(p).is_some_and(|u| is_active(u));
            (active && layer.restriction_allows(tz, at))
                .then(|| (max(start, vs), min(end, ve), index))
        })
    }
}

/// Validation of user input; each error names what is wrong in words a manager understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown time zone '{0}'")]
    UnknownTimeZone(String),
    #[error("a layer needs at least one participant")]
    NoParticipants,
    #[error("'{0}' is not a time of day (HH:MM)")]
    BadTime(String),
    #[error("'{0}' is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("the rotation must be hourly, daily or weekly")]
    BadUnit,
    #[error("the rotation count must be between 1 and 365")]
    BadCount,
    #[error("'{0}' is not a weekday (mon, tue, ...)")]
    BadWeekday(String),
    #[error("the end must be after the start")]
    EndBeforeStart,
    #[error("this override overlaps another one from {start} to {end}")]
    OverlappingOverride { start: String, end: String },
}

/// An IANA zone name such as `Europe/London`, exactly as the database spells it.
pub fn parse_time_zone(s: &str) -> Result<Tz, ScheduleError> {
    let s = s.trim();
    s.parse::<Tz>()
        .map_err(|_| ScheduleError::UnknownTimeZone(s.to_owned()))
}

/// "09:00", "9:00", "23:59"; "24:00", "25:00", "9" refused.
pub fn parse_time_of_day(s: &str) -> Result<NaiveTime, ScheduleError> {
    let t = s.trim();
    let bad = || ScheduleError::BadTime(t.to_owned());
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&h.len()) || m.len() != 2 || !digits(h) || !digits(m) {
        return Err(bad());
    }
    let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) else {
        return Err(bad());
    };
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// "mon".."sun" or full names, case-insensitive.
pub fn parse_weekday(s: &str) -> Result<Weekday, ScheduleError> {
    let t = s.trim();
    let day = match t.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return Err(ScheduleError::BadWeekday(t.to_owned())),
    };
    Ok(day)
}

/// "2026-03-08".
pub fn parse_date(s: &str) -> Result<NaiveDate, ScheduleError> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| ScheduleError::BadDate(t.to_owned()))
}

/// [`RotationUnit::parse`] with the error a form shows.
pub fn parse_rotation_unit(s: &str) -> Result<RotationUnit, ScheduleError> {
    RotationUnit::parse(s).ok_or(ScheduleError::BadUnit)
}

/// Refuses an override that overlaps any of `existing` (touching ends are fine) or ends before/at its start.
///
/// An existing override with the same id is the stored copy of the one being edited, so it does
/// not count as a clash.
pub fn check_override(new: &Override, existing: &[Override]) -> Result<(), ScheduleError> {
    if new.end <= new.start {
        return Err(ScheduleError::EndBeforeStart);
    }
    match existing
        .iter()
        .find(|o| o.id != new.id && o.start < new.end && new.start < o.end)
    {
        Some(o) => Err(ScheduleError::OverlappingOverride {
            start: o.start.format("%Y-%m-%d %H:%M UTC").to_string(),
            end: o.end.format("%Y-%m-%d %H:%M UTC").to_string(),
        }),
        None => Ok(()),
    }
}

/// Local date + time in `tz` to UTC. A time that does not exist (spring-forward gap) moves forward to
/// the first instant after the gap; an ambiguous time (fall-back) takes the earlier instant.
pub fn local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => end_of_gap(tz, local),
    }
}

/// The first instant whose local time is at or after `local`, a local time the zone skips: the
/// moment the clocks jumped. Found by bisection because chrono-tz does not expose transitions.
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // No zone's offset comes near 36 hours, so the jump lies inside this bracket.
    const BRACKET_SECS: i64 = 36 * 3600;
    let guess = local.and_utc();
    let before = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .is_some_and(|t| t.with_timezone(&tz).naive_local() < local)
    };
    let (mut lo, mut hi) = (
        guess.timestamp() - BRACKET_SECS,
        guess.timestamp() + BRACKET_SECS,
    );
    // Transitions fall on whole seconds, so bisecting seconds finds the jump exactly.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(guess)
}

/// The local calendar date of `at`, without chrono's panic at the far ends of its range.
fn local_date(tz: Tz, at: DateTime<Utc>) -> Option<NaiveDate> {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset).map(|t| t.date())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Australia, Europe};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn time(s: &str) -> NaiveTime {
        parse_time_of_day(s).unwrap()
    }

    fn layer(
        name: &str,
        unit: RotationUnit,
        count: u32,
        start: &str,
        handoff: &str,
        people: &[&str],
    ) -> Layer {
        Layer {
            name: name.to_owned(),
            rotation: Rotation { unit, count },
            start: date(start),
            handoff: time(handoff),
            participants: people.iter().map(|p| (*p).to_owned()).collect(),
            restrictions: Vec::new(),
        }
    }

    fn restriction(days: &[Weekday], from: &str, to: &str) -> Restriction {
        Restriction {
            days: days.to_vec(),
            from: time(from),
            to: time(to),
        }
    }

    const WORKDAYS: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    fn schedule(tz: Tz, effective_from: &str, layers: Vec<Layer>) -> Schedule {
        Schedule {
            time_zone: tz,
            versions: vec![Version {
                effective_from: utc(effective_from),
                layers,
            }],
            overrides: Vec::new(),
        }
    }

    fn ov(id: &str, user: &str, start: &str, end: &str) -> Override {
        Override {
            id: id.to_owned(),
            user_id: user.to_owned(),
            start: utc(start),
            end: utc(end),
        }
    }

    fn everyone(_: &str) -> bool {
        true
    }

    /// (user, start, end) triples, for compact assertions.
    fn spans(shifts: &[Shift]) -> Vec<(&str, DateTime<Utc>, DateTime<Utc>)> {
        shifts
            .iter()
            .map(|s| (s.user_id.as_str(), s.start, s.end))
            .collect()
    }

    fn turn(layer: &Layer, tz: Tz, at: &str) -> (usize, DateTime<Utc>, DateTime<Utc>) {
        layer.turn_at(tz, utc(at)).unwrap()
    }

    // ---- local time ----

    #[test]
    fn local_to_utc_in_zones_without_dst() {
        assert_eq!(
            local_to_utc(Asia::Shanghai, date("2026-07-01"), time("09:00")),
            utc("2026-07-01T01:00:00Z")
        );
        assert_eq!(
            local_to_utc(Asia::Shanghai, date("2026-01-01"), time("09:00")),
            utc("2026-01-01T01:00:00Z")
        );
        assert_eq!(
            local_to_utc(Asia::Kolkata, date("2026-03-08"), time("09:00")),
            utc("2026-03-08T03:30:00Z")
        );
        assert_eq!(
            local_to_utc(Asia::Kolkata, date("2026-01-01"), time("02:00")),
            utc("2025-12-31T20:30:00Z")
        );
    }

    #[test]
    fn local_to_utc_moves_a_skipped_time_to_the_end_of_the_gap() {
        // New York 02:00 EST -> 03:00 EDT.
        assert_eq!(
            local_to_utc(America::New_York, date("2026-03-08"), time("02:30")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            local_to_utc(America::New_York, date("2026-03-08"), time("02:00")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            local_to_utc(America::New_York, date("2026-03-08"), time("03:00")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            local_to_utc(America::New_York, date("2026-03-08"), time("01:59")),
            utc("2026-03-08T06:59:00Z")
        );
        // London 01:00 GMT -> 02:00 BST.
        assert_eq!(
            local_to_utc(Europe::London, date("2026-03-29"), time("01:30")),
            utc("2026-03-29T01:00:00Z")
        );
        // Sydney 02:00 AEST -> 03:00 AEDT.
        assert_eq!(
            local_to_utc(Australia::Sydney, date("2026-10-04"), time("02:30")),
            utc("2026-10-03T16:00:00Z")
        );
    }

    #[test]
    fn local_to_utc_takes_the_earlier_of_a_repeated_time() {
        // New York 02:00 EDT -> 01:00 EST: 01:30 happens at 05:30Z and 06:30Z.
        assert_eq!(
            local_to_utc(America::New_York, date("2026-11-01"), time("01:30")),
            utc("2026-11-01T05:30:00Z")
        );
        // London 02:00 BST -> 01:00 GMT.
        assert_eq!(
            local_to_utc(Europe::London, date("2026-10-25"), time("01:30")),
            utc("2026-10-25T00:30:00Z")
        );
        // Sydney 03:00 AEDT -> 02:00 AEST.
        assert_eq!(
            local_to_utc(Australia::Sydney, date("2026-04-05"), time("02:30")),
            utc("2026-04-04T15:30:00Z")
        );
    }

    // ---- rotations ----

    /// A daily 09:00 hand-off around each 2026 DST change: (zone, day before, change day,
    /// UTC of the 09:00 hand-off on each, hours of the turn across the change).
    #[test]
    fn daily_handoff_stays_at_local_time_across_every_dst_change() {
        let cases = [
            (
                America::New_York,
                "2026-03-07",
                "2026-03-08",
                "2026-03-07T14:00:00Z",
                "2026-03-08T13:00:00Z",
                23,
            ),
            (
                America::New_York,
                "2026-10-31",
                "2026-11-01",
                "2026-10-31T13:00:00Z",
                "2026-11-01T14:00:00Z",
                25,
            ),
            (
                Europe::London,
                "2026-03-28",
                "2026-03-29",
                "2026-03-28T09:00:00Z",
                "2026-03-29T08:00:00Z",
                23,
            ),
            (
                Europe::London,
                "2026-10-24",
                "2026-10-25",
                "2026-10-24T08:00:00Z",
                "2026-10-25T09:00:00Z",
                25,
            ),
            (
                Australia::Sydney,
                "2026-04-04",
                "2026-04-05",
                "2026-04-03T22:00:00Z",
                "2026-04-04T23:00:00Z",
                25,
            ),
            (
                Australia::Sydney,
                "2026-10-03",
                "2026-10-04",
                "2026-10-02T23:00:00Z",
                "2026-10-03T22:00:00Z",
                23,
            ),
        ];
        for (tz, before, change, before_utc, change_utc, hours) in cases {
            let l = layer(
                "primary",
                RotationUnit::Daily,
                1,
                "2026-01-01",
                "09:00",
                &["ann", "bob"],
            );
            let (_, start, end) = l.turn_at(tz, utc(before_utc)).unwrap();
            assert_eq!(start, utc(before_utc), "{tz} {before}");
            assert_eq!(end, utc(change_utc), "{tz} {change}");
            assert_eq!((end - start).num_hours(), hours, "{tz} {change}");
            for t in [start, end] {
                assert_eq!(t.with_timezone(&tz).time(), time("09:00"), "{tz} {t}");
            }
            // The turns either side are ordinary days.
            let (_, s0, e0) = l.turn_at(tz, start - TimeDelta::minutes(1)).unwrap();
            assert_eq!(
                (s0, e0 - s0),
                (start - TimeDelta::hours(24), TimeDelta::hours(24))
            );
            let (_, s2, e2) = l.turn_at(tz, end).unwrap();
            assert_eq!((s2, e2 - s2), (end, TimeDelta::hours(24)));
            // And the shift across the change is one piece of 23 or 25 hours.
            let shifts = l.shifts(0, tz, start, end);
            assert_eq!(shifts.len(), 1);
            assert_eq!((shifts[0].end - shifts[0].start).num_hours(), hours);
        }
    }

    #[test]
    fn hourly_rotation_counts_elapsed_hours_so_the_local_handoff_moves() {
        let tz = America::New_York;
        let l = layer(
            "follow-the-sun",
            RotationUnit::Hourly,
            12,
            "2026-03-07",
            "08:00",
            &["ann", "bob"],
        );
        let starts: Vec<_> = (0..4)
            .map(|k| {
                l.turn_at(tz, utc("2026-03-07T13:00:00Z") + TimeDelta::hours(12 * k))
                    .unwrap()
            })
            .collect();
        assert_eq!(
            starts[0],
            (0, utc("2026-03-07T13:00:00Z"), utc("2026-03-08T01:00:00Z"))
        );
        assert_eq!(
            starts[1],
            (1, utc("2026-03-08T01:00:00Z"), utc("2026-03-08T13:00:00Z"))
        );
        assert_eq!(
            starts[2],
            (0, utc("2026-03-08T13:00:00Z"), utc("2026-03-09T01:00:00Z"))
        );
        // 08:00 EST before the change, 09:00 EDT after.
        assert_eq!(starts[0].1.with_timezone(&tz).time(), time("08:00"));
        assert_eq!(starts[2].1.with_timezone(&tz).time(), time("09:00"));
        assert_eq!(starts[3].1.with_timezone(&tz).time(), time("21:00"));

        let london = Europe::London;
        let l = layer(
            "follow-the-sun",
            RotationUnit::Hourly,
            12,
            "2026-10-24",
            "08:00",
            &["ann", "bob"],
        );
        let (_, s, e) = turn(&l, london, "2026-10-25T08:00:00Z");
        assert_eq!(
            (s, e),
            (utc("2026-10-25T07:00:00Z"), utc("2026-10-25T19:00:00Z"))
        );
        assert_eq!(s.with_timezone(&london).time(), time("07:00"));
        assert_eq!(e - s, TimeDelta::hours(12));
    }

    #[test]
    fn handoff_in_the_spring_forward_gap_moves_to_three() {
        let tz = America::New_York;
        let l = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-03-07",
            "02:30",
            &["ann", "bob"],
        );
        assert_eq!(
            turn(&l, tz, "2026-03-07T12:00:00Z"),
            (0, utc("2026-03-07T07:30:00Z"), utc("2026-03-08T07:00:00Z"))
        );
        assert_eq!(
            turn(&l, tz, "2026-03-08T12:00:00Z"),
            (1, utc("2026-03-08T07:00:00Z"), utc("2026-03-09T06:30:00Z"))
        );
        assert_eq!(
            utc("2026-03-08T07:00:00Z").with_timezone(&tz).time(),
            time("03:00")
        );
        // Back to 02:30 the next day.
        assert_eq!(
            utc("2026-03-09T06:30:00Z").with_timezone(&tz).time(),
            time("02:30")
        );
    }

    #[test]
    fn handoff_at_a_repeated_time_takes_the_first_one() {
        let tz = America::New_York;
        let l = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-10-31",
            "01:30",
            &["ann", "bob"],
        );
        let (_, s, e) = turn(&l, tz, "2026-11-01T05:00:00Z");
        assert_eq!(
            (s, e),
            (utc("2026-10-31T05:30:00Z"), utc("2026-11-01T05:30:00Z"))
        );
        let (p, s, e) = turn(&l, tz, "2026-11-01T06:00:00Z");
        assert_eq!(
            (p, s, e),
            (1, utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z"))
        );
        assert_eq!(e - s, TimeDelta::hours(25));
    }

    #[test]
    fn weekly_rotation_cycles_through_three_people() {
        let tz = Asia::Shanghai;
        // 2026-01-05 is a Monday; 10:00 CST = 02:00Z.
        let l = layer(
            "primary",
            RotationUnit::Weekly,
            1,
            "2026-01-05",
            "10:00",
            &["ann", "bob", "cat"],
        );
        assert_eq!(l.turn_at(tz, utc("2026-01-05T01:59:59Z")), None);
        assert_eq!(
            turn(&l, tz, "2026-01-05T02:00:00Z"),
            (0, utc("2026-01-05T02:00:00Z"), utc("2026-01-12T02:00:00Z"))
        );
        assert_eq!(turn(&l, tz, "2026-01-12T01:59:59Z").0, 0);
        assert_eq!(turn(&l, tz, "2026-01-12T02:00:00Z").0, 1);
        assert_eq!(turn(&l, tz, "2026-01-19T02:00:00Z").0, 2);
        assert_eq!(turn(&l, tz, "2026-01-26T02:00:00Z").0, 0);
        // 51 weeks on: 51 % 3 == 0.
        assert_eq!(
            turn(&l, tz, "2026-12-28T02:00:00Z"),
            (0, utc("2026-12-28T02:00:00Z"), utc("2027-01-04T02:00:00Z"))
        );
        let users: Vec<_> = l
            .shifts(
                0,
                tz,
                utc("2026-01-01T00:00:00Z"),
                utc("2026-02-09T02:00:00Z"),
            )
            .into_iter()
            .map(|s| s.user_id)
            .collect();
        assert_eq!(users, ["ann", "bob", "cat", "ann", "bob"]);
    }

    #[test]
    fn multi_day_turns_in_a_half_hour_zone() {
        let tz = Asia::Kolkata;
        let l = layer(
            "primary",
            RotationUnit::Daily,
            2,
            "2026-06-01",
            "09:00",
            &["ann", "bob"],
        );
        assert_eq!(
            turn(&l, tz, "2026-06-01T03:30:00Z"),
            (0, utc("2026-06-01T03:30:00Z"), utc("2026-06-03T03:30:00Z"))
        );
        assert_eq!(
            turn(&l, tz, "2026-06-04T00:00:00Z"),
            (1, utc("2026-06-03T03:30:00Z"), utc("2026-06-05T03:30:00Z"))
        );
        assert_eq!(turn(&l, tz, "2026-06-05T03:29:59Z").0, 1);
        assert_eq!(turn(&l, tz, "2026-06-05T03:30:00Z").0, 0);
        let l = layer(
            "hourly",
            RotationUnit::Hourly,
            5,
            "2026-06-01",
            "09:00",
            &["ann", "bob", "cat"],
        );
        assert_eq!(
            turn(&l, tz, "2026-06-02T00:00:00Z"),
            (1, utc("2026-06-01T23:30:00Z"), utc("2026-06-02T04:30:00Z"))
        );
    }

    #[test]
    fn the_same_person_may_appear_twice_in_the_order() {
        let tz = Asia::Shanghai;
        let l = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "00:00",
            &["ann", "bob", "ann"],
        );
        let users: Vec<_> = l
            .shifts(
                0,
                tz,
                utc("2025-12-31T16:00:00Z"),
                utc("2026-01-05T16:00:00Z"),
            )
            .into_iter()
            .map(|s| s.user_id)
            .collect();
        assert_eq!(users, ["ann", "bob", "ann", "ann", "bob"]);
    }

    #[test]
    fn no_turn_before_the_first_handoff_or_without_participants() {
        let tz = Europe::London;
        let l = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-05-01",
            "09:00",
            &["ann"],
        );
        assert_eq!(l.turn_at(tz, utc("2026-05-01T07:59:59Z")), None);
        assert!(l.turn_at(tz, utc("2026-05-01T08:00:00Z")).is_some());
        assert!(
            l.shifts(
                0,
                tz,
                utc("2026-04-01T00:00:00Z"),
                utc("2026-05-01T08:00:00Z")
            )
            .is_empty()
        );
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-04-01T00:00:00Z"),
            utc("2026-05-01T12:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [(
                "ann",
                utc("2026-05-01T08:00:00Z"),
                utc("2026-05-01T12:00:00Z")
            )]
        );
        let empty = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-05-01",
            "09:00",
            &[],
        );
        assert_eq!(empty.turn_at(tz, utc("2026-06-01T00:00:00Z")), None);
        assert!(
            empty
                .shifts(
                    0,
                    tz,
                    utc("2026-05-01T00:00:00Z"),
                    utc("2026-06-01T00:00:00Z")
                )
                .is_empty()
        );
    }

    #[test]
    fn turn_lookup_far_from_the_start_is_exact() {
        let tz = Australia::Sydney;
        let l = layer(
            "primary",
            RotationUnit::Weekly,
            2,
            "2020-01-06",
            "09:00",
            &["a", "b", "c", "d", "e"],
        );
        // 2026-10-05 is 352 weeks = 176 turns after 2020-01-06; 176 % 5 == 1.
        let (p, s, e) = turn(&l, tz, "2026-10-10T00:00:00Z");
        assert_eq!(
            (p, s, e),
            (1, utc("2026-10-04T22:00:00Z"), utc("2026-10-18T22:00:00Z"))
        );
    }

    // ---- restrictions ----

    #[test]
    fn business_hours_stay_at_local_time_across_the_clock_change() {
        let tz = Europe::London;
        let mut l = layer(
            "daytime",
            RotationUnit::Weekly,
            1,
            "2026-03-23",
            "09:00",
            &["ann", "bob"],
        );
        l.restrictions = vec![restriction(&WORKDAYS, "09:00", "17:00")];
        let shifts = l.shifts(
            1,
            tz,
            utc("2026-03-23T00:00:00Z"),
            utc("2026-04-06T00:00:00Z"),
        );
        let mut expected = Vec::new();
        for d in 23..=27 {
            expected.push((
                "ann",
                utc(&format!("2026-03-{d}T09:00:00Z")),
                utc(&format!("2026-03-{d}T17:00:00Z")),
            ));
        }
        for d in ["03-30", "03-31", "04-01", "04-02", "04-03"] {
            expected.push((
                "bob",
                utc(&format!("2026-{d}T08:00:00Z")),
                utc(&format!("2026-{d}T16:00:00Z")),
            ));
        }
        assert_eq!(spans(&shifts), expected);
        assert!(shifts.iter().all(|s| s.source
            == Source::Layer {
                index: 1,
                name: "daytime".into()
            }));
    }

    #[test]
    fn night_window_crosses_midnight_and_belongs_to_its_start_day() {
        let tz = America::New_York;
        let mut l = layer(
            "nights",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "12:00",
            &["ann", "bob"],
        );
        l.restrictions = vec![restriction(&[Weekday::Mon], "22:00", "07:00")];
        // Monday 2026-01-05 22:00 EST to Tuesday 07:00 EST, all inside turn 4 (ann).
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-01-01T00:00:00Z"),
            utc("2026-01-15T00:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "ann",
                    utc("2026-01-06T03:00:00Z"),
                    utc("2026-01-06T12:00:00Z")
                ),
                (
                    "bob",
                    utc("2026-01-13T03:00:00Z"),
                    utc("2026-01-13T12:00:00Z")
                ),
            ]
        );
        // A window already open when the range starts is clipped, not lost.
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-01-06T05:00:00Z"),
            utc("2026-01-07T00:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [(
                "ann",
                utc("2026-01-06T05:00:00Z"),
                utc("2026-01-06T12:00:00Z")
            )]
        );
    }

    #[test]
    fn night_window_over_the_spring_change_is_an_hour_shorter() {
        let tz = America::New_York;
        let mut l = layer(
            "nights",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "12:00",
            &["ann"],
        );
        l.restrictions = vec![restriction(&[], "22:00", "07:00")];
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-03-07T12:00:00Z"),
            utc("2026-03-09T00:00:00Z"),
        );
        // Saturday 22:00 EST = 03:00Z; Sunday 07:00 EDT = 11:00Z.
        assert_eq!(
            spans(&shifts),
            [(
                "ann",
                utc("2026-03-08T03:00:00Z"),
                utc("2026-03-08T11:00:00Z")
            )]
        );
    }

    #[test]
    fn a_window_is_split_where_the_turn_changes_hands() {
        let tz = Asia::Shanghai;
        let mut l = layer(
            "nights",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "00:00",
            &["ann", "bob"],
        );
        l.restrictions = vec![restriction(&[], "22:00", "06:00")];
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-01-01T12:00:00Z"),
            utc("2026-01-02T12:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "ann",
                    utc("2026-01-01T14:00:00Z"),
                    utc("2026-01-01T16:00:00Z")
                ),
                (
                    "bob",
                    utc("2026-01-01T16:00:00Z"),
                    utc("2026-01-01T22:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn equal_from_and_to_is_a_whole_day_and_touching_days_join() {
        let tz = Europe::London;
        let mut l = layer(
            "weekend",
            RotationUnit::Weekly,
            1,
            "2026-01-05",
            "09:00",
            &["ann", "bob"],
        );
        l.restrictions = vec![restriction(&[Weekday::Sat, Weekday::Sun], "00:00", "00:00")];
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-01-05T00:00:00Z"),
            utc("2026-01-19T00:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "ann",
                    utc("2026-01-10T00:00:00Z"),
                    utc("2026-01-12T00:00:00Z")
                ),
                (
                    "bob",
                    utc("2026-01-17T00:00:00Z"),
                    utc("2026-01-19T00:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn overlapping_restrictions_are_a_union() {
        let tz = Asia::Shanghai;
        let mut l = layer(
            "split",
            RotationUnit::Weekly,
            1,
            "2026-01-05",
            "00:00",
            &["ann"],
        );
        l.restrictions = vec![
            restriction(&[Weekday::Mon], "09:00", "13:00"),
            restriction(&[Weekday::Mon], "12:00", "18:00"),
            restriction(&[Weekday::Mon], "20:00", "21:00"),
        ];
        let shifts = l.shifts(
            0,
            tz,
            utc("2026-01-05T00:00:00Z"),
            utc("2026-01-06T00:00:00Z"),
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "ann",
                    utc("2026-01-05T01:00:00Z"),
                    utc("2026-01-05T10:00:00Z")
                ),
                (
                    "ann",
                    utc("2026-01-05T12:00:00Z"),
                    utc("2026-01-05T13:00:00Z")
                ),
            ]
        );
    }

    // ---- layering, overrides, deactivation ----

    /// London: a 24/7 daily rotation at the bottom, business hours on top.
    fn two_layer_schedule() -> Schedule {
        let bottom = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "09:00",
            &["pat", "pia"],
        );
        let mut top = layer(
            "daytime",
            RotationUnit::Weekly,
            1,
            "2026-01-05",
            "09:00",
            &["dan"],
        );
        top.restrictions = vec![restriction(&WORKDAYS, "09:00", "17:00")];
        schedule(Europe::London, "2026-01-01T00:00:00Z", vec![bottom, top])
    }

    #[test]
    fn the_highest_layer_with_someone_on_call_wins() {
        let s = two_layer_schedule();
        let shifts = s.final_shifts(
            utc("2026-01-05T00:00:00Z"),
            utc("2026-01-06T00:00:00Z"),
            &everyone,
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "pia",
                    utc("2026-01-05T00:00:00Z"),
                    utc("2026-01-05T09:00:00Z")
                ),
                (
                    "dan",
                    utc("2026-01-05T09:00:00Z"),
                    utc("2026-01-05T17:00:00Z")
                ),
                (
                    "pat",
                    utc("2026-01-05T17:00:00Z"),
                    utc("2026-01-06T00:00:00Z")
                ),
            ]
        );
        assert_eq!(
            shifts[1].source,
            Source::Layer {
                index: 1,
                name: "daytime".into()
            }
        );
        assert_eq!(
            shifts[2].source,
            Source::Layer {
                index: 0,
                name: "primary".into()
            }
        );
    }

    #[test]
    fn an_override_wins_over_every_layer() {
        let mut s = two_layer_schedule();
        s.overrides = vec![ov(
            "o1",
            "oli",
            "2026-01-05T12:00:00Z",
            "2026-01-05T14:00:00Z",
        )];
        let shifts = s.final_shifts(
            utc("2026-01-05T00:00:00Z"),
            utc("2026-01-06T00:00:00Z"),
            &everyone,
        );
        assert_eq!(
            spans(&shifts),
            [
                (
                    "pia",
                    utc("2026-01-05T00:00:00Z"),
                    utc("2026-01-05T09:00:00Z")
                ),
                (
                    "dan",
                    utc("2026-01-05T09:00:00Z"),
                    utc("2026-01-05T12:00:00Z")
                ),
                (
                    "oli",
                    utc("2026-01-05T12:00:00Z"),
                    utc("2026-01-05T14:00:00Z")
                ),
                (
                    "dan",
                    utc("2026-01-05T14:00:00Z"),
                    utc("2026-01-05T17:00:00Z")
                ),
                (
                    "pat",
                    utc("2026-01-05T17:00:00Z"),
                    utc("2026-01-06T00:00:00Z")
                ),
            ]
        );
        assert_eq!(shifts[2].source, Source::Override { id: "o1".into() });
        // An override also covers time no layer does.
        let mut s = schedule(Europe::London, "2026-01-01T00:00:00Z", vec![]);
        s.overrides = vec![ov(
            "o1",
            "oli",
            "2026-01-05T12:00:00Z",
            "2026-01-05T14:00:00Z",
        )];
        let shifts = s.final_shifts(
            utc("2025-12-01T00:00:00Z"),
            utc("2026-02-01T00:00:00Z"),
            &everyone,
        );
        assert_eq!(
            spans(&shifts),
            [(
                "oli",
                utc("2026-01-05T12:00:00Z"),
                utc("2026-01-05T14:00:00Z")
            )]
        );
    }

    #[test]
    fn an_override_for_a_deactivated_user_is_ignored() {
        let mut s = two_layer_schedule();
        s.overrides = vec![ov(
            "o1",
            "gone",
            "2026-01-05T12:00:00Z",
            "2026-01-05T14:00:00Z",
        )];
        let active = |u: &str| u != "gone";
        let shifts = s.final_shifts(
            utc("2026-01-05T09:00:00Z"),
            utc("2026-01-05T17:00:00Z"),
            &active,
        );
        assert_eq!(
            spans(&shifts),
            [(
                "dan",
                utc("2026-01-05T09:00:00Z"),
                utc("2026-01-05T17:00:00Z")
            )]
        );
        assert_eq!(
            s.on_call_at(utc("2026-01-05T13:00:00Z"), &active)
                .unwrap()
                .user_id,
            "dan"
        );
    }

    #[test]
    fn a_deactivated_participant_falls_through_to_the_layer_below() {
        let s = two_layer_schedule();
        let active = |u: &str| u != "dan";
        let shifts = s.final_shifts(
            utc("2026-01-05T00:00:00Z"),
            utc("2026-01-06T00:00:00Z"),
            &active,
        );
        // pia's turn ends at 09:00 and pat's runs on through the day: one merged shift.
        assert_eq!(
            spans(&shifts),
            [
                (
                    "pia",
                    utc("2026-01-05T00:00:00Z"),
                    utc("2026-01-05T09:00:00Z")
                ),
                (
                    "pat",
                    utc("2026-01-05T09:00:00Z"),
                    utc("2026-01-06T00:00:00Z")
                ),
            ]
        );
        assert!(
            s.gaps(
                utc("2026-01-05T00:00:00Z"),
                utc("2026-01-06T00:00:00Z"),
                &active
            )
            .is_empty()
        );
        assert_eq!(
            s.on_call_at(utc("2026-01-05T10:00:00Z"), &active)
                .unwrap()
                .user_id,
            "pat"
        );
    }

    #[test]
    fn a_deactivated_participant_with_nobody_below_leaves_a_gap() {
        let s = schedule(
            Asia::Shanghai,
            "2026-01-01T00:00:00Z",
            vec![layer(
                "primary",
                RotationUnit::Daily,
                1,
                "2026-01-01",
                "08:00",
                &["ann", "bob"],
            )],
        );
        let active = |u: &str| u != "bob";
        // Turn 1 (bob) runs 2026-01-02 00:00Z to 2026-01-03 00:00Z.
        let (from, to) = (utc("2026-01-01T12:00:00Z"), utc("2026-01-04T12:00:00Z"));
        let shifts = s.final_shifts(from, to, &active);
        assert_eq!(
            spans(&shifts),
            [
                (
                    "ann",
                    utc("2026-01-01T12:00:00Z"),
                    utc("2026-01-02T00:00:00Z")
                ),
                (
                    "ann",
                    utc("2026-01-03T00:00:00Z"),
                    utc("2026-01-04T00:00:00Z")
                ),
            ]
        );
        assert_eq!(
            s.gaps(from, to, &active),
            [
                Gap {
                    start: utc("2026-01-02T00:00:00Z"),
                    end: utc("2026-01-03T00:00:00Z")
                },
                Gap {
                    start: utc("2026-01-04T00:00:00Z"),
                    end: to
                },
            ]
        );
        assert_eq!(s.on_call_at(utc("2026-01-02T06:00:00Z"), &active), None);
    }

    #[test]
    fn consecutive_turns_of_one_person_merge_in_final_shifts_only() {
        let tz = Europe::London;
        let l = layer(
            "solo",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "09:00",
            &["ann"],
        );
        let (from, to) = (utc("2026-01-02T00:00:00Z"), utc("2026-01-05T00:00:00Z"));
        assert_eq!(l.shifts(0, tz, from, to).len(), 4);
        let s = schedule(tz, "2026-01-01T00:00:00Z", vec![l]);
        assert_eq!(
            spans(&s.final_shifts(from, to, &everyone)),
            [("ann", from, to)]
        );
    }

    #[test]
    fn nobody_before_the_first_version() {
        let s = two_layer_schedule();
        let (from, to) = (utc("2025-12-31T00:00:00Z"), utc("2026-01-01T12:00:00Z"));
        let shifts = s.final_shifts(from, to, &everyone);
        assert_eq!(spans(&shifts), [("pat", utc("2026-01-01T09:00:00Z"), to)]);
        assert_eq!(
            s.gaps(from, to, &everyone),
            [Gap {
                start: from,
                end: utc("2026-01-01T09:00:00Z")
            }]
        );
    }

    // ---- versions ----

    #[test]
    fn an_edit_changes_the_future_but_not_the_past() {
        let tz = America::New_York;
        let v1 = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "09:00",
            &["ann", "bob"],
        );
        let mut s = schedule(tz, "2026-01-01T00:00:00Z", vec![v1]);
        let past = (utc("2026-01-01T00:00:00Z"), utc("2026-02-01T05:00:00Z"));
        let before = s.final_shifts(past.0, past.1, &everyone);
        assert_eq!(before.len(), 31);
        let future = (utc("2026-02-01T05:00:00Z"), utc("2026-02-10T00:00:00Z"));
        let future_before = s.final_shifts(future.0, future.1, &everyone);

        // From Feb 1 00:00 EST, cat takes over on a weekly rotation already running since January.
        let v2 = layer(
            "primary",
            RotationUnit::Weekly,
            1,
            "2026-01-01",
            "09:00",
            &["cat"],
        );
        s.versions.push(Version {
            effective_from: utc("2026-02-01T05:00:00Z"),
            layers: vec![v2],
        });
        assert_eq!(s.final_shifts(past.0, past.1, &everyone), before);
        assert_ne!(s.final_shifts(future.0, future.1, &everyone), future_before);
        let after = s.final_shifts(
            utc("2026-01-31T12:00:00Z"),
            utc("2026-02-10T00:00:00Z"),
            &everyone,
        );
        assert_eq!(
            spans(&after),
            [
                (
                    "bob",
                    utc("2026-01-31T12:00:00Z"),
                    utc("2026-01-31T14:00:00Z")
                ),
                (
                    "ann",
                    utc("2026-01-31T14:00:00Z"),
                    utc("2026-02-01T05:00:00Z")
                ),
                (
                    "cat",
                    utc("2026-02-01T05:00:00Z"),
                    utc("2026-02-10T00:00:00Z")
                ),
            ]
        );
        // The shift cut by the edit ends at the edit, seen from either side.
        let ann = s
            .on_call_at(utc("2026-02-01T04:00:00Z"), &everyone)
            .unwrap();
        assert_eq!(
            (ann.user_id.as_str(), ann.start, ann.end),
            (
                "ann",
                utc("2026-01-31T14:00:00Z"),
                utc("2026-02-01T05:00:00Z")
            )
        );
        let cat = s
            .on_call_at(utc("2026-02-01T06:00:00Z"), &everyone)
            .unwrap();
        assert_eq!(
            (cat.start, cat.end),
            (utc("2026-02-01T05:00:00Z"), utc("2026-02-05T14:00:00Z"))
        );

        // A version without layers: nobody, except overrides.
        s.versions.push(Version {
            effective_from: utc("2026-03-01T05:00:00Z"),
            layers: vec![],
        });
        s.overrides.push(ov(
            "o1",
            "oli",
            "2026-03-02T00:00:00Z",
            "2026-03-03T00:00:00Z",
        ));
        let march = s.final_shifts(
            utc("2026-02-28T00:00:00Z"),
            utc("2026-03-05T00:00:00Z"),
            &everyone,
        );
        assert_eq!(
            spans(&march),
            [
                (
                    "cat",
                    utc("2026-02-28T00:00:00Z"),
                    utc("2026-03-01T05:00:00Z")
                ),
                (
                    "oli",
                    utc("2026-03-02T00:00:00Z"),
                    utc("2026-03-03T00:00:00Z")
                ),
            ]
        );
        assert_eq!(s.on_call_at(utc("2026-03-04T00:00:00Z"), &everyone), None);
        assert_eq!(s.final_shifts(past.0, past.1, &everyone), before);
    }

    #[test]
    fn a_new_layer_starting_after_the_edit_leaves_a_gap_until_its_first_handoff() {
        let tz = Europe::London;
        let mut s = schedule(
            tz,
            "2026-01-01T00:00:00Z",
            vec![layer(
                "a",
                RotationUnit::Daily,
                1,
                "2026-01-01",
                "09:00",
                &["ann"],
            )],
        );
        s.versions.push(Version {
            effective_from: utc("2026-02-01T00:00:00Z"),
            layers: vec![layer(
                "b",
                RotationUnit::Daily,
                1,
                "2026-02-01",
                "09:00",
                &["bob"],
            )],
        });
        let (from, to) = (utc("2026-01-31T20:00:00Z"), utc("2026-02-01T12:00:00Z"));
        assert_eq!(
            spans(&s.final_shifts(from, to, &everyone)),
            [
                ("ann", from, utc("2026-02-01T00:00:00Z")),
                ("bob", utc("2026-02-01T09:00:00Z"), to)
            ]
        );
        assert_eq!(
            s.gaps(from, to, &everyone),
            [Gap {
                start: utc("2026-02-01T00:00:00Z"),
                end: utc("2026-02-01T09:00:00Z")
            }]
        );
    }

    // ---- on_call_at ----

    #[test]
    fn on_call_at_returns_the_full_shift() {
        let mut s = two_layer_schedule();
        s.overrides = vec![ov(
            "o1",
            "oli",
            "2026-01-05T12:00:00Z",
            "2026-01-05T14:00:00Z",
        )];
        let at = |t: &str| {
            let sh = s.on_call_at(utc(t), &everyone).unwrap();
            (sh.user_id, sh.start, sh.end)
        };
        let full = |u: &str, a: &str, b: &str| (u.to_owned(), utc(a), utc(b));
        assert_eq!(
            at("2026-01-05T13:00:00Z"),
            full("oli", "2026-01-05T12:00:00Z", "2026-01-05T14:00:00Z")
        );
        assert_eq!(
            at("2026-01-05T10:00:00Z"),
            full("dan", "2026-01-05T09:00:00Z", "2026-01-05T12:00:00Z")
        );
        assert_eq!(
            at("2026-01-05T16:59:59Z"),
            full("dan", "2026-01-05T14:00:00Z", "2026-01-05T17:00:00Z")
        );
        // pat's turn runs to Tuesday 09:00, when dan's day starts.
        assert_eq!(
            at("2026-01-05T20:00:00Z"),
            full("pat", "2026-01-05T17:00:00Z", "2026-01-06T09:00:00Z")
        );
        // Friday evening to Saturday 09:00 is the rest of pat's turn; nothing above it at the weekend.
        assert_eq!(
            at("2026-01-10T03:00:00Z"),
            full("pat", "2026-01-09T17:00:00Z", "2026-01-10T09:00:00Z")
        );
        assert_eq!(
            at("2026-01-10T12:00:00Z"),
            full("pia", "2026-01-10T09:00:00Z", "2026-01-11T09:00:00Z")
        );
        assert_eq!(
            at("2026-01-05T08:59:59Z"),
            full("pia", "2026-01-04T09:00:00Z", "2026-01-05T09:00:00Z")
        );
        let sh = s
            .on_call_at(utc("2026-01-05T13:00:00Z"), &everyone)
            .unwrap();
        assert_eq!(sh.source, Source::Override { id: "o1".into() });
    }

    #[test]
    fn on_call_at_is_none_before_anyone_starts() {
        let s = two_layer_schedule();
        assert_eq!(s.on_call_at(utc("2026-01-01T08:59:59Z"), &everyone), None);
        assert_eq!(s.on_call_at(utc("2020-01-01T00:00:00Z"), &everyone), None);
        let empty = Schedule {
            time_zone: Tz::UTC,
            versions: vec![],
            overrides: vec![],
        };
        assert_eq!(
            empty.on_call_at(utc("2026-01-01T00:00:00Z"), &everyone),
            None
        );
        assert!(
            empty
                .final_shifts(
                    utc("2026-01-01T00:00:00Z"),
                    utc("2026-01-02T00:00:00Z"),
                    &everyone
                )
                .is_empty()
        );
    }

    /// A realistic schedule: weekly 24/7 rotation, a weekend layer and a business-hours layer on
    /// top, 20 overrides.
    fn busy_schedule() -> Schedule {
        let primary = layer(
            "primary",
            RotationUnit::Weekly,
            1,
            "2025-06-02",
            "09:00",
            &["a", "b", "c", "d"],
        );
        let mut weekend = layer(
            "weekend",
            RotationUnit::Daily,
            1,
            "2025-06-02",
            "09:00",
            &["e", "f", "g"],
        );
        weekend.restrictions = vec![restriction(&[Weekday::Sat, Weekday::Sun], "00:00", "00:00")];
        let mut day = layer(
            "daytime",
            RotationUnit::Daily,
            1,
            "2025-06-02",
            "09:00",
            &["h", "i"],
        );
        day.restrictions = vec![restriction(&WORKDAYS, "09:00", "17:00")];
        let mut s = schedule(
            Europe::London,
            "2025-06-01T00:00:00Z",
            vec![primary, weekend, day],
        );
        s.overrides = (0..20)
            .map(|i| {
                let start = utc("2026-01-03T10:00:00Z") + TimeDelta::days(17 * i);
                Override {
                    id: format!("o{i}"),
                    user_id: "z".into(),
                    start,
                    end: start + TimeDelta::hours(6),
                }
            })
            .collect();
        s
    }

    #[test]
    #[ignore = "timing; run with --release --ignored --nocapture"]
    fn on_call_at_timing() {
        let s = busy_schedule();
        let base = utc("2026-01-01T00:00:00Z");
        // Spread over a year and every hour of the week, so each layer and override gets its turn.
        let instants: Vec<_> = (0..100_000i64)
            .map(|i| base + TimeDelta::seconds(i * 317))
            .collect();
        let started = std::time::Instant::now();
        let named = instants
            .iter()
            .filter(|at| s.on_call_at(**at, &everyone).is_some())
            .count();
        let mean = started.elapsed() / u32::try_from(instants.len()).unwrap();
        assert_eq!(named, instants.len());
        let mut each: Vec<_> = instants
            .iter()
            .map(|at| {
                let t = std::time::Instant::now();
                std::hint::black_box(s.on_call_at(*at, &everyone));
                t.elapsed()
            })
            .collect();
        each.sort();
        let pct = |p: usize| each[each.len() * p / 100 - 1];
        println!(
            "on_call_at over {} calls: mean {mean:?}, p50 {:?}, p99 {:?}, max {:?}",
            instants.len(),
            pct(50),
            pct(99),
            pct(100)
        );
    }

    // ---- validation ----

    #[test]
    fn time_zones_are_checked() {
        assert_eq!(parse_time_zone("Europe/London"), Ok(Europe::London));
        assert_eq!(parse_time_zone(" Asia/Kolkata "), Ok(Asia::Kolkata));
        assert_eq!(
            parse_time_zone("Mars/Olympus"),
            Err(ScheduleError::UnknownTimeZone("Mars/Olympus".into()))
        );
        assert_eq!(
            parse_time_zone(""),
            Err(ScheduleError::UnknownTimeZone(String::new()))
        );
        assert_eq!(
            ScheduleError::UnknownTimeZone("Mars/Olympus".into()).to_string(),
            "unknown time zone 'Mars/Olympus'"
        );
    }

    #[test]
    fn times_of_day_are_checked() {
        assert_eq!(
            parse_time_of_day("09:00"),
            Ok(NaiveTime::from_hms_opt(9, 0, 0).unwrap())
        );
        assert_eq!(
            parse_time_of_day("9:00"),
            Ok(NaiveTime::from_hms_opt(9, 0, 0).unwrap())
        );
        assert_eq!(
            parse_time_of_day("23:59"),
            Ok(NaiveTime::from_hms_opt(23, 59, 0).unwrap())
        );
        assert_eq!(parse_time_of_day("00:00"), Ok(NaiveTime::MIN));
        for bad in [
            "24:00", "25:00", "9", "", "12:60", "12:5", "123:00", "-1:00", "+9:00", "ab:cd",
            "09:00:00",
        ] {
            assert_eq!(
                parse_time_of_day(bad),
                Err(ScheduleError::BadTime(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_time_of_day("25:00").unwrap_err().to_string(),
            "'25:00' is not a time of day (HH:MM)"
        );
    }

    #[test]
    fn weekdays_dates_and_units_are_checked() {
        assert_eq!(parse_weekday("mon"), Ok(Weekday::Mon));
        assert_eq!(parse_weekday("SUN"), Ok(Weekday::Sun));
        assert_eq!(parse_weekday("Wednesday"), Ok(Weekday::Wed));
        assert_eq!(
            parse_weekday("mo"),
            Err(ScheduleError::BadWeekday("mo".into()))
        );
        assert_eq!(
            parse_date("2026-03-08"),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap())
        );
        assert_eq!(
            parse_date("2026-02-30"),
            Err(ScheduleError::BadDate("2026-02-30".into()))
        );
        assert_eq!(
            parse_date("08/03/2026"),
            Err(ScheduleError::BadDate("08/03/2026".into()))
        );
        for u in RotationUnit::ALL {
            assert_eq!(RotationUnit::parse(u.as_str()), Some(u));
            assert_eq!(
                serde_json::to_string(&u).unwrap(),
                format!("\"{}\"", u.as_str())
            );
        }
        assert_eq!(RotationUnit::parse(" Weekly "), Some(RotationUnit::Weekly));
        assert_eq!(parse_rotation_unit("monthly"), Err(ScheduleError::BadUnit));
        assert_eq!(
            Rotation::new(RotationUnit::Daily, 0),
            Err(ScheduleError::BadCount)
        );
        assert_eq!(
            Rotation::new(RotationUnit::Daily, 366),
            Err(ScheduleError::BadCount)
        );
        assert_eq!(
            Rotation::new(RotationUnit::Daily, 365).map(|r| r.count),
            Ok(365)
        );
    }

    #[test]
    fn a_layer_needs_participants_and_a_sane_count() {
        let mut l = layer(
            "primary",
            RotationUnit::Daily,
            1,
            "2026-01-01",
            "09:00",
            &[],
        );
        assert_eq!(l.validate(), Err(ScheduleError::NoParticipants));
        assert_eq!(
            l.validate().unwrap_err().to_string(),
            "a layer needs at least one participant"
        );
        l.participants = vec!["  ".into()];
        assert_eq!(l.validate(), Err(ScheduleError::NoParticipants));
        l.participants = vec!["ann".into()];
        assert_eq!(l.validate(), Ok(()));
        l.rotation.count = 0;
        assert_eq!(l.validate(), Err(ScheduleError::BadCount));
    }

    #[test]
    fn a_zero_count_built_by_hand_does_not_divide_by_zero() {
        let l = layer(
            "primary",
            RotationUnit::Hourly,
            0,
            "2026-01-01",
            "09:00",
            &["ann", "bob"],
        );
        assert_eq!(
            turn(&l, Tz::UTC, "2026-01-01T10:30:00Z"),
            (1, utc("2026-01-01T10:00:00Z"), utc("2026-01-01T11:00:00Z"))
        );
    }

    #[test]
    fn overrides_must_not_overlap_and_must_end_after_they_start() {
        let existing = vec![
            ov("o1", "ann", "2026-01-05T12:00:00Z", "2026-01-05T14:00:00Z"),
            ov("o2", "bob", "2026-01-06T12:00:00Z", "2026-01-06T14:00:00Z"),
        ];
        let new = ov("n", "cat", "2026-01-05T13:00:00Z", "2026-01-05T15:00:00Z");
        let err = check_override(&new, &existing).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::OverlappingOverride {
                start: "2026-01-05 12:00 UTC".into(),
                end: "2026-01-05 14:00 UTC".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "this override overlaps another one from 2026-01-05 12:00 UTC to 2026-01-05 14:00 UTC"
        );
        let inside = ov("n", "cat", "2026-01-06T12:30:00Z", "2026-01-06T13:00:00Z");
        assert!(check_override(&inside, &existing).is_err());
        let around = ov("n", "cat", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z");
        assert!(check_override(&around, &existing).is_err());
        // Touching ends are fine.
        let touching = ov("n", "cat", "2026-01-05T14:00:00Z", "2026-01-06T12:00:00Z");
        assert_eq!(check_override(&touching, &existing), Ok(()));
        // Editing an override does not clash with its own stored copy.
        let moved = ov("o1", "ann", "2026-01-05T13:00:00Z", "2026-01-05T15:00:00Z");
        assert_eq!(check_override(&moved, &existing), Ok(()));
        let backwards = ov("n", "cat", "2026-01-08T14:00:00Z", "2026-01-08T12:00:00Z");
        assert_eq!(
            check_override(&backwards, &existing),
            Err(ScheduleError::EndBeforeStart)
        );
        let empty = ov("n", "cat", "2026-01-08T14:00:00Z", "2026-01-08T14:00:00Z");
        assert_eq!(
            check_override(&empty, &[]),
            Err(ScheduleError::EndBeforeStart)
        );
        assert_eq!(
            ScheduleError::EndBeforeStart.to_string(),
            "the end must be after the start"
        );
    }

    // ---- properties ----

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use proptest::sample::select;

        const ZONES: [Tz; 6] = [
            America::New_York,
            Europe::London,
            Australia::Sydney,
            Asia::Shanghai,
            Asia::Kolkata,
            Tz::UTC,
        ];
        const PEOPLE: [&str; 4] = ["ann", "bob", "cat", "dan"];
        const DAYS: [Weekday; 7] = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];

        fn y2026() -> DateTime<Utc> {
            utc("2026-01-01T00:00:00Z")
        }

        fn zone() -> impl Strategy<Value = Tz> {
            select(ZONES.to_vec())
        }

        /// Quarter hours, so hand-offs and windows land in DST gaps and repeats often enough.
        fn time_of_day() -> impl Strategy<Value = NaiveTime> {
            (0u32..24, select(vec![0u32, 15, 30, 45]))
                .prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap())
        }

        /// Any second of 2026-2027.
        fn instant() -> impl Strategy<Value = DateTime<Utc>> {
            (0i64..2 * 365 * 86_400).prop_map(|s| y2026() + TimeDelta::seconds(s))
        }

        fn restriction() -> impl Strategy<Value = Restriction> {
            (
                prop::collection::vec(select(DAYS.to_vec()), 0..4),
                time_of_day(),
                time_of_day(),
            )
                .prop_map(|(days, from, to)| Restriction { days, from, to })
        }

        fn layer(max_restrictions: usize) -> impl Strategy<Value = Layer> {
            (
                select(RotationUnit::ALL.to_vec()),
                1u32..=6,
                0u64..365,
                time_of_day(),
                prop::collection::vec(select(PEOPLE.to_vec()), 1..=5),
                prop::collection::vec(restriction(), 0..=max_restrictions),
            )
                .prop_map(|(unit, count, day, handoff, people, restrictions)| Layer {
                    name: format!("{}x{count}", unit.as_str()),
                    rotation: Rotation { unit, count },
                    start: date("2026-01-01") + Days::new(day),
                    handoff,
                    participants: people.into_iter().map(String::from).collect(),
                    restrictions,
                })
        }

        /// Non-overlapping overrides laid one after another from a random point.
        fn overrides() -> impl Strategy<Value = Vec<Override>> {
            (
                instant(),
                prop::collection::vec((0i64..3_000, 1i64..3_000, select(PEOPLE.to_vec())), 0..6),
            )
                .prop_map(|(mut at, list)| {
                    list.into_iter()
                        .enumerate()
                        .map(|(i, (gap, len, user))| {
                            let start = at + TimeDelta::minutes(gap);
                            at = start + TimeDelta::minutes(len);
                            Override {
                                id: format!("o{i}"),
                                user_id: user.into(),
                                start,
                                end: at,
                            }
                        })
                        .collect()
                })
        }

        fn schedule() -> impl Strategy<Value = Schedule> {
            (
                zone(),
                prop::collection::vec(
                    (0i64..400 * 24, prop::collection::vec(layer(2), 0..=3)),
                    1..=3,
                ),
                overrides(),
            )
                .prop_map(|(time_zone, mut versions, overrides)| {
                    versions.sort_by_key(|v| v.0);
                    let versions = versions
                        .into_iter()
                        .map(|(hours, layers)| Version {
                            effective_from: y2026() + TimeDelta::hours(hours),
                            layers,
                        })
                        .collect();
                    Schedule {
                        time_zone,
                        versions,
                        overrides,
                    }
                })
        }

        /// Which of PEOPLE are active.
        fn activity() -> impl Strategy<Value = [bool; 4]> {
            prop::array::uniform4(prop::bool::weighted(0.8))
        }

        fn is_active(flags: [bool; 4]) -> impl Fn(&str) -> bool {
            move |u: &str| PEOPLE.iter().position(|p| *p == u).is_none_or(|i| flags[i])
        }

        /// Turn starts by the definition, walking from turn 0.
        fn reference_turn(
            l: &Layer,
            tz: Tz,
            at: DateTime<Utc>,
        ) -> Option<(usize, DateTime<Utc>, DateTime<Utc>)> {
            let first = local_to_utc(tz, l.start, l.handoff);
            let start_of = |k: i64| match l.rotation.unit {
                RotationUnit::Hourly => first + TimeDelta::hours(k * i64::from(l.rotation.count)),
                RotationUnit::Daily => local_to_utc(
                    tz,
                    l.start + TimeDelta::days(k * i64::from(l.rotation.count)),
                    l.handoff,
                ),
                RotationUnit::Weekly => local_to_utc(
                    tz,
                    l.start + TimeDelta::days(7 * k * i64::from(l.rotation.count)),
                    l.handoff,
                ),
            };
            if at < first {
                return None;
            }
            let mut k = 0;
            while start_of(k + 1) <= at {
                k += 1;
            }
            Some((
                k as usize % l.participants.len(),
                start_of(k),
                start_of(k + 1),
            ))
        }

        /// Whether the layer's restrictions allow `at`, by the definition.
        fn reference_window(l: &Layer, tz: Tz, at: DateTime<Utc>) -> bool {
            if l.restrictions.is_empty() {
                return true;
            }
            let today = at.with_timezone(&tz).date_naive();
            [today.pred_opt().unwrap(), today].into_iter().any(|d| {
                l.restrictions.iter().any(|r| {
                    if !r.days.is_empty() && !r.days.contains(&d.weekday()) {
                        return false;
                    }
                    let end_day = if r.to <= r.from {
                        d.succ_opt().unwrap()
                    } else {
                        d
                    };
                    local_to_utc(tz, d, r.from) <= at && at < local_to_utc(tz, end_day, r.to)
                })
            })
        }

        /// Who should be on call at `at`, straight from the rules, instant by instant.
        fn reference_on_call(
            s: &Schedule,
            at: DateTime<Utc>,
            active: &dyn Fn(&str) -> bool,
        ) -> Option<(String, Source)> {
            if let Some(o) = s
                .overrides
                .iter()
                .rev()
                .find(|o| o.start <= at && at < o.end && active(&o.user_id))
            {
                return Some((o.user_id.clone(), Source::Override { id: o.id.clone() }));
            }
            let tz = s.time_zone;
            let version = s.versions.iter().rev().find(|v| v.effective_from <= at)?;
            version
                .layers
                .iter()
                .enumerate()
                .rev()
                .find_map(|(index, l)| {
                    let (p, _, _) = l.turn_at(tz, at)?;
                    let user = &l.participants[p];
                    (reference_window(l, tz, at) && active(user)).then(|| {
                        let name = l.name.clone();
                        (user.clone(), Source::Layer { index, name })
                    })
                })
        }

        /// Whether `t` is a point where `source` legitimately starts a new shift for the same
        /// person: a hand-off of its own layer or the start of a version.
        fn is_handoff(s: &Schedule, source: &Source, t: DateTime<Utc>) -> bool {
            let Some(version) = s.versions.iter().rev().find(|v| v.effective_from <= t) else {
                return false;
            };
            version.effective_from == t
                || matches!(source, Source::Layer { index, .. }
                    if version.layers[*index].turn_at(s.time_zone, t).is_some_and(|(_, start, _)| start == t))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(192))]

            /// (1) Exactly one turn covers every instant after the first hand-off, found
            /// arithmetically yet equal to walking the turns, and `shifts` agrees with it.
            #[test]
            fn one_turn_per_instant_and_shifts_agree(tz in zone(), l in layer(0), at in instant()) {
                let first = l.first_handoff(tz);
                let got = l.turn_at(tz, at);
                prop_assert_eq!(got, reference_turn(&l, tz, at));
                match got {
                    None => prop_assert!(at < first),
                    Some((p, start, end)) => {
                        prop_assert!(start <= at && at < end);
                        let (from, to) = (at - TimeDelta::days(3), at + TimeDelta::days(3));
                        let shifts = l.shifts(7, tz, from, to);
                        let covering: Vec<_> = shifts.iter().filter(|s| s.start <= at && at < s.end).collect();
                        prop_assert_eq!(covering.len(), 1);
                        prop_assert_eq!(&covering[0].user_id, &l.participants[p]);
                        prop_assert_eq!(covering[0].start, max(start, from));
                        prop_assert_eq!(covering[0].end, min(end, to));
                        prop_assert_eq!(&covering[0].source, &Source::Layer { index: 7, name: l.name.clone() });
                    }
                }
            }

            /// (2) Without restrictions, a layer's shifts tile the range from its first hand-off.
            #[test]
            fn shifts_tile_the_range(tz in zone(), l in layer(0), from in instant(), hours in 0i64..24 * 20) {
                let to = from + TimeDelta::hours(hours);
                let shifts = l.shifts(0, tz, from, to);
                let begin = max(from, l.first_handoff(tz));
                if begin >= to {
                    prop_assert!(shifts.is_empty());
                } else {
                    prop_assert_eq!(shifts.first().map(|s| s.start), Some(begin));
                    prop_assert_eq!(shifts.last().map(|s| s.end), Some(to));
                    for s in &shifts {
                        prop_assert!(s.start < s.end);
                    }
                    for pair in shifts.windows(2) {
                        prop_assert_eq!(pair[0].end, pair[1].start);
                    }
                }
            }

            /// (2b) With restrictions, shifts are ordered, disjoint, each inside one turn with
            /// that turn's participant, and cover exactly the instants the windows allow.
            #[test]
            fn restricted_shifts_follow_turns_and_windows(
                tz in zone(),
                l in layer(3),
                from in instant(),
                hours in 1i64..24 * 15,
                probes in prop::collection::vec(0.0f64..1.0, 8),
            ) {
                let to = from + TimeDelta::hours(hours);
                let shifts = l.shifts(0, tz, from, to);
                for s in &shifts {
                    prop_assert!(from <= s.start && s.start < s.end && s.end <= to);
                    let (p, start, end) = l.turn_at(tz, s.start).unwrap();
                    prop_assert!(start <= s.start && s.end <= end);
                    prop_assert_eq!(&s.user_id, &l.participants[p]);
                }
                for pair in shifts.windows(2) {
                    prop_assert!(pair[0].end <= pair[1].start);
                }
                for f in probes {
                    let at = from + TimeDelta::seconds((f * (to - from).num_seconds() as f64) as i64);
                    let covered = shifts.iter().any(|s| s.start <= at && at < s.end);
                    let expected = at >= l.first_handoff(tz) && reference_window(&l, tz, at);
                    prop_assert_eq!(covered, expected, "at {}", at);
                }
            }

            /// (3) Inside an override for an active user, that user is on call, for exactly the
            /// override's span.
            #[test]
            fn an_override_always_wins(s in schedule(), flags in activity(), probes in prop::collection::vec(0.0f64..1.0, 4)) {
                let active = is_active(flags);
                for (o, f) in s.overrides.iter().zip(probes.iter().cycle()) {
                    let at = o.start + TimeDelta::seconds((f * (o.end - o.start).num_seconds() as f64) as i64);
                    let got = s.on_call_at(at, &active);
                    if active(&o.user_id) {
                        let got = got.unwrap();
                        prop_assert_eq!(&got.user_id, &o.user_id);
                        prop_assert_eq!(&got.source, &Source::Override { id: o.id.clone() });
                        prop_assert_eq!((got.start, got.end), (o.start, o.end));
                    } else if let Some(got) = got {
                        prop_assert!(active(&got.user_id));
                    }
                }
            }

            /// (4) Final shifts name only active users, never overlap, and with the gaps tile
            /// the range exactly; `on_call_at` agrees with them.
            #[test]
            fn final_shifts_and_gaps_tile_the_range(
                s in schedule(),
                flags in activity(),
                from in instant(),
                hours in 0i64..24 * 15,
                probe in 0.0f64..1.0,
            ) {
                let active = is_active(flags);
                let to = from + TimeDelta::hours(hours);
                let shifts = s.final_shifts(from, to, &active);
                let gaps = s.gaps(from, to, &active);
                for sh in &shifts {
                    prop_assert!(active(&sh.user_id), "{} is deactivated", sh.user_id);
                    prop_assert!(sh.start < sh.end);
                }
                for pair in shifts.windows(2) {
                    prop_assert!(pair[0].end <= pair[1].start);
                    let touching_twins = pair[0].end == pair[1].start
                        && pair[0].user_id == pair[1].user_id
                        && pair[0].source == pair[1].source;
                    prop_assert!(!touching_twins, "unmerged {:?}", pair);
                }
                let mut pieces: Vec<_> = shifts.iter().map(|s| (s.start, s.end)).chain(gaps.iter().map(|g| (g.start, g.end))).collect();
                pieces.sort();
                if from < to {
                    prop_assert_eq!(pieces.first().map(|p| p.0), Some(from));
                    prop_assert_eq!(pieces.last().map(|p| p.1), Some(to));
                    for pair in pieces.windows(2) {
                        prop_assert_eq!(pair[0].1, pair[1].0);
                    }
                    for pair in gaps.windows(2) {
                        prop_assert!(pair[0].end < pair[1].start);
                    }
                } else {
                    prop_assert!(pieces.is_empty());
                }

                let at = from + TimeDelta::seconds((probe * (to - from).num_seconds() as f64) as i64);
                if at < to {
                    let expected = shifts.iter().find(|sh| sh.start <= at && at < sh.end);
                    let got = s.on_call_at(at, &active);
                    prop_assert_eq!(got.as_ref().map(|g| (&g.user_id, &g.source)), expected.map(|e| (&e.user_id, &e.source)));
                    if let (Some(got), Some(expected)) = (got, expected) {
                        // The final shift may merge several turns; on_call_at stops at the turn.
                        prop_assert!(got.start <= at && at < got.end);
                        prop_assert!(max(got.start, from) >= expected.start);
                        prop_assert!(min(got.end, to) <= expected.end);
                        let whole = s.final_shifts(got.start, got.end, &active);
                        prop_assert_eq!(&whole, &vec![got.clone()]);
                        // Full extent: the same person from the same source just outside the
                        // shift is only possible across a hand-off.
                        let tick = TimeDelta::nanoseconds(1);
                        for (outside, edge) in [(got.start - tick, got.start), (got.end, got.end)] {
                            if let Some(next) = s.on_call_at(outside, &active)
                                && next.user_id == got.user_id
                                && next.source == got.source
                            {
                                prop_assert!(is_handoff(&s, &got.source, edge), "not extended over {}", edge);
                            }
                        }
                    }
                }
            }

            /// (5) At any instant, the final shift names whoever the rules name: an active
            /// override's user, else the top layer whose turn is active and whose user is.
            #[test]
            fn final_shifts_follow_the_rules_instant_by_instant(
                s in schedule(),
                flags in activity(),
                from in instant(),
                hours in 1i64..24 * 15,
                probes in prop::collection::vec(0.0f64..1.0, 8),
            ) {
                let active = is_active(flags);
                let to = from + TimeDelta::hours(hours);
                let shifts = s.final_shifts(from, to, &active);
                let mut probes: Vec<_> = probes
                    .into_iter()
                    .map(|f| from + TimeDelta::seconds((f * (to - from).num_seconds() as f64) as i64))
                    .collect();
                // The edges of every shift are where mistakes hide.
                probes.extend(shifts.iter().flat_map(|sh| [sh.start, sh.end - TimeDelta::nanoseconds(1)]));
                for at in probes {
                    let got = shifts
                        .iter()
                        .find(|sh| sh.start <= at && at < sh.end)
                        .map(|sh| (sh.user_id.clone(), sh.source.clone()));
                    prop_assert_eq!(got, reference_on_call(&s, at, &active), "at {}", at);
                }
            }
        }
    }
}
