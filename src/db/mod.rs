//! The database: one connection type over SQLite and PostgreSQL, a pool, and the way async code
//! runs blocking queries.
//!
//! Queries live in `repo/`, one module per aggregate; they take `&mut DbConn` and know nothing of
//! HTTP. Services open transactions with [`Db::write`], which on SQLite begins with `BEGIN
//! IMMEDIATE` so that two writers queue on the lock instead of failing on a read-to-write upgrade.

pub mod migrations;
pub mod repo;
pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

use crate::config::DatabaseUrl;

/// One connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("database task was cancelled")]
    Cancelled,
}

/// SQLite settings applied to every new connection. WAL lets readers run beside the writer;
/// `synchronous=FULL` makes a commit durable before we answer; the busy timeout makes writers
/// (including a `lookout` command run beside the server) queue instead of failing. It comes first
/// because switching to WAL takes a lock that other new connections must wait for.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Opens one connection with the settings each backend needs.
pub fn establish(url: &DatabaseUrl) -> Result<DbConn, DbError> {
    let connect_error = |message: String| DbError::Connect {
        url: url.to_string(),
        // libpq's messages span several lines; the operator gets one.
        message: message.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    match url {
        DatabaseUrl::Sqlite { path } => {
            let mut conn =
                SqliteConnection::establish(path).map_err(|e| connect_error(describe(e)))?;
            conn.batch_execute(SQLITE_PRAGMAS)
                .map_err(|e| connect_error(e.to_string()))?;
            Ok(DbConn::Sqlite(conn))
        }
        DatabaseUrl::Postgres { url } => {
            let conn = PgConnection::establish(url).map_err(|e| connect_error(describe(e)))?;
            Ok(DbConn::Postgres(conn))
        }
    }
}

fn describe(e: ConnectionError) -> String {
    match e {
        ConnectionError::BadConnection(m) | ConnectionError::InvalidConnectionUrl(m) => m,
        other => other.to_string(),
    }
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL.
/// Commits when `f` succeeds, rolls back when it fails.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(_) => <DbConn as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            match <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => {}
                Err(rollback) => tracing::warn!(error = %rollback, "rollback failed"),
            }
            Err(err)
        }
    }
}

/// Makes pooled connections with [`establish`], so each backend gets its settings.
pub struct DbManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        conn.ping().map_err(DbError::Query)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<DbManager>;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// The pool plus the blocking-thread bridge used by async code.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    max_size: u32,
}

impl Db {
    /// Connects once (so a bad URL or a down server fails fast with one clear message), applies
    /// pending migrations, then builds the pool.
    pub fn connect(url: &DatabaseUrl) -> Result<Db, DbError> {
        let mut first = establish(url)?;
        migrations::run(&mut first)?;
        let backend = first.backend();
        let max_size = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 12,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(DbManager { url: url.clone() });
        Ok(Db {
            pool,
            backend,
            max_size,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn max_size(&self) -> u32 {
        self.max_size
    }

    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// A connection for synchronous callers (command-line tools).
    pub fn get(&self) -> Result<PooledConn, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs read-only work on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
    }

    /// Runs `f` in one write transaction on a blocking thread.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            write_tx(&mut conn, f)
        })
        .await
    }

    /// Whether the database answers within `timeout`; for `/readyz`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool.get_timeout(timeout)?;
            conn.ping().map_err(DbError::Query)
        })
        .await
    }
}

async fn run_blocking<T, E, F>(f: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(DbError::Cancelled.into()),
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<DbError> for LogPoolErrors {
    fn handle_error(&self, error: DbError) {
        tracing::error!(%error, "database connection failed");
    }
}

/// Whether a query failed because a unique index refused a duplicate.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
