//! Mail delivery against a real SMTP conversation.
//!
//! `SmtpSink` is a small SMTP server written here, enough of RFC 5321 for lettre: no TLS, no
//! AUTH, no pipelining. It keeps each accepted message in memory and can be told to refuse
//! recipients or to stall, so the tests see lettre's real replies and failures.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use lookout::notify::mail::{MailError, Mailer};
use lookout::notify::page_mail::PageMail;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, without the final ".".
    pub data: String,
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

struct State {
    messages: Mutex<Vec<Received>>,
    /// The number of messages so far, for `wait_for`.
    arrived: watch::Sender<usize>,
    fail: Mutex<Option<String>>,
    stall: AtomicBool,
    connections: AtomicUsize,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            messages: Mutex::new(Vec::new()),
            arrived: watch::Sender::new(0),
            fail: Mutex::new(None),
            stall: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
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

    pub fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
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

async fn session(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-sink\r\n250 8BITMIME".to_owned(),
            "HELO" | "NOOP" => "250 OK".to_owned(),
            "RSET" => {
                (from, to) = (None, Vec::new());
                "250 OK".to_owned()
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
                while read.read_until(b'\n', &mut line).await? > 0 {}
                return Ok(());
            }
            "DATA" if from.is_none() || to.is_empty() => "503 5.5.1 MAIL and RCPT first".to_owned(),
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let data = read_data(&mut read).await?;
                let received = Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                };
                let mut messages = state.messages.lock().unwrap();
                messages.push(received);
                state.arrived.send_replace(messages.len());
                "250 2.0.0 queued".to_owned()
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognised".to_owned(),
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// Lines up to the lone ".", with the leading dot that the client doubled taken off again.
async fn read_data(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
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
    Mailer::from_settings(&Url::parse(url).unwrap(), "Lookout <lookout@example.com>").unwrap()
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
