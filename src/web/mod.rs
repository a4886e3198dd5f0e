//! HTTP: the route table (every path in one place), middleware order, and the helpers the pages
//! and the JSON API share.

pub mod api;
pub mod assets;
pub mod csrf;
pub mod extract;
pub mod flash;
pub mod format;
pub mod health;
pub mod pages;
pub mod rate_limit;
pub mod session;
pub mod snippets;
pub mod telemetry;
pub mod webhooks;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;

use crate::error::AppError;

/// Every route of the application.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use pages::{
        ack_link, admin_users, audit, auth, contacts, dashboard, escalation, incidents, profile,
        schedules, services, setup, swaps, time_off,
    };
    use web::{delete, get, patch, post, put, resource};

    cfg
        // Operators and monitoring
        .service(resource("/healthz").route(get().to(health::healthz)))
        .service(resource("/readyz").route(get().to(health::readyz)))
        .service(resource("/metrics").route(get().to(health::metrics)))
        .service(resource("/static/{file}").route(get().to(assets::serve)))
        // Monitoring tools
        .service(resource("/hooks/alertmanager/{key}").route(post().to(webhooks::alertmanager)))
        .service(resource("/hooks/grafana/{key}").route(post().to(webhooks::grafana)))
        .service(resource("/hooks/generic/{key}").route(post().to(webhooks::generic)))
        .service(resource("/v2/enqueue").route(post().to(webhooks::pagerduty)))
        // Pages
        .service(resource("/").route(get().to(dashboard::show)))
        .service(
            resource("/setup")
                .route(get().to(setup::show))
                .route(post().to(setup::submit)),
        )
        .service(
            resource("/login")
                .route(get().to(auth::show))
                .route(post().to(auth::submit)),
        )
        .service(resource("/logout").route(post().to(auth::logout)))
        .service(
            resource("/profile")
                .route(get().to(profile::show))
                .route(post().to(profile::update)),
        )
        .service(resource("/profile/password").route(post().to(profile::change_password)))
        .service(resource("/profile/tokens").route(post().to(profile::create_token)))
        .service(resource("/profile/feed/rotate").route(post().to(profile::rotate_feed)))
        .service(resource("/profile/tokens/{id}/revoke").route(post().to(profile::revoke_token)))
        .service(
            resource("/admin/users")
                .route(get().to(admin_users::list))
                .route(post().to(admin_users::create)),
        )
        .service(resource("/admin/users/{id}").route(get().to(admin_users::show)))
        .service(resource("/admin/users/{id}/role").route(post().to(admin_users::change_role)))
        .service(resource("/admin/users/{id}/deactivate").route(post().to(admin_users::deactivate)))
        .service(resource("/admin/users/{id}/reactivate").route(post().to(admin_users::reactivate)))
        .service(
            resource("/admin/users/{id}/reset-password")
                .route(post().to(admin_users::reset_password)),
        )
        .service(
            resource("/admin/users/{id}/tokens/{token_id}/revoke")
                .route(post().to(admin_users::revoke_token)),
        )
        .service(resource("/admin/audit").route(get().to(audit::list)))
        .service(
            resource("/incidents")
                .route(get().to(incidents::list))
                .route(post().to(incidents::create)),
        )
        .service(resource("/incidents/new").route(get().to(incidents::new_form)))
        .service(resource("/incidents/stream").route(get().to(incidents::stream)))
        .service(resource("/incidents/{id}").route(get().to(incidents::show)))
        .service(resource("/incidents/{id}/acknowledge").route(post().to(incidents::acknowledge)))
        .service(resource("/incidents/{id}/escalate").route(post().to(incidents::escalate)))
        .service(resource("/incidents/{id}/snooze").route(post().to(incidents::snooze)))
        .service(resource("/incidents/{id}/resolve").route(post().to(incidents::resolve)))
        .service(resource("/incidents/{id}/notes").route(post().to(incidents::add_note)))
        .service(resource("/incidents/{id}/severity").route(post().to(incidents::change_severity)))
        .service(resource("/incidents/{id}/reassign").route(post().to(incidents::reassign)))
        .service(
            resource("/services")
                .route(get().to(services::list))
                .route(post().to(services::create)),
        )
        .service(
            resource("/services/{id}")
                .route(get().to(services::show))
                .route(post().to(services::update)),
        )
        .service(resource("/services/{id}/archive").route(post().to(services::archive)))
        .service(resource("/services/{id}/restore").route(post().to(services::restore)))
        .service(
            resource("/services/{id}/integrations").route(post().to(services::create_integration)),
        )
        .service(
            resource("/services/{id}/integrations/{integration_id}")
                .route(get().to(services::show_integration))
                .route(post().to(services::update_integration)),
        )
        .service(
            resource("/services/{id}/integrations/{integration_id}/rotate")
                .route(post().to(services::rotate_key)),
        )
        .service(
            resource("/services/{id}/integrations/{integration_id}/revoke")
                .route(post().to(services::revoke_integration)),
        )
        .service(resource("/oncall").route(get().to(schedules::on_call)))
        .service(
            resource("/schedules")
                .route(get().to(schedules::list))
                .route(post().to(schedules::create)),
        )
        // Before "/schedules/{id}", which would take "x.ics" as an id.
        .service(resource("/schedules/{id}.ics").route(get().to(schedules::schedule_feed)))
        .service(resource("/users/{id}/oncall.ics").route(get().to(schedules::user_feed)))
        .service(resource("/schedules/{id}").route(get().to(schedules::show)))
        .service(
            resource("/schedules/{id}/edit")
                .route(get().to(pages::schedule_edit::show))
                .route(post().to(pages::schedule_edit::submit)),
        )
        .service(resource("/schedules/{id}/feed/rotate").route(post().to(schedules::rotate_feed)))
        .service(resource("/schedules/{id}/backup").route(post().to(schedules::create_backup)))
        .service(resource("/schedules/{id}/review").route(get().to(schedules::review)))
        .service(resource("/schedules/{id}/notes").route(post().to(schedules::add_note)))
        .service(resource("/schedules/{id}/holidays").route(post().to(schedules::add_holiday)))
        .service(
            resource("/schedules/{id}/holidays/import")
                .route(post().to(pages::holiday_import::import)),
        )
        .service(
            resource("/schedules/{id}/holidays/{holiday_id}/delete")
                .route(post().to(schedules::remove_holiday)),
        )
        .service(resource("/schedules/{id}/overrides").route(post().to(schedules::add_override)))
        .service(
            resource("/ack/{id}")
                .route(get().to(ack_link::show))
                .route(post().to(ack_link::confirm)),
        )
        .service(
            resource("/escalation-policies")
                .route(get().to(escalation::list))
                .route(post().to(escalation::create)),
        )
        // Before "/escalation-policies/{id}", which would take "new" as an id.
        .service(resource("/escalation-policies/new").route(get().to(escalation::new)))
        .service(
            resource("/escalation-policies/{id}")
                .route(get().to(escalation::show))
                .route(post().to(escalation::update)),
        )
        .service(
            resource("/admin/severities")
                .route(get().to(escalation::severities))
                .route(post().to(escalation::set_severities)),
        )
        .service(resource("/schedules/{id}/swaps").route(post().to(swaps::offer)))
        .service(resource("/schedules/{id}/swap-approval").route(post().to(swaps::set_approval)))
        .service(resource("/swaps/{id}/take").route(post().to(swaps::take)))
        .service(resource("/swaps/{id}/approve").route(post().to(swaps::approve)))
        .service(resource("/swaps/{id}/decline").route(post().to(swaps::decline)))
        .service(resource("/swaps/{id}/cancel").route(post().to(swaps::cancel)))
        .service(resource("/profile/time-off").route(post().to(time_off::add)))
        .service(resource("/profile/contact-methods").route(post().to(contacts::add_method)))
        .service(
            resource("/profile/contact-methods/{id}/delete")
                .route(post().to(contacts::remove_method)),
        )
        .service(
            resource("/profile/contact-methods/{id}/test").route(post().to(contacts::send_test)),
        )
        .service(resource("/profile/notification-rules").route(post().to(contacts::add_rule)))
        .service(
            resource("/profile/notification-rules/{id}/delete")
                .route(post().to(contacts::remove_rule)),
        )
        .service(resource("/profile/time-off/{id}/delete").route(post().to(time_off::remove)))
        .service(
            resource("/schedules/{id}/overrides/{override_id}/delete")
                .route(post().to(schedules::remove_override)),
        )
        // JSON API
        .service(
            web::scope("/api/v1")
                .service(
                    resource("/me")
                        .route(get().to(api::me::show))
                        .route(patch().to(api::me::update)),
                )
                .service(resource("/me/password").route(post().to(api::me::change_password)))
                .service(
                    resource("/me/contact-methods")
                        .route(get().to(api::contacts::list_methods))
                        .route(post().to(api::contacts::add_method)),
                )
                .service(
                    resource("/me/contact-methods/{id}")
                        .route(delete().to(api::contacts::remove_method)),
                )
                .service(
                    resource("/me/contact-methods/{id}/test")
                        .route(post().to(api::contacts::send_test)),
                )
                .service(
                    resource("/me/notification-rules")
                        .route(get().to(api::contacts::list_rules))
                        .route(post().to(api::contacts::add_rule)),
                )
                .service(
                    resource("/me/notification-rules/{id}")
                        .route(delete().to(api::contacts::remove_rule)),
                )
                .service(
                    resource("/users")
                        .route(get().to(api::users::list))
                        .route(post().to(api::users::create)),
                )
                .service(
                    resource("/users/{id}")
                        .route(get().to(api::users::show))
                        .route(patch().to(api::users::update)),
                )
                .service(
                    resource("/users/{id}/reset-password")
                        .route(post().to(api::users::reset_password)),
                )
                .service(
                    resource("/tokens")
                        .route(get().to(api::tokens::list))
                        .route(post().to(api::tokens::create)),
                )
                .service(resource("/tokens/{id}").route(delete().to(api::tokens::revoke)))
                .service(resource("/audit").route(get().to(api::audit::list)))
                .service(
                    resource("/services")
                        .route(get().to(api::services::list))
                        .route(post().to(api::services::create)),
                )
                .service(
                    resource("/services/{id}")
                        .route(get().to(api::services::show))
                        .route(patch().to(api::services::update)),
                )
                .service(
                    resource("/services/{id}/integrations")
                        .route(get().to(api::services::list_integrations))
                        .route(post().to(api::services::create_integration)),
                )
                .service(
                    resource("/services/{id}/integrations/{integration_id}")
                        .route(patch().to(api::services::update_integration))
                        .route(delete().to(api::services::revoke_integration)),
                )
                .service(
                    resource("/services/{id}/integrations/{integration_id}/rotate-key")
                        .route(post().to(api::services::rotate_key)),
                )
                .service(
                    resource("/incidents")
                        .route(get().to(api::incidents::list))
                        .route(post().to(api::incidents::create)),
                )
                .service(resource("/incidents/{id}").route(get().to(api::incidents::show)))
                .service(
                    resource("/incidents/{id}/acknowledge")
                        .route(post().to(api::incidents::acknowledge)),
                )
                .service(
                    resource("/incidents/{id}/resolve").route(post().to(api::incidents::resolve)),
                )
                .service(
                    resource("/incidents/{id}/escalate").route(post().to(api::incidents::escalate)),
                )
                .service(
                    resource("/incidents/{id}/snooze").route(post().to(api::incidents::snooze)),
                )
                .service(
                    resource("/incidents/{id}/notes").route(post().to(api::incidents::add_note)),
                )
                .service(
                    resource("/incidents/{id}/severity")
                        .route(post().to(api::incidents::change_severity)),
                )
                .service(
                    resource("/incidents/{id}/reassign").route(post().to(api::incidents::reassign)),
                )
                .service(
                    resource("/incidents/{id}/timeline").route(get().to(api::incidents::timeline)),
                )
                .service(
                    resource("/schedules")
                        .route(get().to(api::schedules::list))
                        .route(post().to(api::schedules::create)),
                )
                .service(
                    resource("/schedules/{id}")
                        .route(get().to(api::schedules::show))
                        .route(put().to(api::schedules::update)),
                )
                .service(
                    resource("/schedules/{id}/overrides")
                        .route(post().to(api::schedules::add_override)),
                )
                .service(
                    resource("/schedules/{id}/overrides/{override_id}")
                        .route(delete().to(api::schedules::remove_override)),
                )
                .service(resource("/schedules/{id}/shifts").route(get().to(api::schedules::shifts)))
                .service(
                    resource("/schedules/{id}/backup")
                        .route(post().to(api::schedules::create_backup)),
                )
                .service(resource("/schedules/{id}/review").route(get().to(api::schedules::review)))
                .service(
                    resource("/schedules/{id}/notes")
                        .route(get().to(api::schedules::notes))
                        .route(post().to(api::schedules::add_note)),
                )
                .service(
                    resource("/schedules/{id}/holidays")
                        .route(post().to(api::schedules::add_holiday)),
                )
                // Before "/schedules/{id}/holidays/{holiday_id}", which would take "import".
                .service(
                    resource("/schedules/{id}/holidays/import")
                        .route(post().to(api::holiday_import::import)),
                )
                .service(
                    resource("/schedules/{id}/holidays/{holiday_id}")
                        .route(delete().to(api::schedules::remove_holiday)),
                )
                .service(
                    resource("/schedules/{id}/swaps")
                        .route(get().to(api::swaps::list))
                        .route(post().to(api::swaps::offer)),
                )
                .service(
                    resource("/schedules/{id}/swap-approval")
                        .route(put().to(api::swaps::set_approval)),
                )
                .service(
                    resource("/schedules/{id}/conflicts").route(get().to(api::time_off::conflicts)),
                )
                .service(resource("/swaps/{id}").route(get().to(api::swaps::show)))
                .service(resource("/swaps/{id}/take").route(post().to(api::swaps::take)))
                .service(resource("/swaps/{id}/approve").route(post().to(api::swaps::approve)))
                .service(resource("/swaps/{id}/decline").route(post().to(api::swaps::decline)))
                .service(resource("/swaps/{id}/cancel").route(post().to(api::swaps::cancel)))
                .service(
                    resource("/time-off")
                        .route(get().to(api::time_off::list))
                        .route(post().to(api::time_off::add)),
                )
                .service(resource("/time-off/{id}").route(delete().to(api::time_off::remove)))
                .service(
                    resource("/escalation-policies")
                        .route(get().to(api::escalation::list))
                        .route(post().to(api::escalation::create)),
                )
                .service(
                    resource("/escalation-policies/{id}")
                        .route(get().to(api::escalation::show))
                        .route(put().to(api::escalation::update)),
                )
                .service(
                    resource("/severities")
                        .route(get().to(api::escalation::severities))
                        .route(put().to(api::escalation::set_severities)),
                )
                .service(resource("/oncall").route(get().to(api::schedules::on_call))),
        );
}

/// Answer for paths no route matches.
pub async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// Paths used by programs rather than people: JSON errors, no CSRF cookie, no HTML error pages.
pub fn is_machine_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/hooks/")
        || path.starts_with("/v2/")
        || is_public_asset(path)
        || is_probe_path(path)
}

pub fn is_public_asset(path: &str) -> bool {
    path.starts_with("/static/")
}

pub fn is_probe_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Headers every response carries unless a handler sets its own: no framing, no sniffing, no
/// third-party code, and nothing cached that belongs to a signed-in person.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ))
        .add(("Cache-Control", "no-store"))
}
