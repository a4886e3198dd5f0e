//! Every route x every role: who gets in, who is turned away, checked on the server.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_databases;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Viewer,
    Responder,
    Manager,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Viewer,
    Who::Responder,
    Who::Manager,
    Who::Admin,
];

#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, with this status.
    Public(u16),
    /// Anyone; signed-in people get the second status.
    PublicSignedIn(u16, u16),
    /// At least this role; they get the status, others 403, strangers 303 (pages) or 401 (API).
    AtLeast(Who, u16),
}

struct Route {
    pattern: &'static str,
    method: Method,
    /// The concrete path: `{user}` is a real user's id, `{missing}` an id that does not exist.
    path: &'static str,
    api: bool,
    body: Option<serde_json::Value>,
    access: Access,
}

fn page(method: Method, pattern: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        pattern,
        method,
        path,
        api: false,
        body: None,
        access,
    }
}

fn api(
    method: Method,
    pattern: &'static str,
    path: &'static str,
    body: Option<serde_json::Value>,
    access: Access,
) -> Route {
    Route {
        pattern,
        method,
        path,
        api: true,
        body,
        access,
    }
}

fn table() -> Vec<Route> {
    use Access::*;
    use Who::*;
    vec![
        page(Method::GET, "/healthz", "/healthz", Public(200)),
        page(Method::GET, "/readyz", "/readyz", Public(200)),
        page(Method::GET, "/metrics", "/metrics", Public(200)),
        page(
            Method::GET,
            "/static/{file}",
            "/static/app.css",
            Public(200),
        ),
        page(Method::GET, "/login", "/login", PublicSignedIn(200, 303)),
        page(Method::POST, "/login", "/login", Public(422)),
        page(Method::GET, "/setup", "/setup?token=x", Public(410)),
        // The link in a page e-mail speaks for itself: a bad one is refused whoever opens it.
        page(
            Method::GET,
            "/ack/{id}",
            "/ack/{missing}?u=x&e=1&t=x",
            Public(403),
        ),
        page(Method::POST, "/ack/{id}", "/ack/{missing}", Public(403)),
        page(Method::POST, "/setup", "/setup", Public(410)),
        page(Method::GET, "/", "/", AtLeast(Viewer, 200)),
        page(Method::GET, "/profile", "/profile", AtLeast(Viewer, 200)),
        page(Method::POST, "/profile", "/profile", AtLeast(Viewer, 422)),
        page(
            Method::POST,
            "/profile/password",
            "/profile/password",
            AtLeast(Viewer, 422),
        ),
        page(
            Method::POST,
            "/profile/tokens",
            "/profile/tokens",
            AtLeast(Viewer, 422),
        ),
        page(
            Method::POST,
            "/profile/tokens/{id}/revoke",
            "/profile/tokens/{missing}/revoke",
            AtLeast(Viewer, 404),
        ),
        page(
            Method::GET,
            "/admin/users",
            "/admin/users",
            AtLeast(Admin, 200),
        ),
        page(
            Method::POST,
            "/admin/users",
            "/admin/users",
            AtLeast(Admin, 422),
        ),
        page(
            Method::GET,
            "/admin/users/{id}",
            "/admin/users/{user}",
            AtLeast(Admin, 200),
        ),
        page(
            Method::POST,
            "/admin/users/{id}/role",
            "/admin/users/{missing}/role",
            AtLeast(Admin, 404),
        ),
        page(
            Method::POST,
            "/admin/users/{id}/deactivate",
            "/admin/users/{missing}/deactivate",
            AtLeast(Admin, 404),
        ),
        page(
            Method::POST,
            "/admin/users/{id}/reactivate",
            "/admin/users/{missing}/reactivate",
            AtLeast(Admin, 404),
        ),
        page(
            Method::POST,
            "/admin/users/{id}/reset-password",
            "/admin/users/{missing}/reset-password",
            AtLeast(Admin, 404),
        ),
        page(
            Method::POST,
            "/admin/users/{id}/tokens/{token_id}/revoke",
            "/admin/users/{user}/tokens/{missing}/revoke",
            AtLeast(Admin, 404),
        ),
        page(
            Method::GET,
            "/admin/audit",
            "/admin/audit",
            AtLeast(Admin, 200),
        ),
        api(Method::GET, "/me", "/api/v1/me", None, AtLeast(Viewer, 200)),
        api(
            Method::PATCH,
            "/me",
            "/api/v1/me",
            Some(json!({})),
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/me/password",
            "/api/v1/me/password",
            Some(json!({"current_password": "x", "new_password": "y"})),
            AtLeast(Viewer, 400),
        ),
        api(
            Method::GET,
            "/users",
            "/api/v1/users",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/users",
            "/api/v1/users",
            Some(json!({})),
            AtLeast(Admin, 400),
        ),
        api(
            Method::GET,
            "/users/{id}",
            "/api/v1/users/{user}",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::PATCH,
            "/users/{id}",
            "/api/v1/users/{missing}",
            Some(json!({"role": "viewer"})),
            AtLeast(Admin, 404),
        ),
        api(
            Method::POST,
            "/users/{id}/reset-password",
            "/api/v1/users/{missing}/reset-password",
            Some(json!({})),
            AtLeast(Admin, 404),
        ),
        api(
            Method::GET,
            "/tokens",
            "/api/v1/tokens",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/tokens",
            "/api/v1/tokens",
            Some(json!({"label": ""})),
            AtLeast(Viewer, 400),
        ),
        api(
            Method::DELETE,
            "/tokens/{id}",
            "/api/v1/tokens/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/audit",
            "/api/v1/audit",
            None,
            AtLeast(Admin, 200),
        ),
        page(
            Method::GET,
            "/incidents",
            "/incidents",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::POST,
            "/incidents",
            "/incidents",
            AtLeast(Responder, 422),
        ),
        page(
            Method::GET,
            "/incidents/new",
            "/incidents/new",
            AtLeast(Responder, 200),
        ),
        page(
            Method::GET,
            "/incidents/stream",
            "/incidents/stream",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::GET,
            "/incidents/{id}",
            "/incidents/{incident}",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::POST,
            "/incidents/{id}/acknowledge",
            "/incidents/{missing}/acknowledge",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/incidents/{id}/resolve",
            "/incidents/{missing}/resolve",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/incidents/{id}/notes",
            "/incidents/{missing}/notes",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/incidents/{id}/severity",
            "/incidents/{incident}/severity",
            AtLeast(Responder, 303),
        ),
        page(
            Method::POST,
            "/incidents/{id}/reassign",
            "/incidents/{incident}/reassign",
            AtLeast(Responder, 303),
        ),
        page(Method::GET, "/services", "/services", AtLeast(Viewer, 200)),
        page(
            Method::POST,
            "/services",
            "/services",
            AtLeast(Manager, 422),
        ),
        page(
            Method::GET,
            "/services/{id}",
            "/services/{service}",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::POST,
            "/services/{id}",
            "/services/{missing}",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/services/{id}/archive",
            "/services/{missing}/archive",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/services/{id}/restore",
            "/services/{missing}/restore",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/services/{id}/integrations",
            "/services/{missing}/integrations",
            AtLeast(Manager, 404),
        ),
        page(
            Method::GET,
            "/services/{id}/integrations/{integration_id}",
            "/services/{service}/integrations/{integration}",
            AtLeast(Manager, 200),
        ),
        page(
            Method::POST,
            "/services/{id}/integrations/{integration_id}",
            "/services/{service}/integrations/{missing}",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/services/{id}/integrations/{integration_id}/rotate",
            "/services/{service}/integrations/{missing}/rotate",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/services/{id}/integrations/{integration_id}/revoke",
            "/services/{service}/integrations/{missing}/revoke",
            AtLeast(Manager, 404),
        ),
        // Webhooks authenticate by their key, whoever calls.
        page(
            Method::POST,
            "/hooks/alertmanager/{key}",
            "/hooks/alertmanager/not-a-key",
            Public(404),
        ),
        page(
            Method::POST,
            "/hooks/grafana/{key}",
            "/hooks/grafana/not-a-key",
            Public(404),
        ),
        page(
            Method::POST,
            "/hooks/generic/{key}",
            "/hooks/generic/not-a-key",
            Public(404),
        ),
        page(Method::POST, "/v2/enqueue", "/v2/enqueue", Public(400)),
        api(
            Method::GET,
            "/services",
            "/api/v1/services",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/services",
            "/api/v1/services",
            Some(json!({})),
            AtLeast(Manager, 400),
        ),
        api(
            Method::GET,
            "/services/{id}",
            "/api/v1/services/{service}",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::PATCH,
            "/services/{id}",
            "/api/v1/services/{missing}",
            Some(json!({})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/services/{id}/integrations",
            "/api/v1/services/{service}/integrations",
            None,
            AtLeast(Manager, 200),
        ),
        api(
            Method::POST,
            "/services/{id}/integrations",
            "/api/v1/services/{missing}/integrations",
            Some(json!({"kind": "generic"})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::PATCH,
            "/services/{id}/integrations/{integration_id}",
            "/api/v1/services/{service}/integrations/{missing}",
            Some(json!({})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::DELETE,
            "/services/{id}/integrations/{integration_id}",
            "/api/v1/services/{service}/integrations/{missing}",
            None,
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/services/{id}/integrations/{integration_id}/rotate-key",
            "/api/v1/services/{service}/integrations/{missing}/rotate-key",
            Some(json!({})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/incidents",
            "/api/v1/incidents",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/incidents",
            "/api/v1/incidents",
            Some(json!({})),
            AtLeast(Responder, 400),
        ),
        api(
            Method::GET,
            "/incidents/{id}",
            "/api/v1/incidents/{incident}",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/incidents/{id}/acknowledge",
            "/api/v1/incidents/{missing}/acknowledge",
            Some(json!({})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/resolve",
            "/api/v1/incidents/{missing}/resolve",
            Some(json!({})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/notes",
            "/api/v1/incidents/{missing}/notes",
            Some(json!({"text": "x"})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/severity",
            "/api/v1/incidents/{missing}/severity",
            Some(json!({"severity": "P1"})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/reassign",
            "/api/v1/incidents/{missing}/reassign",
            Some(json!({"assignee": null})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::GET,
            "/incidents/{id}/timeline",
            "/api/v1/incidents/{incident}/timeline",
            None,
            AtLeast(Viewer, 200),
        ),
        page(Method::GET, "/oncall", "/oncall", AtLeast(Viewer, 200)),
        page(
            Method::GET,
            "/schedules",
            "/schedules",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::POST,
            "/schedules",
            "/schedules",
            AtLeast(Manager, 422),
        ),
        page(
            Method::GET,
            "/schedules/{id}",
            "/schedules/{missing}",
            AtLeast(Viewer, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/overrides",
            "/schedules/{missing}/overrides",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/overrides/{override_id}/delete",
            "/schedules/{missing}/overrides/{missing}/delete",
            AtLeast(Manager, 404),
        ),
        // Calendar feeds authenticate by their token, whoever calls.
        page(
            Method::GET,
            "/schedules/{id}.ics",
            "/schedules/{missing}.ics?token=nope",
            Public(404),
        ),
        page(
            Method::GET,
            "/users/{id}/oncall.ics",
            "/users/{user}/oncall.ics?token=nope",
            Public(404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/feed/rotate",
            "/schedules/{missing}/feed/rotate",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/backup",
            "/schedules/{missing}/backup",
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/schedules/{id}/backup",
            "/api/v1/schedules/{missing}/backup",
            Some(json!({})),
            AtLeast(Manager, 404),
        ),
        page(
            Method::GET,
            "/schedules/{id}/review",
            "/schedules/{missing}/review",
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/schedules/{id}/review",
            "/api/v1/schedules/{missing}/review",
            None,
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/holidays",
            "/schedules/{missing}/holidays",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/holidays/{holiday_id}/delete",
            "/schedules/{missing}/holidays/{missing}/delete",
            AtLeast(Manager, 404),
        ),
        page(
            Method::GET,
            "/schedules/{id}/edit",
            "/schedules/{missing}/edit",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/edit",
            "/schedules/{missing}/edit",
            AtLeast(Manager, 404),
        ),
        // The table posts an urlencoded form; the upload wants multipart/form-data.
        page(
            Method::POST,
            "/schedules/{id}/holidays/import",
            "/schedules/{missing}/holidays/import",
            AtLeast(Manager, 400),
        ),
        api(
            Method::POST,
            "/schedules/{id}/holidays/import",
            "/api/v1/schedules/{missing}/holidays/import",
            None,
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/schedules/{id}/holidays",
            "/api/v1/schedules/{missing}/holidays",
            Some(json!({"date": "2026-12-25", "name": "Christmas Day"})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::DELETE,
            "/schedules/{id}/holidays/{holiday_id}",
            "/api/v1/schedules/{missing}/holidays/{missing}",
            None,
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/notes",
            "/schedules/{missing}/notes",
            AtLeast(Responder, 404),
        ),
        api(
            Method::GET,
            "/schedules/{id}/notes",
            "/api/v1/schedules/{missing}/notes",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::POST,
            "/schedules/{id}/notes",
            "/api/v1/schedules/{missing}/notes",
            Some(json!({"body": "x"})),
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/profile/feed/rotate",
            "/profile/feed/rotate",
            AtLeast(Viewer, 303),
        ),
        api(
            Method::GET,
            "/schedules",
            "/api/v1/schedules",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/schedules",
            "/api/v1/schedules",
            Some(json!({"name": "x", "time_zone": "UTC", "layers": []})),
            AtLeast(Manager, 400),
        ),
        api(
            Method::GET,
            "/schedules/{id}",
            "/api/v1/schedules/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::PUT,
            "/schedules/{id}",
            "/api/v1/schedules/{missing}",
            Some(json!({"name": "x", "time_zone": "UTC", "layers": []})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/schedules/{id}/overrides",
            "/api/v1/schedules/{missing}/overrides",
            Some(
                json!({"user": "x@example.com", "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}),
            ),
            AtLeast(Manager, 404),
        ),
        api(
            Method::DELETE,
            "/schedules/{id}/overrides/{override_id}",
            "/api/v1/schedules/{missing}/overrides/{missing}",
            None,
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/schedules/{id}/shifts",
            "/api/v1/schedules/{missing}/shifts",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/oncall",
            "/api/v1/oncall?schedule=00000000-0000-7000-8000-000000000000",
            None,
            AtLeast(Viewer, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/swaps",
            "/schedules/{missing}/swaps",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/schedules/{id}/swap-approval",
            "/schedules/{missing}/swap-approval",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/swaps/{id}/take",
            "/swaps/{missing}/take",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/swaps/{id}/approve",
            "/swaps/{missing}/approve",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/swaps/{id}/decline",
            "/swaps/{missing}/decline",
            AtLeast(Manager, 404),
        ),
        page(
            Method::POST,
            "/swaps/{id}/cancel",
            "/swaps/{missing}/cancel",
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/profile/time-off",
            "/profile/time-off",
            AtLeast(Viewer, 422),
        ),
        page(
            Method::POST,
            "/profile/time-off/{id}/delete",
            "/profile/time-off/{missing}/delete",
            AtLeast(Viewer, 404),
        ),
        page(
            Method::POST,
            "/profile/contact-methods",
            "/profile/contact-methods",
            AtLeast(Viewer, 422),
        ),
        page(
            Method::POST,
            "/profile/contact-methods/{id}/delete",
            "/profile/contact-methods/{missing}/delete",
            AtLeast(Viewer, 404),
        ),
        page(
            Method::POST,
            "/profile/contact-methods/{id}/test",
            "/profile/contact-methods/{missing}/test",
            AtLeast(Viewer, 404),
        ),
        api(
            Method::POST,
            "/me/contact-methods/{id}/test",
            "/api/v1/me/contact-methods/{missing}/test",
            Some(json!({})),
            AtLeast(Viewer, 404),
        ),
        // Account e-mail at once: everyone has that rule already, so it is a 409 shown as a
        // message on the profile.
        page(
            Method::POST,
            "/profile/notification-rules",
            "/profile/notification-rules",
            AtLeast(Viewer, 303),
        ),
        page(
            Method::POST,
            "/profile/notification-rules/{id}/delete",
            "/profile/notification-rules/{missing}/delete",
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/me/contact-methods",
            "/api/v1/me/contact-methods",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/me/contact-methods",
            "/api/v1/me/contact-methods",
            Some(json!({"kind": "sms", "address": "x"})),
            AtLeast(Viewer, 400),
        ),
        api(
            Method::DELETE,
            "/me/contact-methods/{id}",
            "/api/v1/me/contact-methods/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/me/notification-rules",
            "/api/v1/me/notification-rules",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/me/notification-rules",
            "/api/v1/me/notification-rules",
            Some(json!({"contact_method_id": "account", "delay_minutes": 0})),
            AtLeast(Viewer, 409),
        ),
        api(
            Method::DELETE,
            "/me/notification-rules/{id}",
            "/api/v1/me/notification-rules/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/schedules/{id}/swaps",
            "/api/v1/schedules/{missing}/swaps",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::POST,
            "/schedules/{id}/swaps",
            "/api/v1/schedules/{missing}/swaps",
            Some(json!({"start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"})),
            AtLeast(Responder, 404),
        ),
        api(
            Method::PUT,
            "/schedules/{id}/swap-approval",
            "/api/v1/schedules/{missing}/swap-approval",
            Some(json!({"required": true})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/schedules/{id}/conflicts",
            "/api/v1/schedules/{missing}/conflicts",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::GET,
            "/swaps/{id}",
            "/api/v1/swaps/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::POST,
            "/swaps/{id}/take",
            "/api/v1/swaps/{missing}/take",
            None,
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/swaps/{id}/approve",
            "/api/v1/swaps/{missing}/approve",
            None,
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/swaps/{id}/decline",
            "/api/v1/swaps/{missing}/decline",
            None,
            AtLeast(Manager, 404),
        ),
        api(
            Method::POST,
            "/swaps/{id}/cancel",
            "/api/v1/swaps/{missing}/cancel",
            None,
            AtLeast(Responder, 404),
        ),
        api(
            Method::GET,
            "/time-off",
            "/api/v1/time-off",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/time-off",
            "/api/v1/time-off",
            Some(json!({"start": "2026-12-24", "end": "2026-12-26", "reason": "holiday"})),
            AtLeast(Viewer, 201),
        ),
        api(
            Method::DELETE,
            "/time-off/{id}",
            "/api/v1/time-off/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        page(
            Method::GET,
            "/escalation-policies",
            "/escalation-policies",
            AtLeast(Viewer, 200),
        ),
        page(
            Method::POST,
            "/escalation-policies",
            "/escalation-policies",
            AtLeast(Manager, 422),
        ),
        page(
            Method::GET,
            "/escalation-policies/new",
            "/escalation-policies/new",
            AtLeast(Manager, 200),
        ),
        page(
            Method::GET,
            "/escalation-policies/{id}",
            "/escalation-policies/{missing}",
            AtLeast(Viewer, 404),
        ),
        page(
            Method::POST,
            "/escalation-policies/{id}",
            "/escalation-policies/{missing}",
            AtLeast(Manager, 404),
        ),
        page(
            Method::GET,
            "/admin/severities",
            "/admin/severities",
            AtLeast(Admin, 200),
        ),
        page(
            Method::POST,
            "/admin/severities",
            "/admin/severities",
            AtLeast(Admin, 422),
        ),
        api(
            Method::GET,
            "/escalation-policies",
            "/api/v1/escalation-policies",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::POST,
            "/escalation-policies",
            "/api/v1/escalation-policies",
            Some(json!({"name": "x", "steps": []})),
            AtLeast(Manager, 400),
        ),
        api(
            Method::GET,
            "/escalation-policies/{id}",
            "/api/v1/escalation-policies/{missing}",
            None,
            AtLeast(Viewer, 404),
        ),
        api(
            Method::PUT,
            "/escalation-policies/{id}",
            "/api/v1/escalation-policies/{missing}",
            Some(json!({"name": "x", "steps": []})),
            AtLeast(Manager, 404),
        ),
        api(
            Method::GET,
            "/severities",
            "/api/v1/severities",
            None,
            AtLeast(Viewer, 200),
        ),
        api(
            Method::PUT,
            "/severities",
            "/api/v1/severities",
            Some(json!([])),
            AtLeast(Admin, 400),
        ),
        page(
            Method::POST,
            "/incidents/{id}/escalate",
            "/incidents/{missing}/escalate",
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/escalate",
            "/api/v1/incidents/{missing}/escalate",
            None,
            AtLeast(Responder, 404),
        ),
        page(
            Method::POST,
            "/incidents/{id}/snooze",
            "/incidents/{missing}/snooze",
            AtLeast(Responder, 404),
        ),
        api(
            Method::POST,
            "/incidents/{id}/snooze",
            "/api/v1/incidents/{missing}/snooze",
            Some(json!({"minutes": 30})),
            AtLeast(Responder, 404),
        ),
        // Last: it ends the session it is called with.
        page(Method::POST, "/logout", "/logout", AtLeast(Viewer, 303)),
    ]
}

fn expected(route: &Route, who: Who) -> u16 {
    match route.access {
        Access::Public(status) => status,
        Access::PublicSignedIn(anon, signed_in) => {
            if who == Who::Anonymous {
                anon
            } else {
                signed_in
            }
        }
        Access::AtLeast(_, _) if who == Who::Anonymous => {
            if route.api {
                401
            } else {
                303
            }
        }
        Access::AtLeast(min, status) => {
            if who >= min {
                status
            } else {
                403
            }
        }
    }
}

/// Every `resource("...")` in the route table, with the API scope prefix where it applies.
fn routes_in_the_table() -> Vec<String> {
    let source = include_str!("../../src/web/mod.rs");
    let mut in_api = false;
    let mut found = Vec::new();
    for line in source.lines() {
        if line.contains("web::scope(\"/api/v1\")") {
            in_api = true;
        }
        let mut rest = line;
        while let Some(at) = rest.find("resource(\"") {
            let start = at + "resource(\"".len();
            let end = rest[start..].find('"').expect("closing quote") + start;
            let path = &rest[start..end];
            found.push(if in_api {
                format!("/api/v1{path}")
            } else {
                path.to_owned()
            });
            rest = &rest[end..];
        }
    }
    found
}

#[test]
fn the_role_table_covers_every_route() {
    let covered: Vec<String> = table()
        .iter()
        .map(|r| {
            if r.api {
                format!("/api/v1{}", r.pattern)
            } else {
                r.pattern.to_owned()
            }
        })
        .collect();
    let routes = routes_in_the_table();
    assert!(routes.len() > 20, "{routes:?}");
    for route in routes {
        assert!(
            covered.contains(&route),
            "{route} is missing from the role table"
        );
    }
}

on_both_databases! {
    async fn every_route_for_every_role(app: TestApp) {
        let target = app.create_user("target@example.com", "viewer").await;
        let missing = "00000000-0000-7000-8000-000000000000";
        let (service, integration, key) = app.integration("generic").await;
        let opened = app.post_json(&format!("/hooks/generic/{key}"), json!({"title": "Role check"}).to_string()).await;
        let incident = opened.json["results"][0]["incident_id"].as_str().expect("incident").to_owned();
        let mut failures = Vec::new();
        for who in EVERYONE {
            let role = match who {
                Who::Anonymous => None,
                Who::Viewer => Some("viewer"),
                Who::Responder => Some("responder"),
                Who::Manager => Some("manager"),
                Who::Admin => Some("admin"),
            };
            let (browser, token) = match role {
                Some(role) => {
                    let (user, token) = app.token_for(role).await;
                    let b = app.browser();
                    b.login(&user.email, PASSWORD).await;
                    (b, Some(token))
                }
                None => (app.browser(), None),
            };
            let client = app.api(token.as_deref());
            for route in table() {
                let path = route
                    .path
                    .replace("{user}", &target.id)
                    .replace("{missing}", missing)
                    .replace("{service}", &service)
                    .replace("{integration}", &integration)
                    .replace("{incident}", &incident);
                let status = if route.pattern == "/incidents/stream" {
                    // An endless stream: the status is all there is to check.
                    browser.client.get(browser.url(&path)).send().await.expect("stream").status().as_u16()
                } else if route.api {
                    client.send(route.method.clone(), &path, route.body.clone()).await.status.as_u16()
                } else if route.method == Method::GET {
                    browser.get(&path).await.status.as_u16()
                } else {
                    let csrf = browser.get("/login").await;
                    let token = hidden_value(&csrf.body, "csrf_token");
                    let token = match token {
                        Some(t) => t,
                        None => browser.get("/profile").await.csrf_token(),
                    };
                    let res = browser.client.request(route.method.clone(), browser.url(&path)).form(&[("csrf_token", token.as_str())]).send().await.expect("request");
                    res.status().as_u16()
                };
                let want = expected(&route, who);
                if status != want {
                    failures.push(format!("{:?} {} {} as {:?}: got {status}, expected {want}", route.method, route.pattern, path, who));
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}
