//! Test harness: starts the real application on port 0 against a fresh database (a temp SQLite
//! file, or a fresh schema on the PostgreSQL named by `LOOKOUT_TEST_POSTGRES_URL`), and talks HTTP
//! to it like a browser or a script would.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use diesel::{Connection, RunQueryDsl};
use lookout::clock::ManualClock;
use lookout::config::{BaseUrl, DatabaseUrl, Settings};
use lookout::domain::audit::Actor;
use lookout::services::users::{NewUserInput, create};
use lookout::startup::Application;
use lookout::state::AppState;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs each scenario once on SQLite and, when `LOOKOUT_TEST_POSTGRES_URL` is set, once more on
/// PostgreSQL: `cargo test login` shows `login::sqlite` and `login::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn scenario($app: $crate::helpers::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    scenario($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::postgres_url().is_some() {
                        scenario($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await
                    }
                }
            }
        )+
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("LOOKOUT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDb {
    /// Kept so the directory lives as long as the test.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        schema: String,
    },
}

impl TestDb {
    pub fn create(backend: Backend) -> (TestDb, DatabaseUrl) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("lookout.db");
                let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display()))
                    .expect("sqlite url");
                (TestDb::Sqlite { _dir: dir }, url)
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("LOOKOUT_TEST_POSTGRES_URL");
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&admin_url)
                    .expect("connect to test PostgreSQL");
                diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .expect("create schema");
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}");
                let url = DatabaseUrl::parse(&url).expect("postgres url");
                (TestDb::Postgres { admin_url, schema }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, schema } = self {
            let (admin_url, schema) = (admin_url.clone(), schema.clone());
            // Off the async runtime: this is blocking I/O.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = diesel::PgConnection::establish(&admin_url) {
                    let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn);
                }
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub setup_link: Option<String>,
    settings: Settings,
    handle: actix_web::dev::ServerHandle,
    // Dropped last: the server stops before its database goes.
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command; the workers wind down on their own.
        drop(self.handle.stop(false));
    }
}

pub fn test_settings(database: DatabaseUrl) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database,
        base_url: None,
        smtp_url: None,
        mail_from: "lookout@localhost".into(),
        log: "warn".into(),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        lookout::telemetry::init(&std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()));
        let (db, url) = TestDb::create(backend);
        let mut settings = test_settings(url.clone());
        configure(&mut settings);
        let kept = settings.clone();
        let clock = ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
                .single()
                .expect("time"),
        );
        let app = Application::build(settings, Arc::new(clock.clone()))
            .await
            .expect("application starts");
        let port = app.port();
        let state = app.state().clone();
        let setup_link = app.setup_link().map(str::to_owned);
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            state,
            clock,
            setup_link,

            settings: kept,
            handle,
            _db: db,
        }
    }

    /// Another instance of the application on the same database (as when several run behind a
    /// load balancer); returns its base URL and state. It stops with the test process.
    pub async fn second_instance(&self) -> (String, AppState) {
        let app = Application::build(self.settings.clone(), Arc::new(self.clock.clone()))
            .await
            .expect("second instance starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        (address, state)
    }

    /// A service with a fresh integration of `kind`; returns (service id, integration id, key).
    pub async fn integration(&self, kind: &str) -> (String, String, String) {
        let actor = Actor::cli();
        let name = format!("svc-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let input = lookout::services::catalog::ServiceInput {
            name,
            ..Default::default()
        };
        let service = lookout::services::catalog::create_service(&self.state, &actor, &input)
            .await
            .expect("service");
        let issued = lookout::services::catalog::create_integration(
            &self.state,
            &actor,
            &service.id,
            kind,
            None,
        )
        .await
        .expect("integration");
        (service.id, issued.integration.id, issued.key)
    }

    /// Posts raw bytes as JSON, like a monitoring tool.
    pub async fn post_json(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let res = reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Reply {
            status,
            headers,
            json,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A new browser: its own cookie jar, redirects not followed so tests see them.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: self.address.clone(),
        }
    }

    /// A script using the JSON API with a bearer token (or none).
    pub fn api(&self, token: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: self.address.clone(),
            token: token.map(str::to_owned),
        }
    }

    /// Creates a person directly through the service layer (as the command line would).
    pub async fn create_user(&self, email: &str, role: &str) -> lookout::domain::user::User {
        let input = NewUserInput {
            email: email.into(),
            name: name_from(email),
            role: role.into(),
            password: Some(PASSWORD.into()),
            time_zone: None,
        };
        create(&self.state, &Actor::cli(), &input)
            .await
            .expect("create user")
            .user
    }

    /// A signed-in browser for a new person with `role`.
    pub async fn signed_in(&self, role: &str) -> Browser {
        let email = format!(
            "{role}-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        self.create_user(&email, role).await;
        let browser = self.browser();
        browser.login(&email, PASSWORD).await;
        browser
    }

    /// A new person with `role` and an API token for them.
    pub async fn token_for(&self, role: &str) -> (lookout::domain::user::User, String) {
        let email = format!(
            "{role}-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let user = self.create_user(&email, role).await;
        let token = self.token_of(&user).await;
        (user, token)
    }

    /// Stops the server and its engine (as a crash or a deploy would), then starts a new instance
    /// on the same database and clock; the address and state change to the new one's.
    pub async fn restart(&mut self, while_down: impl FnOnce(&ManualClock)) {
        self.handle.stop(false).await;
        while_down(&self.clock);
        let app = Application::build(self.settings.clone(), Arc::new(self.clock.clone()))
            .await
            .expect("application restarts");
        self.address = format!("http://127.0.0.1:{}", app.port());
        self.state = app.state().clone();
        self.handle = app.handle();
        tokio::spawn(app.run_until_stopped());
    }

    /// Runs the escalation engine's round now (the background engine runs too; each job still
    /// happens once) and returns when everything due at the test clock's now has been done.
    ///
    /// It also waits for work the background engine has claimed or leased (it may hold a row
    /// this round skipped); a delivery's lease is on the manual clock, so moving the clock past
    /// it while it is under way would let a second round send it again.
    pub async fn settle(&self) {
        for _ in 0..500 {
            lookout::scheduler::run_once(&self.state)
                .await
                .expect("engine round");
            let busy = lookout::services::outbox::busy(&self.state)
                .await
                .expect("outbox");
            if !busy {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("deliveries still under way after 5 s");
    }

    /// An API token for someone who already exists.
    pub async fn token_of(&self, user: &lookout::domain::user::User) -> String {
        lookout::services::tokens::create(&self.state, &Actor::cli(), user, "test")
            .await
            .expect("token")
            .secret
    }

    /// The audit actions recorded so far, newest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        let (entries, _) = lookout::services::audit::list(
            &self.state,
            lookout::db::repo::audit::AuditQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
        entries.into_iter().map(|e| e.action).collect()
    }

    pub async fn user_count(&self) -> i64 {
        self.state
            .db
            .read(|c| lookout::db::repo::users::count(c).map_err(lookout::error::AppError::from))
            .await
            .expect("count")
    }
}

fn name_from(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut name: String = local.replace(['-', '.', '_'], " ");
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    name
}

/// A browser session.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn from(res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.text().await.expect("body");
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf_token(&self) -> String {
        hidden_value(&self.body, "csrf_token")
            .unwrap_or_else(|| panic!("no csrf_token on page:\n{}", self.body))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// The value of `<input ... name="NAME" value="...">`.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    /// Posts a form exactly as given (no token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Page::from(
            self.client
                .post(self.url(path))
                .form(form)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Posts a form with a CSRF token taken from `from` (the page that shows the form).
    pub async fn submit(&self, from: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf_token();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post_raw(action, &fields).await
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Page {
        let page = self.try_login(email, password).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login failed: {}",
            page.body
        );
        page
    }
}

/// A script talking JSON.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub json: serde_json::Value,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self
            .client
            .request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut rb = self.request(method, path);
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        let res = rb.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let json = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Reply {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}

/// A base URL for tests that want https links and cookies.
pub fn https_base() -> BaseUrl {
    BaseUrl::parse("https://oncall.example.com").expect("base url")
}
