//! Building the application from settings: database, secret key, listener, HTTP server.
//!
//! `Application::build` binds before it returns, so tests can bind port 0 and read the port.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};

use crate::clock::Clock;
use crate::config::{BaseUrl, Settings};
use crate::crypto::SecretKey;
use crate::db::repo::app_settings;
use crate::db::{Db, DbError};
use crate::error::AppError;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::notify::mail::Mailer;
use crate::services::alert_intake::IngestQueue;
use crate::services::catalog::KeyCache;
use crate::services::setup;
use crate::state::AppState;
use crate::web::rate_limit::RateLimiter;
use crate::web::{self as routes, api, csrf, pages, session, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    App(#[from] AppError),
}

pub struct Application {
    server: Server,
    /// The escalation engine's task; it stops with the server.
    engine: tokio::task::JoinHandle<()>,
    port: u16,
    base_url: BaseUrl,
    setup_link: Option<String>,
    state: AppState,
}

const SECRET_KEY: &str = "secret_key";

/// Connects to the database (applying migrations) and loads the installation's secret key.
pub async fn open_state(
    settings: Settings,
    clock: Arc<dyn Clock>,
    base_url: BaseUrl,
) -> Result<AppState, StartupError> {
    let url = settings.database.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&url))
        .await
        .map_err(|_| DbError::Cancelled)??;
    let now = clock.now();
    let encoded = db
        .read(move |c| {
            app_settings::get_or_insert(c, SECRET_KEY, &SecretKey::generate_encoded(), now)
                .map_err(AppError::from)
        })
        .await?;
    let secret = SecretKey::from_encoded(&encoded)
        .ok_or_else(|| AppError::Internal("the stored secret key is damaged".into()))?;
    let mailer = match &settings.smtp_url {
        Some(url) => Some(
            Mailer::from_settings(url, &settings.mail_from)
                .map_err(|e| AppError::Internal(format!("LOOKOUT_SMTP_URL: {e}")))?,
        ),
        None => {
            tracing::info!("LOOKOUT_SMTP_URL is not set: pages are not mailed, only logged");
            None
        }
    };
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("Lookout/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AppError::Internal(format!("HTTP client: {e}")))?;
    let events = Events::new();
    let engine_wake = crate::scheduler::EngineWake::new();
    let ingest = IngestQueue::start(
        db.clone(),
        clock.clone(),
        events.clone(),
        engine_wake.clone(),
    );
    Ok(AppState {
        db,
        settings: Arc::new(settings),
        base_url,
        clock,
        secret,
        metrics: Arc::new(Metrics::new()),
        events,
        mailer,
        mail_health: Arc::default(),
        http,
        engine_wake,
        ingest,
        keys: Arc::new(KeyCache::default()),
        limiter: Arc::new(RateLimiter::default()),
    })
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        let addr = settings.bind;
        let listener = TcpListener::bind(addr).map_err(|source| StartupError::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let base_url = settings.effective_base_url(local);
        let state = open_state(settings, clock, base_url.clone()).await?;

        let setup_link = setup::issue_token_if_needed(&state)
            .await?
            .map(|token| base_url.join(&format!("/setup?token={token}")));
        if let Some(link) = &setup_link {
            tracing::info!("no users yet: open {link} to create the first admin");
        }

        let engine = crate::scheduler::start(state.clone());

        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .app_data(api::json_config())
                .app_data(api::form_config())
                .app_data(api::query_config())
                .app_data(api::path_config())
                .configure(routes::routes)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(csrf::guard))
                .wrap(from_fn(pages::errors::render_error_pages))
                .wrap(from_fn(session::authenticate))
                .wrap(routes::security_headers())
                .wrap(Compress::default())
                .wrap(from_fn(telemetry::observe))
        })
        .workers(workers)
        // Without it, a response written in two pieces (compressed pages) waits on Nagle's
        // algorithm and the client's delayed ACK: about 40 ms per page.
        .tcp_nodelay(true)
        .listen(listener)
        .map_err(|source| StartupError::Listen {
            addr: addr.to_string(),
            source,
        })?
        .run();

        Ok(Application {
            server,
            engine,
            port: local.port(),
            base_url,
            setup_link,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// The first-run link, while no user exists.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server from elsewhere (tests stop theirs when done).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(
            "Lookout {} serving {} on {}",
            env!("CARGO_PKG_VERSION"),
            self.base_url.as_str(),
            self.state.db.backend().name()
        );
        let served = self.server.await;
        self.engine.abort();
        served
    }
}
