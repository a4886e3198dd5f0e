//! Pure types and rules. Nothing here performs I/O or reads a clock: `now` is an argument.

pub mod alert;
pub mod audit;
pub mod contact;
pub mod escalation;
pub mod holiday_calendar;
pub mod ids;
pub mod incident;
pub mod oncall_load;
pub mod schedule;
pub mod service;
pub mod severity;
pub mod swap;
pub mod time_off;
pub mod user;
pub mod validation;
