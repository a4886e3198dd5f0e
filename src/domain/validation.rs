//! Field-level validation messages, shown next to the field on a form and listed in API errors.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Messages keyed by form field name; empty means valid. Names are usually literals; lists of
/// things (a schedule's layers) use built names such as `layers.1.handoff`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<Cow<'static, str>, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<Cow<'static, str>>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn single(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// Records the error of `result` under `field` and returns its value, if any.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: impl Into<Cow<'static, str>>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// `Ok(())` when there is nothing to report.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// One line for logs and API `detail`: `email: ...; name: ...`.
    pub fn summary(&self) -> String {
        self.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Trims and checks a free-text field's length in characters.
pub fn bounded_text(raw: &str, what: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("{what} is required"));
    }
    if value.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(value.to_owned())
}
