//! What an integration page offers to copy: the webhook URL, a curl example, and ready
//! Alertmanager receiver configuration.

use crate::config::BaseUrl;
use crate::domain::incident::IntegrationKind;
use crate::domain::service::Integration;

pub struct Snippets {
    /// Where this integration's tool should send its requests.
    pub url: String,
    pub curl: String,
    /// Alertmanager `receivers:` with `webhook_configs`, for Alertmanager integrations.
    pub alertmanager_webhook: Option<String>,
    /// Alertmanager `receivers:` with `pagerduty_configs` pointing at Lookout.
    pub alertmanager_pagerduty: String,
    /// True when the key is shown in full (just created or rotated); else a placeholder.
    pub has_key: bool,
}

impl Snippets {
    pub fn new(base: &BaseUrl, integration: &Integration, key: Option<&str>) -> Self {
        let shown = key.map_or_else(
            || format!("{}…(your key)", integration.key_prefix),
            str::to_owned,
        );
        let enqueue = base.join("/v2/enqueue");
        let url = match integration.kind {
            IntegrationKind::PagerDuty => enqueue.clone(),
            kind => base.join(&format!("/hooks/{}/{shown}", kind.as_str())),
        };
        let curl = match integration.kind {
            IntegrationKind::PagerDuty => format!(
                "curl -X POST {enqueue} -H 'Content-Type: application/json' \\\n  -d '{{\"routing_key\": \"{shown}\", \"event_action\": \"trigger\", \"dedup_key\": \"disk-db-1\",\n       \"payload\": {{\"summary\": \"Disk full on db-1\", \"source\": \"db-1\", \"severity\": \"critical\"}}}}'"
            ),
            IntegrationKind::Generic => format!(
                "curl -X POST {url} -H 'Content-Type: application/json' \\\n  -d '{{\"title\": \"Disk full on db-1\", \"severity\": \"P1\", \"dedup_key\": \"disk-db-1\"}}'"
            ),
            IntegrationKind::Alertmanager | IntegrationKind::Grafana => format!(
                "curl -X POST {url} -H 'Content-Type: application/json' \\\n  -d '{{\"version\": \"4\", \"status\": \"firing\", \"groupKey\": \"{{}}:{{alertname=\\\"DiskFull\\\"}}\",\n       \"alerts\": [{{\"status\": \"firing\", \"fingerprint\": \"db-1\",\n                   \"labels\": {{\"alertname\": \"DiskFull\", \"instance\": \"db-1\", \"severity\": \"critical\"}},\n                   \"annotations\": {{\"summary\": \"Disk full on db-1\"}}}}]}}'"
            ),
        };
        let alertmanager_webhook = (integration.kind == IntegrationKind::Alertmanager).then(|| {
            format!(
                "receivers:\n  - name: lookout\n    webhook_configs:\n      - url: {url}\n        send_resolved: true\n"
            )
        });
        let alertmanager_pagerduty = format!(
            "receivers:\n  - name: lookout-pagerduty\n    pagerduty_configs:\n      - routing_key: {shown}\n        url: {enqueue}\n        send_resolved: true\n"
        );
        Snippets {
            url,
            curl,
            alertmanager_webhook,
            alertmanager_pagerduty,
            has_key: key.is_some(),
        }
    }
}
