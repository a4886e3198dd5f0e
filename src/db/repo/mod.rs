//! Queries, one module per aggregate. Functions take `&mut DbConn` and return diesel results;
//! services decide what the errors mean.

pub mod alerts;
pub mod api_tokens;
pub mod app_settings;
pub mod audit;
pub mod contacts;
pub mod escalation;
pub mod incidents;
pub mod integrations;
pub mod login_failures;
pub(crate) mod prepared;
pub mod schedules;
pub mod services;
pub mod sessions;
pub mod severity_levels;
pub mod swaps;
pub mod time_off;
pub mod timeline;
pub mod users;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Times are stored as UTC without a zone (the type both backends share).
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A stored value that does not parse is a corrupt row, reported as a query error.
pub(crate) fn corrupt(what: &str, value: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(
        format!("stored {what} '{value}' is invalid").into(),
    )
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Escapes `%`, `_` and `\\` for a `LIKE ... ESCAPE '\\'` pattern.
pub(crate) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
