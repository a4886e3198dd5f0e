//! Cross-site request forgery protection for every state-changing request made with ambient
//! credentials (cookies).
//!
//! The token is an HMAC, under the installation's secret key, of the browser session id (or, before
//! sign-in, of a random `lookout_csrf` cookie). Forms carry it in a hidden `csrf_token` field;
//! scripts send it in the `X-CSRF-Token` header. A middleware checks every POST/PUT/PATCH/DELETE
//! before any handler runs, so no handler can forget. Requests authenticated by a bearer token,
//! webhooks, and API calls without any credentials carry nothing a forger could borrow and are
//! not checked.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use futures_util::StreamExt;

use crate::error::AppError;
use crate::services::auth::{AuthMethod, Principal};
use crate::state::AppState;
use crate::web::pages::errors::fail;

pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const ANON_COOKIE: &str = "lookout_csrf";
const PURPOSE: &str = "csrf";
/// Larger form bodies than this are refused before parsing; no form of ours comes close.
pub const FORM_LIMIT: usize = 64 * 1024;

/// What the request's CSRF token is bound to; set by the session middleware.
#[derive(Debug, Clone)]
pub struct CsrfSeed(pub String);

impl CsrfSeed {
    pub fn for_session(session_id: &str) -> Self {
        CsrfSeed(format!("session:{session_id}"))
    }

    pub fn for_anonymous(cookie: &str) -> Self {
        CsrfSeed(format!("anon:{cookie}"))
    }

    pub fn token(&self, st: &AppState) -> String {
        st.secret.sign(PURPOSE, &self.0)
    }

    pub fn accepts(&self, st: &AppState, token: &str) -> bool {
        st.secret.verify(PURPOSE, &self.0, token)
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request needs a token: it changes something and carries a cookie credential, or
/// it is a browser form (which may be a sign-in form, so "no session yet" is no exemption).
fn needs_check(req: &ServiceRequest) -> bool {
    if !is_unsafe(req.method())
        || (super::is_machine_path(req.path()) && !req.path().starts_with("/api/"))
    {
        return false;
    }
    let principal = req
        .extensions()
        .get::<Principal>()
        .map(|p| p.method.clone());
    match principal {
        Some(AuthMethod::Token { .. }) => false,
        Some(AuthMethod::Session { .. }) => true,
        None => !req.path().starts_with("/api/"),
    }
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !needs_check(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(st) = req.app_data::<web::Data<AppState>>().cloned() else {
        let e = AppError::Internal("application state missing".into());
        return Ok(fail(req, e));
    };
    let seed = req.extensions().get::<CsrfSeed>().cloned();
    let mut presented = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if presented.is_none() {
        presented = form_field(req.query_string().as_bytes(), CSRF_FIELD);
    }
    if presented.is_none() && is_urlencoded(&req) {
        let body = match read_body(&mut req).await {
            Ok(body) => body,
            Err(e) => return Ok(fail(req, e)),
        };
        presented = form_field(&body, CSRF_FIELD);
        req.set_payload(Payload::from(body));
    }
    let valid = match (seed, presented) {
        (Some(seed), Some(token)) => seed.accepts(&st, &token),
        _ => false,
    };
    if !valid {
        tracing::warn!(
            path = req.path(),
            "request refused: missing or invalid CSRF token"
        );
        return Ok(fail(req, AppError::Csrf));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

fn is_urlencoded(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

async fn read_body(req: &mut ServiceRequest) -> Result<actix_web::web::Bytes, AppError> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn form_field(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_among_form_fields() {
        assert_eq!(
            form_field(b"email=a%40b.c&csrf_token=abc-_123&x=1", CSRF_FIELD),
            Some("abc-_123".into())
        );
        assert_eq!(form_field(b"email=a", CSRF_FIELD), None);
    }
}
