//! Prometheus metrics of one running instance, exposed at `/metrics`.
//!
//! A registry per application (not a process-wide global) so that tests running several apps in
//! one process each see their own numbers.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route pattern (`/admin/users/{id}`), never the raw path: raw paths carry ids and keys.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// alertmanager, grafana, pagerduty or generic (the endpoint, not the integration).
    pub kind: &'static str,
    /// accepted, invalid, unknown_key, too_large, rate_limited, bad_signature, error
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// email, webhook
    pub channel: &'static str,
    /// sent, retried, failed, off, cancelled
    pub result: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily<HttpLabels>,
    pub logins: Family<OutcomeLabels, Counter>,
    pub webhooks: Family<WebhookLabels, Counter>,
    pub webhook_alerts: Family<WebhookLabels, Counter>,
    pub notifications: Family<NotificationLabels, Counter>,
    pub escalation_jobs: Counter,
    db_pool_size: Gauge,
    db_pool_idle: Gauge,
    db_pool_max: Gauge,
}

/// What the pool looks like when `/metrics` is scraped.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lookout");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method, route and status",
            http_duration.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "logins",
            "Sign-in attempts by outcome (success, failure, locked)",
            logins.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook requests by endpoint kind and outcome",
            webhooks.clone(),
        );
        let webhook_alerts = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_alerts",
            "Alerts carried by webhook requests, by endpoint kind and outcome",
            webhook_alerts.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notification_attempts",
            "Attempts to deliver a page, by channel and result (sent, retried, failed, off)",
            notifications.clone(),
        );
        let escalation_jobs = Counter::default();
        registry.register(
            "escalation_jobs",
            "Escalation steps and deadlines the engine has acted on",
            escalation_jobs.clone(),
        );
        let db_pool_size = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections in the pool",
            db_pool_size.clone(),
        );
        let db_pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections in the pool",
            db_pool_idle.clone(),
        );
        let db_pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Largest number of database connections the pool opens",
            db_pool_max.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            logins,
            webhooks,
            webhook_alerts,
            notifications,
            escalation_jobs,
            db_pool_size,
            db_pool_idle,
            db_pool_max,
        }
    }

    pub fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.http_duration.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    pub fn count_webhook(&self, kind: &'static str, outcome: &'static str, alerts: u64) {
        let labels = WebhookLabels { kind, outcome };
        self.webhooks.get_or_create(&labels).inc();
        if alerts > 0 {
            self.webhook_alerts.get_or_create(&labels).inc_by(alerts);
        }
    }

    pub fn count_login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The text exposition, with the pool gauges read at this moment.
    pub fn render(&self, pool: PoolUse) -> String {
        self.db_pool_size.set(i64::from(pool.connections));
        self.db_pool_idle.set(i64::from(pool.idle));
        self.db_pool_max.set(i64::from(pool.max));
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_and_pool_use() {
        let m = Metrics::new();
        m.observe_request(
            HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: 200,
            },
            0.003,
        );
        m.count_login("failure");
        let text = m.render(PoolUse {
            connections: 3,
            idle: 2,
            max: 8,
        });
        assert!(
            text.contains(
                r#"lookout_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("lookout_http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("lookout_db_pool_connections 3"), "{text}");
        assert!(text.contains("lookout_db_pool_max_connections 8"), "{text}");
        assert!(
            text.contains(r#"lookout_logins_total{outcome="failure"} 1"#),
            "{text}"
        );
    }
}
