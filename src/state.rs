//! What every request handler and background task shares.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{BaseUrl, Settings};
use crate::crypto::SecretKey;
use crate::db::Db;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::services::alert_intake::IngestQueue;
use crate::services::catalog::KeyCache;
use crate::web::rate_limit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Where people reach this instance; used for absolute links and the cookie `Secure` flag.
    pub base_url: BaseUrl,
    pub clock: Arc<dyn Clock>,
    pub secret: SecretKey,
    pub metrics: Arc<Metrics>,
    pub events: Events,
    /// Sends pages by e-mail; `None` when `LOOKOUT_SMTP_URL` is not set (mail off, logged).
    pub mailer: Option<crate::notify::mail::Mailer>,
    /// A mail settings problem (login refused), shown to admins until a message goes out.
    pub mail_health: Arc<crate::notify::health::MailHealth>,
    /// Posts to services' outbound webhooks.
    pub http: reqwest::Client,
    /// Wakes the escalation engine early: new due work was committed (an incident opened).
    pub engine_wake: Arc<crate::scheduler::EngineWake>,
    /// The group-commit writer for webhook deliveries.
    pub ingest: IngestQueue,
    pub keys: Arc<KeyCache>,
    pub limiter: Arc<RateLimiter>,
}
