//! Use cases. Each one validates its input into domain types, then does its work in one database
//! transaction that also writes the audit entry. Browser pages, the JSON API and the command line
//! all call these same functions.

pub mod ack_links;
pub mod alert_intake;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod contacts;
pub mod demo;
pub mod escalation;
pub mod feeds;
pub mod holiday_import;
pub mod incidents;
pub mod outbox;
pub mod passwords;
pub mod schedules;
pub mod setup;
pub mod severities;
pub mod swaps;
pub mod time_off;
pub mod tokens;
pub mod users;
