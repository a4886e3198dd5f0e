//! Mail delivery over SMTP for pages.
//!
//! A `Mailer` is made once from the settings and cloned into whoever sends; the clones share one
//! pool of SMTP connections. `send` tells the caller whether a retry can help: `Transient` (the
//! server or the network is unwell, or said 4xx), `Permanent` (5xx, or an address that can
//! never work) or `Config` (the relay refuses what the settings make us do, such as the login:
//! every message fails the same way until an admin changes `LOOKOUT_SMTP_URL` or the relay).
//!
//! `LOOKOUT_SMTP_URL` is `smtp://` or `smtps://`, with optional `user:password@` and the query
//! parameters `tls=starttls|opportunistic|none` (smtp:// only) and `ca=/path/to/ca.pem`; see
//! `Endpoint::parse`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{self, AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::{Host, Url};

const SMTP_PORT: u16 = 25;
const SMTPS_PORT: u16 = 465;
/// The submission port (RFC 6409), where relays expect STARTTLS before a login.
const SUBMISSION_PORT: u16 = 587;
/// A page that waits longer than this is better retried (maybe through another relay or
/// channel) than waited for.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections kept open to the relay: as many as the outbox sends at once (lettre's default
/// of 10 made a storm of pages queue for a connection).
const POOL_CONNECTIONS: u32 = 16;

/// One message to one person, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Chosen by the caller from the notification, so that a message sent again after a retry
    /// carries the same Message-ID and the receiver can tell it is a duplicate.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Try again later: no connection, no answer in time, or the server said 4xx.
    #[error("mail not sent, try again later: {0}")]
    Transient(String),
    /// Retrying cannot help: the server said 5xx, or an address or setting is unusable.
    #[error("mail refused: {0}")]
    Permanent(String),
    /// The relay refuses what the settings make us do: the login (530, 534, 535, 538), every
    /// login mechanism we know, or the STARTTLS that `tls=starttls` requires. Not this message's
    /// fault, so it must not be given up on, but nor will it pass by itself: someone has to fix
    /// `LOOKOUT_SMTP_URL` or the relay. The text says what to check.
    #[error("mail settings problem: {0}")]
    Config(String),
}

impl MailError {
    /// True when the settings, not the message or the moment, are at fault.
    pub fn is_config(&self) -> bool {
        matches!(self, MailError::Config(_))
    }
}

#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
    timeout: Duration,
}

struct Inner {
    /// Kept to build a fresh pool after a timeout (see `Mailer::discard_pool`).
    builder: AsyncSmtpTransportBuilder,
    pool: Mutex<Pool>,
    from: Mailbox,
}

struct Pool {
    generation: u64,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    /// Must be called inside the Tokio runtime: the connection pool starts its cleanup task.
    pub fn from_settings(smtp_url: &Url, mail_from: &str) -> Result<Mailer, MailError> {
        let from: Mailbox = mail_from
            .parse()
            .map_err(|e| MailError::Permanent(format!("sender address '{mail_from}': {e}")))?;
        let endpoint = Endpoint::from_url(smtp_url)?;
        if endpoint.credentials.is_some() && !endpoint.is_loopback() {
            match endpoint.security {
                Security::None => tracing::warn!(
                    host = %endpoint.host,
                    "the SMTP password will cross the network unencrypted; use smtps:// or \
                     ?tls=starttls for a remote relay"
                ),
                // Whoever can strip the STARTTLS offer from the server's greeting reads the
                // password; only `starttls` or `smtps://` refuse to go on in clear.
                Security::Opportunistic => tracing::warn!(
                    host = %endpoint.host,
                    "the SMTP password will cross the network unencrypted whenever the relay \
                     does not offer STARTTLS; use ?tls=starttls or smtps:// for a remote relay"
                ),
                Security::StartTls | Security::Implicit => {}
            }
        }
        let builder = endpoint.transport_builder(DEFAULT_TIMEOUT)?;
        Ok(Mailer::build(builder, from, DEFAULT_TIMEOUT))
    }

    /// The same relay with another limit on connecting and on a whole delivery.
    pub fn with_timeout(self, timeout: Duration) -> Mailer {
        let builder = self.inner.builder.clone().timeout(Some(timeout));
        Mailer::build(builder, self.inner.from.clone(), timeout)
    }

    fn build(builder: AsyncSmtpTransportBuilder, from: Mailbox, timeout: Duration) -> Mailer {
        let transport = builder.clone().build();
        Mailer {
            inner: Arc::new(Inner {
                builder,
                pool: Mutex::new(Pool {
                    generation: 0,
                    transport,
                }),
                from,
            }),
            timeout,
        }
    }

    /// A `Transient` error after a timeout may still mean the message arrived: retry with the
    /// same `message_id`, so that the receiver can see the duplicate.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        let (generation, transport) = {
            let pool = self
                .inner
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (pool.generation, pool.transport.clone())
        };
        let mut unfinished = DiscardPoolUnlessFinished {
            mailer: self,
            generation,
            finished: false,
        };
        // lettre bounds only the TCP connect; a relay that accepts and then stalls would hold a
        // page forever without this.
        let result = tokio::time::timeout(self.timeout, transport.send(message)).await;
        unfinished.finished = result.is_ok();
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failure::of(&e).into_error(e.to_string())),
            Err(_) => Err(MailError::Transient(format!(
                "the SMTP server did not finish within {} s",
                self.timeout.as_secs_f32()
            ))),
        }
    }

    fn discard_pool(&self, generation: u64) {
        // Building a pool and closing one both spawn tasks. Without a runtime (a send dropped
        // after its runtime ended) no later send can run on this pool either.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let old = {
            let mut pool = self
                .inner
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Another send cut off at the same moment may have replaced it already.
            if pool.generation != generation {
                return;
            }
            pool.generation += 1;
            std::mem::replace(&mut pool.transport, self.inner.builder.clone().build())
        };
        let limit = self.timeout;
        // Closing sends QUIT to a server that may never answer; bound it too.
        runtime.spawn(async move {
            let _ = tokio::time::timeout(limit, old.shutdown()).await;
        });
    }

    fn message(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Permanent(format!("recipient '{}': {e}", mail.to)))?;
        Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(one_line(&mail.subject))
            .message_id(Some(message_id(&mail.message_id)?))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// A send cut off midway, by our timeout or by the caller dropping the future, leaves its
/// connection mid-conversation, and lettre would park it for reuse: the next message would then
/// read the late replies meant for this one. So unless the send ran to its end, the whole pool
/// goes and the next send connects afresh.
struct DiscardPoolUnlessFinished<'a> {
    mailer: &'a Mailer,
    generation: u64,
    finished: bool,
}

impl Drop for DiscardPoolUnlessFinished<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.mailer.discard_pool(self.generation);
        }
    }
}

/// Where and how to connect, read from `LOOKOUT_SMTP_URL`.
#[derive(Debug, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
    /// Trusted besides the system's roots, for a relay with a private CA.
    root_ca: Option<RootCa>,
    credentials: Option<(String, String)>,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Plain text throughout: a relay on this host or on a network trusted as much.
    None,
    /// STARTTLS when the server offers it, plain text when it does not (or when someone on the
    /// way strips the offer).
    Opportunistic,
    /// STARTTLS or nothing: no login and no message before the upgrade.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// A PEM file named by `ca=`, read once when the settings are checked so that a missing or
/// wrong file stops the program at start, not at the first page.
#[derive(Debug, PartialEq, Eq)]
struct RootCa {
    path: PathBuf,
    pem: Vec<u8>,
}

/// The `tls` values, in the order the messages list them.
const TLS_VALUES: &str = "starttls, opportunistic, none";

impl Endpoint {
    fn from_url(url: &Url) -> Result<Endpoint, MailError> {
        Endpoint::parse(url).map_err(MailError::Permanent)
    }

    /// The messages name the part of the URL at fault and never quote the password.
    fn parse(url: &Url) -> Result<Endpoint, String> {
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(format!(
                    "SMTP URL scheme '{other}' is not supported; use smtp:// or smtps://"
                ));
            }
        };
        // Url keeps the brackets of an IPv6 host in host_str; the resolver wants them off.
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("the SMTP URL has no host".into()),
        };
        let port = url
            .port()
            .unwrap_or(if implicit_tls { SMTPS_PORT } else { SMTP_PORT });
        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| format!("the SMTP {what} is not UTF-8 once decoded"))
        };
        let user = decode(url.username(), "user name")?;
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err("the SMTP URL has a password but no user name".into());
            }
            (false, password) => Some((user, password.unwrap_or_default())),
        };

        let (mut tls, mut ca) = (None, None);
        for (key, value) in url.query_pairs() {
            let slot = match key.as_ref() {
                "tls" => &mut tls,
                "ca" => &mut ca,
                other => {
                    return Err(format!(
                        "unknown parameter '{other}' in the SMTP URL; the known ones are tls and ca"
                    ));
                }
            };
            // Two values for one parameter leave the reader guessing which one counts.
            if slot.replace(value.into_owned()).is_some() {
                return Err(format!(
                    "the parameter '{key}' is given twice in the SMTP URL"
                ));
            }
        }
        let security = match (implicit_tls, tls.as_deref()) {
            (true, None) => Security::Implicit,
            (true, Some(_)) => {
                return Err(
                    "the parameter 'tls' is for smtp:// only; smtps:// is TLS from the start"
                        .into(),
                );
            }
            // The submission port is where a login is expected, so it gets TLS unless told
            // otherwise; 25 and the like are mostly a relay next door that may not have it.
            (false, None) if port == SUBMISSION_PORT => Security::StartTls,
            (false, None) => Security::None,
            (false, Some("starttls")) => Security::StartTls,
            (false, Some("opportunistic")) => Security::Opportunistic,
            (false, Some("none")) => Security::None,
            (false, Some(other)) => {
                return Err(format!(
                    "the parameter 'tls' is '{other}'; use one of {TLS_VALUES}"
                ));
            }
        };
        let root_ca = match ca {
            None => None,
            Some(_) if security == Security::None => {
                return Err(
                    "the parameter 'ca' needs TLS; add tls=starttls or use smtps://".into(),
                );
            }
            Some(path) => Some(RootCa::read(path)?),
        };
        Ok(Endpoint {
            host,
            port,
            security,
            root_ca,
            credentials,
        })
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn transport_builder(&self, timeout: Duration) -> Result<AsyncSmtpTransportBuilder, MailError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(timeout))
            .pool_config(PoolConfig::new().max_size(POOL_CONNECTIONS));
        let tls = match self.security {
            Security::None => Tls::None,
            Security::Opportunistic => Tls::Opportunistic(self.tls_parameters()?),
            Security::StartTls => Tls::Required(self.tls_parameters()?),
            Security::Implicit => Tls::Wrapper(self.tls_parameters()?),
        };
        builder = builder.tls(tls);
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder)
    }

    fn tls_parameters(&self) -> Result<TlsParameters, MailError> {
        let unusable = |e: lettre::transport::smtp::Error| {
            MailError::Permanent(format!("cannot set up TLS for {}: {e}", self.host))
        };
        let mut parameters = TlsParameters::builder(self.host.clone());
        if let Some(ca) = &self.root_ca {
            parameters =
                parameters.add_root_certificate(Certificate::from_pem(&ca.pem).map_err(unusable)?);
        }
        parameters.build().map_err(unusable)
    }
}

impl RootCa {
    fn read(path: String) -> Result<RootCa, String> {
        if path.is_empty() {
            return Err("the parameter 'ca' is empty; give the path of a PEM file".into());
        }
        let path = PathBuf::from(path);
        let pem = std::fs::read(&path)
            .map_err(|e| format!("the parameter 'ca': cannot read {}: {e}", path.display()))?;
        // lettre takes a file without any certificate in it as an empty list, and the relay's
        // certificate would then fail at the first page instead of now.
        let parsed = Certificate::from_pem(&pem).is_ok();
        if !parsed
            || !pem
                .windows(CERT_PEM_LABEL.len())
                .any(|w| w == CERT_PEM_LABEL)
        {
            return Err(format!(
                "the parameter 'ca': {} holds no PEM certificate",
                path.display()
            ));
        }
        Ok(RootCa { path, pem })
    }
}

const CERT_PEM_LABEL: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// Checks `LOOKOUT_SMTP_URL` as `Mailer::from_settings` will read it, for the settings to refuse
/// a bad one at start. The message names the parameter at fault and never the password.
pub fn check_smtp_url(url: &Url) -> Result<(), String> {
    Endpoint::parse(url).map(drop)
}

/// What went wrong, reduced to what decides a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// 4xx: greylisting, a full queue, a rate limit.
    TransientReply,
    /// 5xx: no such mailbox, message refused.
    PermanentReply,
    /// lettre refused before sending, e.g. a non-ASCII address to a server without SMTPUTF8:
    /// the same message fails the same way again.
    Client,
    /// Refused or reset connection, TLS handshake, a garbled or cut-off reply.
    Connection,
    /// The relay refuses what the settings make us do; `what` happened, check `advice`.
    Settings {
        what: &'static str,
        advice: &'static str,
    },
}

impl Failure {
    fn of(e: &smtp::Error) -> Failure {
        if let Some(settings) = Failure::settings(e) {
            settings
        } else if e.is_transient() {
            Failure::TransientReply
        } else if e.is_permanent() {
            Failure::PermanentReply
        } else if e.is_client() {
            Failure::Client
        } else {
            Failure::Connection
        }
    }

    fn settings(e: &smtp::Error) -> Option<Failure> {
        let (what, advice) = match e.status().map(u16::from) {
            // RFC 4954: each of these answers every message alike until someone acts.
            Some(530) => (
                "the SMTP server wants a login (or STARTTLS) first",
                "add user:password@ or tls=starttls to LOOKOUT_SMTP_URL",
            ),
            Some(534) => (
                "the SMTP server finds the login mechanism too weak",
                "use tls=starttls or smtps:// in LOOKOUT_SMTP_URL",
            ),
            Some(535) => (
                "the SMTP server refused the login",
                "check the user and password in LOOKOUT_SMTP_URL",
            ),
            Some(538) => (
                "the SMTP server wants encryption before the login",
                "use tls=starttls or smtps:// in LOOKOUT_SMTP_URL",
            ),
            Some(_) => return None,
            // lettre says these only in words; tests/api/smtp.rs meets both, so a rewording in
            // a lettre upgrade fails a test instead of turning them into lost pages.
            None if e.is_client() => {
                let text = e.to_string();
                if text.contains("No compatible authentication mechanism") {
                    (
                        "the SMTP server offers no login mechanism Lookout has (PLAIN, LOGIN)",
                        "many relays offer one only after STARTTLS: add tls=starttls to \
                         LOOKOUT_SMTP_URL, or drop user:password@ if the relay needs no login",
                    )
                } else if text.contains("STARTTLS is not supported") {
                    (
                        "the SMTP server does not offer the STARTTLS that tls=starttls requires",
                        "check the relay, or the port and tls= in LOOKOUT_SMTP_URL",
                    )
                } else {
                    return None;
                }
            }
            None => return None,
        };
        Some(Failure::Settings { what, advice })
    }

    fn into_error(self, detail: String) -> MailError {
        match self {
            Failure::TransientReply | Failure::Connection => MailError::Transient(detail),
            Failure::PermanentReply | Failure::Client => MailError::Permanent(detail),
            Failure::Settings { what, advice } => {
                MailError::Config(format!("{what}: {advice} ({detail})"))
            }
        }
    }
}

/// Titles come from alert payloads and may hold line breaks; a header must be one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `<left@right>`, brackets added when the caller left them off.
fn message_id(raw: &str) -> Result<String, MailError> {
    let bare = raw.trim().trim_start_matches('<').trim_end_matches('>');
    let valid = bare.split_once('@').is_some_and(|(left, right)| {
        !left.is_empty()
            && !right.is_empty()
            && !right.contains('@')
            && bare
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
    });
    if valid {
        Ok(format!("<{bare}>"))
    } else {
        Err(MailError::Permanent(format!("'{raw}' is not a Message-ID")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(raw: &str) -> Result<Endpoint, MailError> {
        Endpoint::from_url(&Url::parse(raw).unwrap())
    }

    fn mail() -> OutgoingMail {
        OutgoingMail {
            to: "Ann Example <ann@example.com>".into(),
            subject: "[P0] #42 Checkout errors spiking (triggered)".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
            message_id: "<n-1@lookout>".into(),
        }
    }

    /// A file holding a PEM certificate, removed when dropped.
    fn ca_file() -> tempfile::NamedTempFile {
        let ca = rcgen::generate_simple_self_signed(vec!["relay.example.com".to_owned()]).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, ca.cert.pem().as_bytes()).unwrap();
        file
    }

    fn error_of(raw: &str) -> String {
        match endpoint(raw) {
            Err(MailError::Permanent(message)) => message,
            other => panic!("{raw}: expected a permanent error, got {other:?}"),
        }
    }

    #[test]
    fn plain_smtp_defaults_to_port_25_without_tls_or_credentials() {
        assert_eq!(
            endpoint("smtp://mail.internal").unwrap(),
            Endpoint {
                host: "mail.internal".into(),
                port: 25,
                security: Security::None,
                root_ca: None,
                credentials: None,
            }
        );
        let e = endpoint("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((e.port, e.security), (2525, Security::None));
    }

    #[test]
    fn the_submission_port_defaults_to_required_starttls() {
        let e = endpoint("smtp://u:p@relay.example.com:587").unwrap();
        assert_eq!((e.port, e.security), (587, Security::StartTls));
        let e = endpoint("smtp://relay.example.com:587?tls=none").unwrap();
        assert_eq!(e.security, Security::None);
    }

    #[test]
    fn smtps_defaults_to_port_465_with_implicit_tls() {
        let e = endpoint("smtps://relay.example.com").unwrap();
        assert_eq!((e.port, e.security), (465, Security::Implicit));
        assert_eq!(
            endpoint("smtps://relay.example.com:1465").unwrap().port,
            1465
        );
    }

    #[test]
    fn the_tls_parameter_chooses_how_smtp_is_protected() {
        for (query, security) in [
            ("tls=starttls", Security::StartTls),
            ("tls=opportunistic", Security::Opportunistic),
            ("tls=none", Security::None),
        ] {
            for port in [25, 587, 2525] {
                let raw = format!("smtp://relay.example.com:{port}?{query}");
                assert_eq!(endpoint(&raw).unwrap().security, security, "{raw}");
            }
        }
    }

    #[test]
    fn bad_tls_values_and_unknown_parameters_are_refused_by_name() {
        let message = error_of("smtp://relay.example.com?tls=yes");
        assert!(
            message.contains("'tls'") && message.contains("'yes'"),
            "{message}"
        );
        assert!(
            message.contains("starttls, opportunistic, none"),
            "{message}"
        );
        assert!(error_of("smtp://relay.example.com?tls=STARTTLS").contains("'tls'"));
        assert!(error_of("smtp://relay.example.com?tls=").contains("'tls'"));

        let message = error_of("smtp://relay.example.com?starttls=1");
        assert!(
            message.contains("unknown parameter 'starttls'"),
            "{message}"
        );

        let message = error_of("smtp://relay.example.com?tls=none&tls=starttls");
        assert!(message.contains("'tls' is given twice"), "{message}");

        let message = error_of("smtps://relay.example.com?tls=starttls");
        assert!(message.contains("'tls' is for smtp://"), "{message}");
    }

    #[test]
    fn a_ca_file_is_read_and_must_hold_a_certificate() {
        let file = ca_file();
        let path = file.path().to_str().unwrap();
        let e = endpoint(&format!("smtp://relay.example.com:587?ca={path}")).unwrap();
        let ca = e.root_ca.unwrap();
        assert_eq!(ca.path, file.path());
        assert!(ca.pem.starts_with(CERT_PEM_LABEL));
        assert!(endpoint(&format!("smtps://relay.example.com?ca={path}")).is_ok());

        let message = error_of("smtp://relay.example.com:587?ca=/nonexistent/ca.pem");
        assert!(message.contains("'ca'"), "{message}");
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
        assert!(error_of("smtp://relay.example.com:587?ca=").contains("'ca' is empty"));

        let mut junk = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut junk, b"not a certificate\n").unwrap();
        let junk = junk.path().to_str().unwrap();
        let message = error_of(&format!("smtp://relay.example.com:587?ca={junk}"));
        assert!(message.contains("holds no PEM certificate"), "{message}");

        // A CA for a connection that never uses TLS is a mistake worth stopping for.
        let message = error_of(&format!("smtp://relay.example.com:25?ca={path}"));
        assert!(message.contains("'ca' needs TLS"), "{message}");
    }

    #[test]
    fn url_errors_never_quote_the_password() {
        for raw in [
            "smtp://u:s3cret@relay.example.com?tls=bogus",
            "smtp://u:s3cret@relay.example.com?password=s3cret",
            "smtp://u:s3cret@relay.example.com:587?ca=/nonexistent/s",
        ] {
            let message = error_of(raw);
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let e = endpoint("smtps://pager%40example.com:p%3Ass%2Fw%40rd@relay.example.com").unwrap();
        assert_eq!(
            e.credentials,
            Some(("pager@example.com".into(), "p:ss/w@rd".into()))
        );
        let e = endpoint("smtp://apikey@relay.example.com").unwrap();
        assert_eq!(e.credentials, Some(("apikey".into(), String::new())));
    }

    #[test]
    fn bad_urls_are_permanent_errors() {
        assert!(matches!(
            endpoint("smtp://:secret@relay.example.com"),
            Err(MailError::Permanent(_))
        ));
        assert!(matches!(
            endpoint("smtps://u:%FF@relay.example.com"),
            Err(MailError::Permanent(_))
        ));
        assert!(matches!(
            endpoint("http://relay.example.com"),
            Err(MailError::Permanent(_))
        ));
    }

    #[test]
    fn an_ipv6_host_loses_its_brackets_and_loopback_is_recognised() {
        let e = endpoint("smtp://[::1]:2525").unwrap();
        assert_eq!(e.host, "::1");
        assert!(e.is_loopback());
        assert!(endpoint("smtp://localhost").unwrap().is_loopback());
        assert!(!endpoint("smtp://10.0.0.5").unwrap().is_loopback());
    }

    #[test]
    fn replies_and_connection_trouble_are_classified_for_retry() {
        let transient = |f: Failure| matches!(f.into_error("x".into()), MailError::Transient(_));
        assert!(transient(Failure::TransientReply));
        assert!(transient(Failure::Connection));
        assert!(!transient(Failure::PermanentReply));
        assert!(!transient(Failure::Client));
    }

    #[test]
    fn a_refused_login_is_a_settings_problem_that_says_what_to_check() {
        let error = Failure::Settings {
            what: "the SMTP server refused the login",
            advice: "check the user and password in LOOKOUT_SMTP_URL",
        }
        .into_error("permanent error (535): 5.7.8 bad credentials".into());
        assert!(error.is_config(), "{error:?}");
        let shown = error.to_string();
        assert!(shown.starts_with("mail settings problem: "), "{shown}");
        assert!(shown.contains("refused the login"), "{shown}");
        assert!(shown.contains("check the user and password"), "{shown}");
        assert!(shown.contains("535"), "{shown}");
        assert!(!MailError::Permanent("x".into()).is_config());
        assert!(!MailError::Transient("x".into()).is_config());
    }

    #[test]
    fn message_ids_get_brackets_and_junk_is_refused() {
        assert_eq!(message_id("<n-1@lookout>").unwrap(), "<n-1@lookout>");
        assert_eq!(message_id("n-1@lookout").unwrap(), "<n-1@lookout>");
        for bad in [
            "",
            "<>",
            "no-at-sign",
            "a@b@c",
            "<a b@lookout>",
            "a@lookout\r\nBcc: x@y",
        ] {
            assert!(
                matches!(message_id(bad), Err(MailError::Permanent(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_message_has_the_headers_and_both_bodies() {
        let url = Url::parse("smtp://127.0.0.1:2525").unwrap();
        let mailer = Mailer::from_settings(&url, "Lookout <lookout@example.com>").unwrap();
        let mut m = mail();
        m.subject = "Line one\r\nBcc: victim@example.com".into();
        let raw = String::from_utf8(mailer.message(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <n-1@lookout>\r\n"), "{raw}");
        assert!(
            raw.contains("To: \"Ann Example\" <ann@example.com>\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("From: Lookout <lookout@example.com>\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("Subject: Line one Bcc: victim@example.com\r\n"),
            "{raw}"
        );
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
    }

    #[tokio::test]
    async fn unusable_addresses_are_permanent() {
        let url = Url::parse("smtp://127.0.0.1:2525").unwrap();
        assert!(matches!(
            Mailer::from_settings(&url, "not an address"),
            Err(MailError::Permanent(_))
        ));
        let mailer = Mailer::from_settings(&url, "lookout@localhost").unwrap();
        let mut m = mail();
        m.to = "ann at example".into();
        assert!(matches!(
            mailer.send(&m).await,
            Err(MailError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn smtps_sets_up_rustls() {
        let url = Url::parse("smtps://u:p@relay.example.com").unwrap();
        assert!(Mailer::from_settings(&url, "lookout@localhost").is_ok());
    }

    #[tokio::test]
    async fn starttls_sets_up_rustls_with_an_extra_root() {
        let file = ca_file();
        let path = file.path().to_str().unwrap();
        for query in ["tls=starttls", "tls=opportunistic"] {
            let url =
                Url::parse(&format!("smtp://u:p@relay.example.com?{query}&ca={path}")).unwrap();
            assert!(
                Mailer::from_settings(&url, "lookout@localhost").is_ok(),
                "{url}"
            );
        }
    }
}
