//! Lookout: incident and on-call management in one binary, on SQLite or PostgreSQL.
//!
//! Layers (arrows point down): `web` and `cli` call `services`; `services` combine `domain` rules
//! with `db` queries; `domain` imports nothing of ours. See docs/ARCHITECTURE.md.

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod scheduler;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;

// The static libpq built by pq-src needs OpenSSL's symbols; naming the crate here links the
// vendored copy into every binary that uses this library (the server and the test binaries).
use openssl_sys as _;
