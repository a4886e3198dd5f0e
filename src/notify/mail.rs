//! Mail delivery over SMTP for pages.
//!
//! A `Mailer` is made once from the settings and cloned into whoever sends; the clones share one
//! pool of SMTP connections. `send` tells the caller whether a retry can help: `Transient` (the
//! server or the network is unwell, or said 4xx) or `Permanent` (5xx, or an address that can
//! never work).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{self, AsyncSmtpTransportBuilder};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::{Host, Url};

const SMTP_PORT: u16 = 25;
const SMTPS_PORT: u16 = 465;
/// A page that waits longer than this is better retried (maybe through another relay or
/// channel) than waited for.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
        if endpoint.credentials.is_some() && !endpoint.implicit_tls && !endpoint.is_loopback() {
            tracing::warn!(
                host = %endpoint.host,
                "the SMTP password will cross the network unencrypted; use smtps:// for a remote relay"
            );
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
    implicit_tls: bool,
    credentials: Option<(String, String)>,
}

impl Endpoint {
    fn from_url(url: &Url) -> Result<Endpoint, MailError> {
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => {
                return Err(MailError::Permanent(format!(
                    "SMTP URL scheme '{other}' is not supported; use smtp:// or smtps://"
                )));
            }
        };
        // Url keeps the brackets of an IPv6 host in host_str; the resolver wants them off.
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(MailError::Permanent("the SMTP URL has no host".into())),
        };
        let port = url
            .port()
            .unwrap_or(if implicit_tls { SMTPS_PORT } else { SMTP_PORT });
        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| {
                    MailError::Permanent(format!("the SMTP {what} is not UTF-8 once decoded"))
                })
        };
        let user = decode(url.username(), "user name")?;
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(MailError::Permanent(
                    "the SMTP URL has a password but no user name".into(),
                ));
            }
            (false, password) => Some((user, password.unwrap_or_default())),
        };
        Ok(Endpoint {
            host,
            port,
            implicit_tls,
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
            .timeout(Some(timeout));
        if self.implicit_tls {
            let tls = TlsParameters::new(self.host.clone()).map_err(|e| {
                MailError::Permanent(format!("cannot set up TLS for {}: {e}", self.host))
            })?;
            builder = builder.tls(Tls::Wrapper(tls));
        }
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder)
    }
}

/// What went wrong, reduced to what decides a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// 4xx: greylisting, a full queue, a rate limit.
    TransientReply,
    /// 5xx: no such mailbox, message refused, credentials refused.
    PermanentReply,
    /// lettre refused before sending, e.g. a non-ASCII address to a server without SMTPUTF8,
    /// or no authentication mechanism in common: the same message fails the same way again.
    Client,
    /// Refused or reset connection, TLS handshake, a garbled or cut-off reply.
    Connection,
}

impl Failure {
    fn of(e: &smtp::Error) -> Failure {
        if e.is_transient() {
            Failure::TransientReply
        } else if e.is_permanent() {
            Failure::PermanentReply
        } else if e.is_client() {
            Failure::Client
        } else {
            Failure::Connection
        }
    }

    fn into_error(self, detail: String) -> MailError {
        match self {
            Failure::TransientReply | Failure::Connection => MailError::Transient(detail),
            Failure::PermanentReply | Failure::Client => MailError::Permanent(detail),
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

    #[test]
    fn plain_smtp_defaults_to_port_25_without_tls_or_credentials() {
        assert_eq!(
            endpoint("smtp://mail.internal").unwrap(),
            Endpoint {
                host: "mail.internal".into(),
                port: 25,
                implicit_tls: false,
                credentials: None,
            }
        );
        assert_eq!(endpoint("smtp://127.0.0.1:2525").unwrap().port, 2525);
    }

    #[test]
    fn smtps_defaults_to_port_465_with_implicit_tls() {
        let e = endpoint("smtps://relay.example.com").unwrap();
        assert_eq!((e.port, e.implicit_tls), (465, true));
        assert_eq!(
            endpoint("smtps://relay.example.com:1465").unwrap().port,
            1465
        );
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
}
