//! Mail delivery against a real SMTP conversation.
//!
//! `SmtpSink` is a small SMTP server written here, enough of RFC 5321 for lettre: no pipelining,
//! and on request AUTH PLAIN/LOGIN (RFC 4954) and STARTTLS (RFC 3207) with a certificate made in
//! the test. It keeps each accepted message in memory, with whether it came over TLS and under
//! which login, and can be told to refuse recipients or to stall, so the tests see lettre's real
//! replies and failures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};
use lookout::notify::mail::{MailError, Mailer};
use lookout::notify::page_mail::PageMail;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
use url::Url;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, without the final ".".
    pub data: String,
    /// Whether the connection had been upgraded with STARTTLS when the message came.
    pub tls: bool,
    /// The user the client logged in as, if it did.
    pub user: Option<String>,
}

/// What the sink asks for and offers beyond plain SMTP; the default is neither.
#[derive(Clone, Default)]
pub struct SinkOptions {
    /// Require a login before MAIL: 530 without one, 535 for a wrong one.
    pub login: Option<Login>,
    /// Offer STARTTLS with this certificate. Like most relays, the sink then offers AUTH only
    /// over TLS.
    pub tls: Option<Arc<ServerConfig>>,
}

#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
    /// Offered in this order, e.g. `&["PLAIN", "LOGIN"]`.
    pub mechanisms: &'static [&'static str],
}

impl Login {
    pub fn new(user: &str, password: &str, mechanisms: &'static [&'static str]) -> Login {
        Login {
            user: user.to_owned(),
            password: password.to_owned(),
            mechanisms,
        }
    }
}

/// A private CA and a certificate it issued for 127.0.0.1 and localhost, as a relay inside a
/// company would have.
pub struct TestCa {
    /// The CA's certificate, for `ca=`.
    pub pem: String,
    /// The sink's side: the issued certificate and its key.
    pub server: Arc<ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Lookout test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let mut leaf_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        leaf_params
            .extended_key_usages
            .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivatePkcs8KeyDer::from(leaf_key.serialize_der()).into(),
            )
            .unwrap();
        TestCa {
            pem: ca_cert.pem(),
            server: Arc::new(server),
        }
    }

    /// The CA certificate in a file that lives as long as the returned handle.
    pub fn pem_file(&self) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, self.pem.as_bytes()).unwrap();
        file
    }
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

struct State {
    options: SinkOptions,
    messages: Mutex<Vec<Received>>,
    /// The number of messages so far, for `wait_for`.
    arrived: watch::Sender<usize>,
    fail: Mutex<Option<String>>,
    stall: AtomicBool,
    connections: AtomicUsize,
    /// AUTH commands received, right or wrong, over TLS or not.
    logins_tried: AtomicUsize,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::start_with(SinkOptions::default()).await
    }

    pub async fn start_with(options: SinkOptions) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            options,
            messages: Mutex::new(Vec::new()),
            arrived: watch::Sender::new(0),
            fail: Mutex::new(None),
            stall: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            logins_tried: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                // A client that hangs up mid-conversation is its own business.
                tokio::spawn(session(stream, shared.clone()));
            }
        });
        SmtpSink {
            addr,
            state,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// `smtp://user:password@host:port?query`, the user and password percent-encoded.
    pub fn url_with(&self, login: Option<(&str, &str)>, query: &str) -> String {
        let mut url = Url::parse(&self.url()).unwrap();
        if let Some((user, password)) = login {
            url.set_username(user).unwrap();
            url.set_password(Some(password)).unwrap();
        }
        url.set_query((!query.is_empty()).then_some(query));
        url.into()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn logins_tried(&self) -> usize {
        self.state.logins_tried.load(Ordering::SeqCst)
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        self.wait_for_within(count, Duration::from_secs(10)).await
    }

    /// As `wait_for`, for many messages.
    pub async fn wait_for_within(&self, count: usize, limit: Duration) -> Vec<Received> {
        let mut arrived = self.state.arrived.subscribe();
        let waited = tokio::time::timeout(limit, arrived.wait_for(|n| *n >= count));
        if waited.await.is_err() {
            panic!(
                "the SMTP sink received {} of {count} expected messages within {limit:?}",
                self.messages().len()
            );
        }
        self.messages()
    }

    /// Answer every RCPT TO with `reply` (e.g. "451 4.7.1 greylisted") until set back to None.
    pub fn fail_with(&self, reply: Option<&str>) {
        *self.state.fail.lock().unwrap() = reply.map(str::to_owned);
    }

    /// Never answer DATA, like a relay that accepts connections and then hangs.
    pub fn stall(&self, stalled: bool) {
        self.state.stall.store(stalled, Ordering::SeqCst);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The connection before and after STARTTLS, so that one session loop serves both.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = BufReader<Box<dyn Io>>;

async fn session(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let mut conn: Conn = BufReader::new(Box::new(stream));
    send(&mut conn, "220 sink ESMTP ready").await?;
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    let (mut tls, mut user) = (false, None::<String>);
    loop {
        let Some(command) = read_line(&mut conn).await? else {
            return Ok(());
        };
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => ehlo(&state.options, tls),
            "HELO" | "NOOP" => "250 OK".to_owned(),
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 OK".to_owned()
            }
            "STARTTLS" => match &state.options.tls {
                Some(config) if !tls => {
                    send(&mut conn, "220 2.0.0 ready to start TLS").await?;
                    // Anything the client sent after STARTTLS in clear is dropped with the
                    // buffer, as RFC 3207 asks.
                    let plain = conn.into_inner();
                    let encrypted = TlsAcceptor::from(config.clone()).accept(plain).await?;
                    conn = BufReader::new(Box::new(encrypted));
                    // RFC 3207: the client starts over with EHLO and knows nothing from before.
                    (from, to, user, tls) = (None, Vec::new(), None, true);
                    continue;
                }
                Some(_) => "503 5.5.1 TLS already active".to_owned(),
                None => "502 5.5.2 command not recognised".to_owned(),
            },
            "AUTH" => {
                state.logins_tried.fetch_add(1, Ordering::SeqCst);
                match &state.options.login {
                    Some(login) if auth_offered(&state.options, tls) => {
                        match authenticate(&mut conn, login, &command).await? {
                            Ok(name) => {
                                user = Some(name);
                                "235 2.7.0 Authentication successful".to_owned()
                            }
                            Err(reply) => reply,
                        }
                    }
                    _ => "503 5.5.1 AUTH not available".to_owned(),
                }
            }
            "MAIL" if state.options.login.is_some() && user.is_none() => {
                "530 5.7.0 Authentication required".to_owned()
            }
            "MAIL" => {
                (from, to) = (Some(angle_addr(&command)), Vec::new());
                "250 OK".to_owned()
            }
            "RCPT" => match state.fail.lock().unwrap().clone() {
                Some(failure) => failure,
                None if from.is_none() => "503 5.5.1 MAIL first".to_owned(),
                None => {
                    to.push(angle_addr(&command));
                    "250 OK".to_owned()
                }
            },
            "DATA" if state.stall.load(Ordering::SeqCst) => {
                // Swallow whatever comes next and never answer; the client has to give up.
                let mut line = Vec::new();
                while conn.read_until(b'\n', &mut line).await? > 0 {}
                return Ok(());
            }
            "DATA" if from.is_none() || to.is_empty() => "503 5.5.1 MAIL and RCPT first".to_owned(),
            "DATA" => {
                send(&mut conn, "354 end with <CRLF>.<CRLF>").await?;
                let data = read_data(&mut conn).await?;
                let received = Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                    tls,
                    user: user.clone(),
                };
                let mut messages = state.messages.lock().unwrap();
                messages.push(received);
                state.arrived.send_replace(messages.len());
                "250 2.0.0 queued".to_owned()
            }
            "QUIT" => {
                send(&mut conn, "221 2.0.0 bye").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognised".to_owned(),
        };
        send(&mut conn, &reply).await?;
    }
}

fn auth_offered(options: &SinkOptions, tls: bool) -> bool {
    options.login.is_some() && (tls || options.tls.is_none())
}

fn ehlo(options: &SinkOptions, tls: bool) -> String {
    let mut lines = vec!["sink".to_owned(), "8BITMIME".to_owned()];
    if options.tls.is_some() && !tls {
        lines.push("STARTTLS".to_owned());
    }
    if let Some(login) = options
        .login
        .as_ref()
        .filter(|_| auth_offered(options, tls))
    {
        lines.push(format!("AUTH {}", login.mechanisms.join(" ")));
    }
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| format!("250{}{line}", if i == last { ' ' } else { '-' }))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// AUTH PLAIN (with or without the initial response) or AUTH LOGIN: the user on success, the
/// reply to give on failure.
async fn authenticate(
    conn: &mut Conn,
    login: &Login,
    command: &str,
) -> std::io::Result<Result<String, String>> {
    let mut words = command.split_whitespace().skip(1);
    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
    let initial = words.next().map(str::to_owned);
    if !login.mechanisms.contains(&mechanism.as_str()) {
        return Ok(Err("504 5.5.4 mechanism not supported".to_owned()));
    }
    let (user, password) = match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(response) => response,
                None => ask(conn, "").await?,
            };
            // authzid NUL authcid NUL password
            let decoded = decode(&response);
            let mut parts = decoded.splitn(3, '\0').skip(1);
            (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            )
        }
        _ => {
            let user = match initial {
                Some(user) => user,
                None => ask(conn, "Username:").await?,
            };
            let password = ask(conn, "Password:").await?;
            (decode(&user), decode(&password))
        }
    };
    Ok(if user == login.user && password == login.password {
        Ok(user)
    } else {
        Err("535 5.7.8 Authentication credentials invalid".to_owned())
    })
}

/// A 334 challenge, and the client's base64 answer to it.
async fn ask(conn: &mut Conn, challenge: &str) -> std::io::Result<String> {
    send(conn, &format!("334 {}", BASE64.encode(challenge))).await?;
    read_line(conn)
        .await?
        .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

fn decode(text: &str) -> String {
    String::from_utf8_lossy(&BASE64.decode(text.trim()).unwrap_or_default()).into_owned()
}

async fn send(conn: &mut Conn, reply: &str) -> std::io::Result<()> {
    conn.write_all(format!("{reply}\r\n").as_bytes()).await?;
    // Over TLS the reply waits in rustls until flushed.
    conn.flush().await
}

/// One command line without its CRLF; None at the end of the stream.
async fn read_line(conn: &mut Conn) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    if conn.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&line).trim_end().to_owned()))
}

/// Lines up to the lone ".", with the leading dot that the client doubled taken off again.
async fn read_data(conn: &mut Conn) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if conn.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            return Ok(String::from_utf8_lossy(&data).into_owned());
        }
        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
    }
}

/// The address in `MAIL FROM:<a@b> BODY=8BITMIME`.
fn angle_addr(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

fn mailer(url: &str) -> Mailer {
    Mailer::from_settings(&Url::parse(url).unwrap(), "Lookout <lookout@example.com>")
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn page() -> PageMail<'static> {
    PageMail {
        incident_number: 42,
        title: "Checkout errors spiking",
        severity: "P0",
        status: "triggered",
        service: "Checkout",
        reason: "escalated to step 2: not acknowledged within 15 min",
        ack_deadline: Utc.with_ymd_and_hms(2024, 5, 14, 14, 30, 0).unwrap(),
        resolve_deadline: Utc.with_ymd_and_hms(2024, 5, 14, 18, 0, 0).unwrap(),
        incident_url: "https://lookout.example.com/incidents/abc",
        ack_url: Some("https://lookout.example.com/ack/token"),
        runbook_url: None,
        time_zone: chrono_tz::Europe::Berlin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_rendered_page_arrives_with_its_headers_and_both_parts() {
    let sink = SmtpSink::start().await;
    let mail = page()
        .render("ann@example.com", "<notification-1@lookout>")
        .unwrap();
    mailer(&sink.url()).send(&mail).await.unwrap();

    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.from, "lookout@example.com");
    assert_eq!(m.to, vec!["ann@example.com".to_owned()]);
    for needle in [
        "To: ann@example.com\r\n",
        "Subject: [P0] #42 Checkout errors spiking (triggered)\r\n",
        "Message-ID: <notification-1@lookout>\r\n",
        "Content-Type: multipart/alternative;",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
        "Checkout errors spiking",
        "https://lookout.example.com/ack/token",
    ] {
        assert!(
            m.data.contains(needle),
            "{needle:?} missing from:\n{}",
            m.data
        );
    }
}

// current_thread: the pool parks a used connection in a task of its own, which then runs at
// the yield below, so whether the second send finds it does not depend on timing.
#[tokio::test(flavor = "current_thread")]
async fn smtp_clones_of_a_mailer_share_one_connection() {
    let sink = SmtpSink::start().await;
    let first = mailer(&sink.url());
    let second = first.clone();
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    first.send(&mail).await.unwrap();
    tokio::task::yield_now().await;
    second.send(&mail).await.unwrap();
    assert_eq!(sink.wait_for(2).await.len(), 2);
    assert_eq!(sink.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_4xx_is_transient_and_a_later_send_arrives() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url());
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    sink.fail_with(Some("451 4.7.1 greylisted, try again later"));
    match mailer.send(&mail).await {
        Err(MailError::Transient(detail)) => assert!(detail.contains("451"), "{detail}"),
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert!(sink.messages().is_empty());

    sink.fail_with(None);
    mailer.send(&mail).await.unwrap();
    let got = sink.wait_for(1).await;
    assert!(got[0].data.contains("Message-ID: <n-1@lookout>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_5xx_is_permanent() {
    let sink = SmtpSink::start().await;
    sink.fail_with(Some("550 5.1.1 no such user here"));
    let mail = page()
        .render("nobody@example.com", "<n-1@lookout>")
        .unwrap();
    match mailer(&sink.url()).send(&mail).await {
        Err(MailError::Permanent(detail)) => assert!(detail.contains("550"), "{detail}"),
        other => panic!("expected a permanent error, got {other:?}"),
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_closed_port_is_transient() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    let result = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(&mail)
        .await;
    assert!(matches!(result, Err(MailError::Transient(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_stalled_server_times_out_and_the_next_send_uses_a_fresh_connection() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url()).with_timeout(Duration::from_millis(500));
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    sink.stall(true);
    let result = mailer.send(&mail).await;
    assert!(matches!(result, Err(MailError::Transient(_))), "{result:?}");

    // The stalled connection still waits for its DATA reply; reusing it would time out again.
    sink.stall(false);
    mailer.send(&mail).await.unwrap();
    assert_eq!(sink.wait_for(1).await.len(), 1);
    assert_eq!(sink.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_send_its_caller_gives_up_on_leaves_no_stale_connection() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url());
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    sink.stall(true);
    let gave_up = tokio::time::timeout(Duration::from_millis(300), mailer.send(&mail)).await;
    assert!(gave_up.is_err(), "{gave_up:?}");

    sink.stall(false);
    mailer.send(&mail).await.unwrap();
    assert_eq!(sink.wait_for(1).await.len(), 1);
    assert_eq!(sink.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_with_a_private_ca_delivers_over_tls_and_logs_in_inside_it() {
    let ca = TestCa::new();
    let sink = SmtpSink::start_with(SinkOptions {
        login: Some(Login::new("pager", "s3cret", &["PLAIN", "LOGIN"])),
        tls: Some(ca.server.clone()),
    })
    .await;
    let ca_file = ca.pem_file();
    let query = format!("tls=starttls&ca={}", ca_file.path().display());
    let url = sink.url_with(Some(("pager", "s3cret")), &query);
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    mailer(&url).send(&mail).await.unwrap();

    let got = sink.wait_for(1).await;
    assert!(got[0].tls, "the message came in clear");
    // The sink offers AUTH only after STARTTLS, so a login at all means it was inside TLS.
    assert_eq!(got[0].user.as_deref(), Some("pager"));
    assert!(got[0].data.contains("Message-ID: <n-1@lookout>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_required_starttls_sends_nothing_to_a_server_without_it() {
    let ca = TestCa::new();
    let ca_file = ca.pem_file();
    let sink = SmtpSink::start_with(SinkOptions {
        login: Some(Login::new("pager", "s3cret", &["PLAIN"])),
        tls: None,
    })
    .await;
    let query = format!("tls=starttls&ca={}", ca_file.path().display());
    let url = sink.url_with(Some(("pager", "s3cret")), &query);
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    match mailer(&url).send(&mail).await {
        Err(MailError::Config(detail)) => {
            assert!(detail.contains("STARTTLS"), "{detail}");
        }
        other => panic!("expected a settings problem, got {other:?}"),
    }
    assert!(sink.messages().is_empty());
    assert_eq!(sink.logins_tried(), 0, "the password went out in clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_refuses_a_certificate_from_an_unknown_ca() {
    let ca = TestCa::new();
    let sink = SmtpSink::start_with(SinkOptions {
        login: None,
        tls: Some(ca.server.clone()),
    })
    .await;
    // Without ca= only the system's roots count, and they never signed the test CA.
    let url = sink.url_with(None, "tls=starttls");
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    match mailer(&url).send(&mail).await {
        Err(MailError::Transient(detail)) => assert!(detail.contains("certificate"), "{detail}"),
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_opportunistic_tls_upgrades_when_offered_and_goes_plain_when_not() {
    let ca = TestCa::new();
    let ca_file = ca.pem_file();
    let query = format!("tls=opportunistic&ca={}", ca_file.path().display());
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();

    let with_tls = SmtpSink::start_with(SinkOptions {
        login: None,
        tls: Some(ca.server.clone()),
    })
    .await;
    mailer(&with_tls.url_with(None, &query))
        .send(&mail)
        .await
        .unwrap();
    assert!(with_tls.wait_for(1).await[0].tls);

    let plain = SmtpSink::start().await;
    mailer(&plain.url_with(None, &query))
        .send(&mail)
        .await
        .unwrap();
    assert!(!plain.wait_for(1).await[0].tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_wrong_password_is_a_settings_problem_and_nothing_is_delivered() {
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    for mechanisms in [&["PLAIN"], &["LOGIN"]] {
        let mechanism = mechanisms[0];
        let sink = SmtpSink::start_with(SinkOptions {
            login: Some(Login::new("pager", "s3cret", mechanisms)),
            tls: None,
        })
        .await;
        let url = sink.url_with(Some(("pager", "wrong")), "");
        let error = mailer(&url).send(&mail).await.unwrap_err();
        assert!(error.is_config(), "{mechanism}: {error:?}");
        let shown = error.to_string();
        assert!(shown.contains("refused the login"), "{shown}");
        assert!(shown.contains("535"), "{shown}");
        assert!(shown.contains("check the user and password"), "{shown}");
        assert!(
            !shown.contains("wrong"),
            "the password is in the message: {shown}"
        );
        assert_eq!(sink.logins_tried(), 1, "{mechanism}");
        assert!(sink.messages().is_empty(), "{mechanism}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_the_right_password_delivers_with_plain_and_with_login() {
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    for mechanisms in [&["PLAIN"], &["LOGIN"]] {
        let mechanism = mechanisms[0];
        let sink = SmtpSink::start_with(SinkOptions {
            login: Some(Login::new("pager@example.com", "p:ss/w@rd", mechanisms)),
            tls: None,
        })
        .await;
        // Percent-encoded in the URL, plain in the AUTH exchange.
        let url = sink.url_with(Some(("pager@example.com", "p:ss/w@rd")), "tls=none");
        mailer(&url).send(&mail).await.unwrap();
        let got = sink.wait_for(1).await;
        assert_eq!(
            got[0].user.as_deref(),
            Some("pager@example.com"),
            "{mechanism}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_relay_that_wants_a_login_and_gets_none_is_a_settings_problem() {
    let sink = SmtpSink::start_with(SinkOptions {
        login: Some(Login::new("pager", "s3cret", &["PLAIN"])),
        tls: None,
    })
    .await;
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    match mailer(&sink.url()).send(&mail).await {
        Err(MailError::Config(detail)) => assert!(detail.contains("530"), "{detail}"),
        other => panic!("expected a settings problem, got {other:?}"),
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_a_login_the_relay_does_not_offer_is_a_settings_problem() {
    let sink = SmtpSink::start().await;
    let mail = page().render("ann@example.com", "<n-1@lookout>").unwrap();
    let url = sink.url_with(Some(("pager", "s3cret")), "");
    match mailer(&url).send(&mail).await {
        Err(MailError::Config(detail)) => {
            assert!(detail.contains("no login mechanism"), "{detail}");
        }
        other => panic!("expected a settings problem, got {other:?}"),
    }
    assert!(sink.messages().is_empty());
}
