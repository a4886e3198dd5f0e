//! A real Prometheus Alertmanager, when `LOOKOUT_TEST_ALERTMANAGER` names its binary: alerts
//! posted to it reach Lookout through `webhook_configs` and `pagerduty_configs`, open one incident
//! per group, survive Alertmanager's re-sends and resolve when Alertmanager says they ended.
//!
//! The captured payloads under `tests/fixtures/` pin the format; this pins the conversation with
//! the program itself (its grouping, timing, retries and PagerDuty dedup keys), which a future
//! Alertmanager may change without any fixture noticing.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// Alertmanager's group keys for the two routes below: the root route, and the `scenario="pd"`
/// sub-route (whose matchers become part of the key).
const WEBHOOK_GROUP: &str = r#"{}:{alertname="HighErrorRate", scenario="webhook"}"#;
const PD_GROUP: &str = r#"{}/{scenario="pd"}:{alertname="DiskFull", scenario="pd"}"#;

/// Long enough for a loaded CI machine, short enough that a lost delivery fails fast.
const DELIVERY: Duration = Duration::from_secs(30);

/// The Alertmanager process, killed when the test ends however it ends.
struct Alertmanager {
    process: Child,
    url: String,
    log: PathBuf,
    client: reqwest::Client,
    // Dropped after the process is killed: it holds the config, storage and log.
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port()
}

impl Alertmanager {
    async fn start(binary: &str, config: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config).expect("write alertmanager.yml");
        let log = dir.path().join("alertmanager.log");
        let port = free_port();
        let process = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Clustering would open a second fixed port (9094) and delay the first notification
            // by the peer timeout.
            .arg("--cluster.listen-address=")
            // Debug logs every notification attempt and its answer: the tail explains failures.
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("alertmanager log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let mut am = Alertmanager {
            process,
            url: format!("http://127.0.0.1:{port}"),
            log,
            client: reqwest::Client::new(),
            _dir: dir,
        };
        am.wait_ready().await;
        am
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!(
                    "alertmanager exited during start-up ({status}):\n{}",
                    self.log_tail()
                );
            }
            let ready = self
                .client
                .get(format!("{}/-/ready", self.url))
                .send()
                .await;
            if matches!(&ready, Ok(r) if r.status() == reqwest::StatusCode::OK) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager at {} not ready within 15 s (last answer: {ready:?}):\n{}",
                self.url,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- alertmanager log, last {} lines ---\n{}",
            lines.len() - start,
            lines[start..].join("\n")
        )
    }

    /// What Prometheus does on every evaluation: `POST /api/v2/alerts`.
    async fn post_alerts(&self, alerts: &[Value]) {
        let res = self
            .client
            .post(format!("{}/api/v2/alerts", self.url))
            .json(&alerts)
            .send()
            .await
            .expect("POST /api/v2/alerts");
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(
            status,
            reqwest::StatusCode::OK,
            "alertmanager refused the alerts: {body}\n{}",
            self.log_tail()
        );
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One alert as Prometheus sends it. Alertmanager runs on real time, not the app's clock.
fn alert(labels: Value, summary: &str, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Value {
    json!({
        "labels": labels,
        "annotations": {"summary": summary, "runbook_url": "http://runbooks.example/x"},
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends),
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
    })
}

fn high_error_rate(starts: DateTime<Utc>, ends: DateTime<Utc>) -> Vec<Value> {
    ["web-1", "web-2"]
        .into_iter()
        .map(|instance| {
            alert(
                json!({
                    "alertname": "HighErrorRate",
                    "scenario": "webhook",
                    "instance": instance,
                    "job": "web",
                    "severity": "critical",
                }),
                &format!("5xx rate above 5% on {instance}"),
                starts,
                ends,
            )
        })
        .collect()
}

fn disk_full(starts: DateTime<Utc>, ends: DateTime<Utc>) -> Vec<Value> {
    vec![alert(
        json!({
            "alertname": "DiskFull",
            "scenario": "pd",
            "instance": "db-1",
            "severity": "critical",
        }),
        "disk almost full on db-1",
        starts,
        ends,
    )]
}

fn config(lookout: &str, webhook_key: &str, pd_key: &str) -> String {
    format!(
        r#"route:
  receiver: lookout
  group_by: ['alertname', 'scenario']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['scenario="pd"']
      receiver: lookout-pd
receivers:
  - name: lookout
    webhook_configs:
      - url: '{lookout}/hooks/alertmanager/{webhook_key}'
        send_resolved: true
  - name: lookout-pd
    pagerduty_configs:
      - routing_key: '{pd_key}'
        url: '{lookout}/v2/enqueue'
        send_resolved: true
"#
    )
}

struct Harness {
    app: TestApp,
    api: Api,
    am: Alertmanager,
    service_id: String,
}

impl Harness {
    /// Every incident of the service in `status` (`open`, `resolved`, or `""` for all).
    async fn incidents(&self, status: &str) -> Vec<Value> {
        let reply = self
            .api
            .get(&format!(
                "/api/v1/incidents?service={}&status={status}",
                self.service_id
            ))
            .await;
        assert_eq!(reply.status, 200, "incident list: {}", reply.json);
        reply.json["incidents"]
            .as_array()
            .expect("incidents array")
            .clone()
    }

    async fn incident(&self, id: &str) -> Value {
        let reply = self.api.get(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(reply.status, 200, "incident {id}: {}", reply.json);
        reply.json
    }

    async fn timeline(&self, id: &str) -> Vec<Value> {
        let reply = self
            .api
            .get(&format!("/api/v1/incidents/{id}/timeline"))
            .await;
        assert_eq!(reply.status, 200, "timeline of {id}: {}", reply.json);
        reply.json.as_array().expect("timeline array").clone()
    }

    async fn metrics(&self) -> String {
        let res = reqwest::get(self.app.url("/metrics"))
            .await
            .expect("GET /metrics");
        assert_eq!(res.status(), 200, "/metrics");
        res.text().await.expect("metrics body")
    }

    /// The webhook lines of `/metrics`: what Lookout answered Alertmanager so far.
    async fn webhook_metrics(&self) -> String {
        self.metrics()
            .await
            .lines()
            .filter(|l| l.starts_with("lookout_webhooks_total"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `probe` every 200 ms until it yields a value. Past `within`, fails with what it saw
    /// last, Lookout's webhook counters and Alertmanager's log: a delivery that never arrived or
    /// was refused shows up there, with Lookout's answer.
    async fn eventually<T>(
        &self,
        what: &str,
        within: Duration,
        mut probe: impl AsyncFnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let seen = match probe().await {
                Ok(found) => return found,
                Err(seen) => seen,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{what}: not within {within:?}\nlast seen: {seen}\nLookout's webhook \
                     counters:\n{}\n{}",
                    self.webhook_metrics().await,
                    self.am.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until incident `id` is resolved, and returns it.
    async fn resolved(&self, id: &str, what: &str) -> Value {
        self.eventually(what, DELIVERY, async || {
            let incident = self.incident(id).await;
            if incident["status"] == "resolved" {
                Ok(incident)
            } else {
                Err(incident.to_string())
            }
        })
        .await
    }
}

/// A labelled value of a counter in Prometheus text format, 0 when the line is absent.
fn counter(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn create_integration(api: &Api, service_id: &str, kind: &str) -> String {
    let reply = api
        .post(
            &format!("/api/v1/services/{service_id}/integrations"),
            json!({"kind": kind}),
        )
        .await;
    assert_eq!(
        reply.status, 201,
        "create {kind} integration: {}",
        reply.json
    );
    reply.json["key"]
        .as_str()
        .unwrap_or_else(|| panic!("the new {kind} integration shows its key: {}", reply.json))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_from_a_real_alertmanager_open_and_resolve_incidents() {
    let Some(binary) = std::env::var("LOOKOUT_TEST_ALERTMANAGER")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return;
    };
    let started = Instant::now();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, token) = app.token_for("admin").await;
    let api = app.api(Some(&token));

    // 1. A service with one integration per Alertmanager receiver kind.
    let reply = api
        .post("/api/v1/services", json!({"name": "Checkout"}))
        .await;
    assert_eq!(reply.status, 201, "create service: {}", reply.json);
    let service_id = reply.json["id"].as_str().expect("service id").to_owned();
    let webhook_key = create_integration(&api, &service_id, "alertmanager").await;
    let pd_key = create_integration(&api, &service_id, "pagerduty").await;

    // 2-3. Alertmanager pointed at this app.
    let am = Alertmanager::start(&binary, &config(&app.address, &webhook_key, &pd_key)).await;
    eprintln!(
        "alertmanager ready at {} after {:?}",
        am.url,
        started.elapsed()
    );
    let h = Harness {
        app,
        api,
        am,
        service_id,
    };

    // 4. Two firing alerts of one group become one P1 incident with both alerts.
    let starts = Utc::now();
    let until = starts + chrono::Duration::minutes(5);
    h.am.post_alerts(&high_error_rate(starts, until)).await;
    let incident = h
        .eventually(
            "one open incident with 2 alerts from webhook_configs",
            DELIVERY,
            async || {
                let open = h.incidents("open").await;
                match open.as_slice() {
                    [one] if one["alert_count"] == 2 => Ok(one.clone()),
                    _ => Err(Value::from(open).to_string()),
                }
            },
        )
        .await;
    eprintln!("webhook incident opened after {:?}", started.elapsed());
    let id = incident["id"].as_str().expect("incident id").to_owned();
    assert_eq!(incident["status"], "triggered", "{incident}");
    assert_eq!(
        incident["severity"], "P1",
        "critical maps to P1: {incident}"
    );
    assert!(
        incident["title"]
            .as_str()
            .is_some_and(|t| t.contains("HighErrorRate")),
        "the title names the alert: {incident}"
    );
    assert_eq!(
        incident["dedup_key"], WEBHOOK_GROUP,
        "the incident is keyed by Alertmanager's groupKey: {incident}"
    );

    // 5. The same alerts again (Prometheus re-sends on every evaluation): still one incident with
    // two alerts, whatever Alertmanager forwards meanwhile.
    h.am.post_alerts(&high_error_rate(
        starts,
        Utc::now() + chrono::Duration::minutes(5),
    ))
    .await;
    let watch_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < watch_until {
        let all = h.incidents("").await;
        assert!(
            matches!(all.as_slice(), [one] if one["id"] == id.as_str()
                && one["alert_count"] == 2
                && one["status"] == "triggered"),
            "re-posted alerts changed the incidents: {}",
            Value::from(all)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 6. Ended alerts: Alertmanager sends the resolved group, Lookout resolves the incident.
    h.am.post_alerts(&high_error_rate(starts, Utc::now())).await;
    let resolved = h
        .resolved(&id, "the webhook incident resolved by Alertmanager")
        .await;
    eprintln!("webhook incident resolved after {:?}", started.elapsed());
    assert!(
        resolved["resolved_by"]
            .as_str()
            .is_some_and(|by| by.contains("Alertmanager")),
        "resolved_by names Alertmanager: {resolved}"
    );
    assert_eq!(resolved["alert_count"], 2, "{resolved}");
    let timeline = h.timeline(&id).await;
    assert!(
        timeline.iter().any(|e| e["kind"] == "resolved"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("Resolved by Alertmanager"))),
        "the timeline says Alertmanager resolved it: {}",
        Value::from(timeline.clone())
    );
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e["kind"] == "alert_resolved")
            .count(),
        2,
        "each alert's end is on the timeline: {}",
        Value::from(timeline)
    );

    // 7. pagerduty_configs: Events v2 with dedup_key = SHA-256 of the group key.
    let starts = Utc::now();
    h.am.post_alerts(&disk_full(starts, starts + chrono::Duration::minutes(5)))
        .await;
    let pd = h
        .eventually(
            "one open incident from pagerduty_configs",
            DELIVERY,
            async || {
                let open = h.incidents("open").await;
                match open.as_slice() {
                    [one] if one["dedup_key"].as_str().is_some_and(is_sha256_hex) => {
                        Ok(one.clone())
                    }
                    _ => Err(Value::from(open).to_string()),
                }
            },
        )
        .await;
    eprintln!("pagerduty incident opened after {:?}", started.elapsed());
    let pd_id = pd["id"].as_str().expect("incident id").to_owned();
    assert_ne!(pd_id, id, "a new group is a new incident");
    assert_eq!(
        pd["dedup_key"],
        lookout::crypto::sha256_hex(PD_GROUP),
        "Alertmanager's dedup_key is the SHA-256 of its group key: {pd}"
    );
    assert_eq!(pd["alert_count"], 1, "{pd}");
    assert!(
        pd["title"].as_str().is_some_and(|t| t.contains("DiskFull")),
        "the title names the alert: {pd}"
    );

    h.am.post_alerts(&disk_full(starts, Utc::now())).await;
    let pd = h
        .resolved(&pd_id, "the pagerduty incident resolved by Alertmanager")
        .await;
    eprintln!("pagerduty incident resolved after {:?}", started.elapsed());
    assert!(
        pd["resolved_by"]
            .as_str()
            .is_some_and(|by| by.contains("PagerDuty")),
        "resolved_by names the integration: {pd}"
    );
    assert_eq!(
        h.incidents("").await.len(),
        2,
        "two groups, two incidents, nothing else"
    );

    // 8. Every request Alertmanager made was accepted.
    let metrics = h.webhook_metrics().await;
    for kind in ["alertmanager", "pagerduty"] {
        let series = format!("lookout_webhooks_total{{kind=\"{kind}\",outcome=\"accepted\"}}");
        assert!(
            counter(&metrics, &series) > 0.0,
            "{series} counts Alertmanager's requests:\n{metrics}"
        );
    }
    assert!(
        metrics.lines().all(|l| l.contains("outcome=\"accepted\"")),
        "Lookout refused some of Alertmanager's requests:\n{metrics}\n{}",
        h.am.log_tail()
    );
    eprintln!("done after {:?}", started.elapsed());
}
