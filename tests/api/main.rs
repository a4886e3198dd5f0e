//! The integration tests: one binary, the real application over HTTP.

// A failed expectation in a test should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod helpers;

mod admin_users;
mod alertmanager_real;
mod auth;
mod browser;
mod cli;
mod contacts;
mod csrf;
mod escalation;
mod health;
mod holiday_import;
mod incidents;
mod profile;
mod roles;
mod schedule_edit;
mod schedules;
mod services;
mod setup;
mod smtp;
mod swaps;
mod tokens;
mod webhooks;
