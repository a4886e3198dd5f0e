//! Liveness, readiness and metrics for operators and their monitoring.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::metrics::PoolUse;
use crate::state::AppState;

/// 200 while the process runs.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// 200 when the database answers within two seconds, 503 otherwise.
pub async fn readyz(st: web::Data<AppState>) -> HttpResponse {
    match st.db.ping(Duration::from_secs(2)).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}

pub async fn metrics(st: web::Data<AppState>) -> HttpResponse {
    let state = st.db.state();
    let text = st.metrics.render(PoolUse {
        connections: state.connections,
        idle: state.idle_connections,
        max: st.db.max_size(),
    });
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}
