//! Settings: command-line flags > environment > `lookout.toml` > defaults, validated once at load.
//!
//! Every setting is parsed into the type the program uses, so an invalid value stops the program at
//! start with one line naming the setting and where it came from, never later in a request.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// The validated settings the program runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
    /// Where people reach Lookout; `None` means "http:// + the address actually bound".
    pub base_url: Option<BaseUrl>,
    pub smtp_url: Option<Url>,
    pub mail_from: String,
    pub log: String,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub base_url: Option<String>,
    pub config: Option<PathBuf>,
}

/// `lookout.toml`: the same settings, named in lower case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub base_url: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub log: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    File,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Flag => "command line",
            Origin::Env => "environment",
            Origin::File => "lookout.toml",
            Origin::Default => "default",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid setting {name} (from {origin}): {message}")]
    Invalid {
        name: &'static str,
        origin: Origin,
        message: String,
    },
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lookout.db";
pub const DEFAULT_MAIL_FROM: &str = "lookout@localhost";
pub const DEFAULT_CONFIG_FILE: &str = "lookout.toml";

impl Settings {
    /// Loads settings from the real process environment and the config file.
    pub fn load(overrides: &Overrides) -> Result<Self, SettingsError> {
        Self::load_from(overrides, &|name| std::env::var(name).ok())
    }

    /// Loads settings with an injectable environment (tests pass a map).
    pub fn load_from(
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let file = read_config_file(overrides, env)?;
        Self::resolve(overrides, env, &file)
    }

    fn resolve(
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
        file: &FileSettings,
    ) -> Result<Self, SettingsError> {
        let pick = |name: &'static str, flag: &Option<String>, from_file: &Option<String>| {
            pick(name, flag.clone(), env, from_file.clone())
        };

        let (bind_raw, origin) = pick("LOOKOUT_BIND", &overrides.bind, &file.bind);
        let bind_raw = bind_raw.unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_raw
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| SettingsError::Invalid {
                name: "LOOKOUT_BIND",
                origin,
                message: format!("'{bind_raw}' is not an address like 127.0.0.1:8080"),
            })?;

        let (db_raw, origin) = pick("DATABASE_URL", &overrides.database_url, &file.database_url);
        let db_raw = db_raw.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let database = DatabaseUrl::parse(&db_raw).map_err(|message| SettingsError::Invalid {
            name: "DATABASE_URL",
            origin,
            message,
        })?;

        let (base_raw, origin) = pick("LOOKOUT_BASE_URL", &overrides.base_url, &file.base_url);
        let base_url = base_raw
            .map(|raw| {
                BaseUrl::parse(&raw).map_err(|message| SettingsError::Invalid {
                    name: "LOOKOUT_BASE_URL",
                    origin,
                    message,
                })
            })
            .transpose()?;

        let (smtp_raw, origin) = pick("LOOKOUT_SMTP_URL", &None, &file.smtp_url);
        let smtp_url = smtp_raw
            .filter(|raw| !raw.trim().is_empty())
            .map(|raw| {
                parse_smtp_url(&raw).map_err(|message| SettingsError::Invalid {
                    name: "LOOKOUT_SMTP_URL",
                    origin,
                    message,
                })
            })
            .transpose()?;

        let (from_raw, origin) = pick("LOOKOUT_MAIL_FROM", &None, &file.mail_from);
        let mail_from = from_raw.unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        crate::domain::user::Email::parse(&mail_from).map_err(|e| SettingsError::Invalid {
            name: "LOOKOUT_MAIL_FROM",
            origin,
            message: format!("'{mail_from}': {e}"),
        })?;

        let (log_raw, origin) = pick("RUST_LOG", &None, &file.log);
        let log = log_raw.unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log).map_err(|e| SettingsError::Invalid {
            name: "RUST_LOG",
            origin,
            message: format!("'{log}' is not a tracing filter: {e}"),
        })?;

        Ok(Settings {
            bind,
            database,
            base_url,
            smtp_url,
            mail_from,
            log,
        })
    }

    /// The base URL people use, given the address the server actually bound (port 0 in tests).
    pub fn effective_base_url(&self, bound: SocketAddr) -> BaseUrl {
        match &self.base_url {
            Some(url) => url.clone(),
            None => BaseUrl(format!("http://{bound}")),
        }
    }
}

fn pick(
    env_name: &'static str,
    flag: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    file: Option<String>,
) -> (Option<String>, Origin) {
    if let Some(v) = flag {
        return (Some(v), Origin::Flag);
    }
    if let Some(v) = env(env_name) {
        return (Some(v), Origin::Env);
    }
    if let Some(v) = file {
        return (Some(v), Origin::File);
    }
    (None, Origin::Default)
}

fn read_config_file(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FileSettings, SettingsError> {
    let (path, explicit) = match (&overrides.config, env("LOOKOUT_CONFIG")) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (PathBuf::from(p), true),
        (None, None) => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    if !explicit && !path.exists() {
        return Ok(FileSettings::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| SettingsError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_file(&path, &text)
}

pub fn parse_file(path: &Path, text: &str) -> Result<FileSettings, SettingsError> {
    toml::from_str(text).map_err(|e| SettingsError::File {
        path: path.display().to_string(),
        message: e.message().to_owned(),
    })
}

/// Which database to use, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: String },
    Postgres { url: String },
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("a SQLite URL needs a file path, like sqlite://lookout.db".into());
            }
            if path.starts_with(':') {
                return Err(
                    "in-memory SQLite is not supported: each pooled connection would see its own database"
                        .into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite {
                path: path.to_owned(),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
            return Ok(DatabaseUrl::Postgres {
                url: raw.to_owned(),
            });
        }
        Err(format!(
            "expected sqlite://PATH or postgres://..., got '{}'",
            redact_url(raw)
        ))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres { .. } => "postgres",
        }
    }
}

/// Never print a database password: the URL shows up in error messages and logs.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{path}"),
            DatabaseUrl::Postgres { url } => f.write_str(&redact_url(url)),
        }
    }
}

/// Replaces the password of a URL with `***`; leaves anything unparsable as a bare scheme.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // set_password fails only for URLs that cannot have one, which this one has.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => match raw.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://..."),
            None => "...".to_owned(),
        },
    }
}

/// An absolute http(s) URL without a trailing slash, used to build links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("'{raw}' is not a URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("'{raw}' must start with http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(format!("'{raw}' has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("'{raw}' must not have a query or fragment"));
        }
        Ok(BaseUrl(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `path` must start with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

fn parse_smtp_url(raw: &str) -> Result<Url, String> {
    let url =
        Url::parse(raw.trim()).map_err(|e| format!("'{}' is not a URL: {e}", redact_url(raw)))?;
    match url.scheme() {
        "smtp" | "smtps" => {}
        other => {
            return Err(format!(
                "scheme '{other}' is not supported; use smtp://host:port or smtps://user:pass@host"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the SMTP URL has no host".into());
    }
    // The mailer reads the URL when the server starts; checking it with the mailer's own parser
    // here makes a bad `tls` or `ca` a settings error with the setting's name, and exit status 2.
    crate::notify::mail::check_smtp_url(&url)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn resolve(
        overrides: &Overrides,
        env: &[(&str, &str)],
        file: &str,
    ) -> Result<Settings, SettingsError> {
        let file = parse_file(Path::new("lookout.toml"), file)?;
        Settings::resolve(overrides, &env_of(env), &file)
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = resolve(&Overrides::default(), &[], "").expect("defaults are valid");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            s.database,
            DatabaseUrl::Sqlite {
                path: "lookout.db".into()
            }
        );
        assert_eq!(s.mail_from, "lookout@localhost");
        assert!(s.smtp_url.is_none());
        assert_eq!(s.log, "info");
        assert_eq!(
            s.effective_base_url("127.0.0.1:9000".parse().expect("addr"))
                .as_str(),
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let file = "bind = \"127.0.0.1:7000\"\ndatabase_url = \"sqlite://file.db\"\n";
        let s = resolve(&Overrides::default(), &[], file).expect("valid");
        assert_eq!(s.bind.port(), 7000);

        let s = resolve(
            &Overrides::default(),
            &[("LOOKOUT_BIND", "127.0.0.1:7001")],
            file,
        )
        .expect("valid");
        assert_eq!(s.bind.port(), 7001);

        let flags = Overrides {
            bind: Some("127.0.0.1:7002".into()),
            ..Overrides::default()
        };
        let s = resolve(&flags, &[("LOOKOUT_BIND", "127.0.0.1:7001")], file).expect("valid");
        assert_eq!(s.bind.port(), 7002);
        assert_eq!(
            s.database,
            DatabaseUrl::Sqlite {
                path: "file.db".into()
            }
        );
    }

    #[test]
    fn bad_values_name_the_setting_and_its_origin() {
        let err = resolve(&Overrides::default(), &[("LOOKOUT_BIND", "nope")], "")
            .expect_err("invalid bind");
        assert_eq!(
            err.to_string(),
            "invalid setting LOOKOUT_BIND (from environment): 'nope' is not an address like 127.0.0.1:8080"
        );

        let err = resolve(
            &Overrides::default(),
            &[],
            "database_url = \"mysql://root:pw@x/db\"",
        )
        .expect_err("invalid db");
        let msg = err.to_string();
        assert!(
            msg.starts_with("invalid setting DATABASE_URL (from lookout.toml)"),
            "{msg}"
        );
        assert!(!msg.contains("pw"), "password leaked: {msg}");

        let err = resolve(
            &Overrides::default(),
            &[("LOOKOUT_BASE_URL", "ftp://x")],
            "",
        )
        .expect_err("invalid base url");
        assert!(err.to_string().contains("LOOKOUT_BASE_URL"));

        let err = resolve(
            &Overrides::default(),
            &[("LOOKOUT_SMTP_URL", "http://x")],
            "",
        )
        .expect_err("invalid smtp");
        assert!(err.to_string().contains("LOOKOUT_SMTP_URL"));

        let err = resolve(
            &Overrides::default(),
            &[("LOOKOUT_MAIL_FROM", "not-an-address")],
            "",
        )
        .expect_err("invalid from");
        assert!(err.to_string().contains("LOOKOUT_MAIL_FROM"));

        let err = resolve(&Overrides::default(), &[("RUST_LOG", "info,[[[")], "")
            .expect_err("invalid filter");
        assert!(err.to_string().contains("RUST_LOG"));
    }

    #[test]
    fn smtp_url_parameters_are_checked_at_load_and_named() {
        for (raw, needle) in [
            (
                "smtp://u:s3cret@relay.example.com:587?tls=maybe",
                "the parameter 'tls' is 'maybe'; use one of starttls, opportunistic, none",
            ),
            (
                "smtp://u:s3cret@relay.example.com?tsl=starttls",
                "unknown parameter 'tsl'",
            ),
            (
                "smtp://u:s3cret@relay.example.com:587?ca=/nonexistent/ca.pem",
                "the parameter 'ca': cannot read /nonexistent/ca.pem",
            ),
        ] {
            let err =
                resolve(&Overrides::default(), &[("LOOKOUT_SMTP_URL", raw)], "").expect_err(raw);
            let msg = err.to_string();
            assert!(
                msg.starts_with("invalid setting LOOKOUT_SMTP_URL (from environment): "),
                "{msg}"
            );
            assert!(msg.contains(needle), "{msg}");
            assert!(!msg.contains("s3cret"), "password leaked: {msg}");
        }

        for ok in [
            "smtp://u:p@relay.example.com:587",
            "smtp://u:p@relay.example.com:587?tls=starttls",
            "smtp://relay.example.com?tls=opportunistic",
            "smtp://127.0.0.1:2525?tls=none",
        ] {
            let s = resolve(&Overrides::default(), &[("LOOKOUT_SMTP_URL", ok)], "").expect(ok);
            assert_eq!(s.smtp_url.map(String::from).as_deref(), Some(ok));
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let err = parse_file(Path::new("lookout.toml"), "bindd = \"x\"").expect_err("unknown key");
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    #[test]
    fn the_documented_example_config_parses() {
        let text = include_str!("../docs/lookout.example.toml");
        let file =
            parse_file(Path::new("docs/lookout.example.toml"), text).expect("example parses");
        let s = Settings::resolve(&Overrides::default(), &env_of(&[]), &file).expect("valid");
        assert!(s.smtp_url.is_some());
        assert!(s.base_url.is_some());
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/lookout/db.sqlite"),
            Ok(DatabaseUrl::Sqlite {
                path: "/var/lib/lookout/db.sqlite".into()
            })
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u:secret@h/db"),
            Ok(DatabaseUrl::Postgres { .. })
        ));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        let shown = DatabaseUrl::parse("postgres://u:secret@h/db")
            .expect("valid")
            .to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn base_url_is_normalised() {
        let b = BaseUrl::parse("https://oncall.example.com/").expect("valid");
        assert_eq!(b.as_str(), "https://oncall.example.com");
        assert!(b.is_https());
        assert_eq!(b.join("/login"), "https://oncall.example.com/login");
    }
}
