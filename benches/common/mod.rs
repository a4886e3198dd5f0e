//! What the benchmarks that start a real server share: the run's database, the server's
//! settings, and CPU time read from /proc.

use std::collections::HashMap;

use diesel::{Connection, RunQueryDsl};
use lookout::config::{DatabaseUrl, Settings};

// ---------------------------------------------------------------------------------------------
// The database for the run

/// Owns the run's database and removes it when dropped, also when the run panics.
pub enum BenchDb {
    /// Kept so the file lives as long as the run.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl BenchDb {
    /// A temporary SQLite file, or with `postgres` a database created for the run on that
    /// server. Returns the owner, the URL for the server's settings and the URL to print.
    pub fn create(postgres: Option<&str>) -> (BenchDb, DatabaseUrl, String) {
        match postgres {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("lookout.db");
                let raw = format!("sqlite://{}", path.display());
                let url = DatabaseUrl::parse(&raw).expect("sqlite url");
                (BenchDb::Sqlite { _dir: dir }, url, raw)
            }
            Some(admin_url) => {
                let name = format!(
                    "lookout_bench_{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                );
                let mut conn =
                    diesel::PgConnection::establish(admin_url).expect("connect to PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create the benchmark database");
                let mut url = url::Url::parse(admin_url).expect("PostgreSQL URL");
                url.set_path(&format!("/{name}"));
                let db = BenchDb::Postgres {
                    admin_url: admin_url.to_owned(),
                    name,
                };
                let parsed = DatabaseUrl::parse(url.as_str()).expect("postgres url");
                (db, parsed, url.to_string())
            }
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let BenchDb::Postgres { admin_url, name } = self {
            // FORCE: the server's pool and writer thread may still hold connections.
            let dropped = diesel::PgConnection::establish(admin_url).and_then(|mut conn| {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
            });
            if let Err(e) = dropped {
                eprintln!("could not drop database {name}: {e}");
            }
        }
    }
}

/// The server under test: any free port on loopback, mail off, and "warn" logging, never
/// RUST_LOG, because per-request or per-job logging would be part of what is measured.
pub fn settings(database: DatabaseUrl) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database,
        base_url: None,
        smtp_url: None,
        mail_from: "lookout@localhost".into(),
        log: "warn".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// CPU time from /proc

/// Clock ticks per second in /proc: 100 on every Linux this runs on (`getconf CLK_TCK`; asking
/// libc would need unsafe code, which the crate forbids).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// The command name and utime + stime of a /proc `stat` file.
pub fn read_stat(path: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The name is in parentheses and may hold spaces; the numbers follow the last ')'.
    let (open, close) = (text.find('(')?, text.rfind(')')?);
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((text[open + 1..close].to_owned(), utime + stime))
}

/// The numeric entries of a /proc directory: process or thread ids.
pub fn numeric_entries(dir: &str) -> Vec<u32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// CPU ticks so far of every PostgreSQL process on the machine, by pid: the server under test
/// does part of its work there.
pub fn postgres_ticks() -> HashMap<u32, u64> {
    numeric_entries("/proc")
        .into_iter()
        .filter_map(|pid| {
            let (name, ticks) = read_stat(&format!("/proc/{pid}/stat"))?;
            (name == "postgres").then_some((pid, ticks))
        })
        .collect()
}

/// Ticks used by PostgreSQL between two `postgres_ticks` samples; processes that started in
/// between count from zero.
pub fn postgres_ticks_since(now: &HashMap<u32, u64>, before: &HashMap<u32, u64>) -> u64 {
    now.iter()
        .map(|(pid, ticks)| ticks.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

/// The whole machine's busy and iowait ticks so far, from /proc/stat.
pub fn machine_ticks() -> (u64, u64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let cpu: Vec<u64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            let busy = cpu.iter().take(8).sum::<u64>() - cpu.get(3)? - cpu.get(4)?;
            Some((busy, *cpu.get(4)?))
        })
        .unwrap_or_default()
}
