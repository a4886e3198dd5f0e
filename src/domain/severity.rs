//! Severities P0 (worst) to P3, their default response times, and how monitoring tools' own
//! severity words map onto them.

use std::fmt;
use std::str::FromStr;

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// How bad an incident is. `P0` is the worst; ordering follows urgency (`P0 < P1` means more urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }

    /// What the level means, from the operations guide.
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::P0 => "system unreachable, data loss, security breach",
            Severity::P1 => "core function broken, heavy degradation",
            Severity::P2 => "non-core problem, intermittent failure",
            Severity::P3 => "improvement, docs, monitoring tweaks",
        }
    }

    /// Default time to acknowledge (operations guide: 15 min, 1 h, 4 h, 24 h).
    pub fn default_ack_within(self) -> Duration {
        match self {
            Severity::P0 => Duration::minutes(15),
            Severity::P1 => Duration::hours(1),
            Severity::P2 => Duration::hours(4),
            Severity::P3 => Duration::hours(24),
        }
    }

    /// Default time to resolve (4 h, 24 h, 3 days, 7 days).
    pub fn default_resolve_within(self) -> Duration {
        match self {
            Severity::P0 => Duration::hours(4),
            Severity::P1 => Duration::hours(24),
            Severity::P2 => Duration::days(3),
            Severity::P3 => Duration::days(7),
        }
    }

    /// The more urgent of two severities.
    pub fn most_urgent(self, other: Severity) -> Severity {
        self.min(other)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P0" => Ok(Severity::P0),
            "P1" => Ok(Severity::P1),
            "P2" => Ok(Severity::P2),
            "P3" => Ok(Severity::P3),
            other => Err(format!(
                "unknown severity '{other}'; expected P0, P1, P2 or P3"
            )),
        }
    }
}

/// How an integration turns a tool's severity word into a [`Severity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityMapping {
    /// The label that carries the word (Alertmanager and Grafana); default `severity`.
    pub label: String,
    /// Words (compared case-insensitively) and what they mean.
    pub words: Vec<(String, Severity)>,
    /// Used when the word is missing or unknown.
    pub default: Severity,
}

impl Default for SeverityMapping {
    fn default() -> Self {
        SeverityMapping {
            label: "severity".into(),
            words: vec![
                ("critical".into(), Severity::P1),
                ("error".into(), Severity::P2),
                ("warning".into(), Severity::P3),
                ("info".into(), Severity::P3),
            ],
            default: Severity::P2,
        }
    }
}

impl SeverityMapping {
    /// Maps one word: an explicit `P0`..`P3` is kept as is, a known word is translated, anything
    /// else (or nothing) gets the default.
    pub fn map(&self, word: Option<&str>) -> Severity {
        let Some(word) = word.map(str::trim).filter(|w| !w.is_empty()) else {
            return self.default;
        };
        if let Ok(explicit) = word.parse::<Severity>() {
            return explicit;
        }
        self.words
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map_or(self.default, |(_, s)| *s)
    }

    /// `critical=P1, error=P2` form used on the integration page.
    pub fn words_text(&self) -> String {
        self.words
            .iter()
            .map(|(w, s)| format!("{w}={s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Parses the `critical=P1, error=P2` form; each word once.
    pub fn parse_words(text: &str) -> Result<Vec<(String, Severity)>, String> {
        let mut words: Vec<(String, Severity)> = Vec::new();
        for part in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (word, sev) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' should look like word=P1"))?;
            let word = word.trim().to_ascii_lowercase();
            if word.is_empty() || word.len() > 64 {
                return Err(format!(
                    "'{part}' needs a word of 1 to 64 characters before ="
                ));
            }
            let sev = sev.parse::<Severity>()?;
            if words.iter().any(|(w, _)| *w == word) {
                return Err(format!("'{word}' is mapped twice"));
            }
            words.push((word, sev));
        }
        Ok(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_by_urgency_and_parse() {
        assert!(Severity::P0 < Severity::P3);
        assert_eq!(Severity::P2.most_urgent(Severity::P1), Severity::P1);
        assert_eq!("p1".parse::<Severity>(), Ok(Severity::P1));
        assert!("P4".parse::<Severity>().is_err());
        assert_eq!(Severity::P0.default_ack_within(), Duration::minutes(15));
        assert_eq!(Severity::P3.default_resolve_within(), Duration::days(7));
    }

    #[test]
    fn the_default_mapping_follows_the_issue() {
        let m = SeverityMapping::default();
        assert_eq!(m.map(Some("critical")), Severity::P1);
        assert_eq!(m.map(Some("CRITICAL")), Severity::P1);
        assert_eq!(m.map(Some("error")), Severity::P2);
        assert_eq!(m.map(Some("warning")), Severity::P3);
        assert_eq!(m.map(Some("info")), Severity::P3);
        assert_eq!(m.map(Some("P0")), Severity::P0, "explicit levels are kept");
        assert_eq!(
            m.map(Some("page-me")),
            Severity::P2,
            "unknown words get the default"
        );
        assert_eq!(m.map(None), Severity::P2);
    }

    #[test]
    fn mapping_text_round_trips_and_rejects_nonsense() {
        let words =
            SeverityMapping::parse_words("critical=P0, major = p1\nminor=P3").expect("valid");
        assert_eq!(words.len(), 3);
        let m = SeverityMapping {
            words,
            ..SeverityMapping::default()
        };
        assert_eq!(m.words_text(), "critical=P0, major=P1, minor=P3");
        assert!(SeverityMapping::parse_words("critical").is_err());
        assert!(SeverityMapping::parse_words("critical=P9").is_err());
        assert!(SeverityMapping::parse_words("a=P1, A=P2").is_err());
    }
}
