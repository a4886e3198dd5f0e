//! Cross-site request forgery protection for every state-changing request made with ambient
//! credentials (cookies).
//!
//! The token is an HMAC, under the installation's secret key, of the browser session id (or, before
//! sign-in, of a random `lookout_csrf` cookie). Forms carry it in a hidden `csrf_token` field
//! (urlencoded, or a part of a `multipart/form-data` upload); scripts send it in the
//! `X-CSRF-Token` header. A middleware checks every POST/PUT/PATCH/DELETE before any handler
//! runs, so no handler can forget. Requests authenticated by a bearer token,
//! webhooks, and API calls without any credentials carry nothing a forger could borrow and are
//! not checked.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
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
/// Uploads carry a file (a holiday calendar: at most 1 MiB) besides the token; the slack lets a
/// file slightly over its own limit reach the handler, which says so in words.
pub const MULTIPART_LIMIT: usize = 2 * 1024 * 1024;

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
    if presented.is_none()
        && let Some(kind) = form_kind(&req)
    {
        let limit = match kind {
            FormKind::Urlencoded => FORM_LIMIT,
            FormKind::Multipart => MULTIPART_LIMIT,
        };
        let body = match read_body(&mut req, limit).await {
            Ok(body) => body,
            Err(e) => return Ok(fail(req, e)),
        };
        presented = match kind {
            FormKind::Urlencoded => form_field(&body, CSRF_FIELD),
            FormKind::Multipart => multipart_field(req.headers(), body.clone(), CSRF_FIELD).await,
        };
        // The handler reads the same body from the start.
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

#[derive(Debug, Clone, Copy)]
enum FormKind {
    Urlencoded,
    Multipart,
}

/// The kinds of body a browser form sends; others carry no `csrf_token` field.
fn form_kind(req: &ServiceRequest) -> Option<FormKind> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())?
        .trim_start()
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        Some(FormKind::Urlencoded)
    } else if content_type.starts_with("multipart/form-data") {
        Some(FormKind::Multipart)
    } else {
        None
    }
}

async fn read_body(
    req: &mut ServiceRequest,
    limit: usize,
) -> Result<actix_web::web::Bytes, AppError> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| AppError::BadRequest(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
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

/// The value of the part called `name` in a buffered `multipart/form-data` body; a body that
/// is not well-formed multipart has no token.
async fn multipart_field(
    headers: &header::HeaderMap,
    body: actix_web::web::Bytes,
    name: &str,
) -> Option<String> {
    let stream = futures_util::stream::once(async move { Ok::<_, PayloadError>(body) });
    let mut parts = actix_multipart::Multipart::new(headers, stream);
    while let Some(Ok(mut part)) = parts.next().await {
        if part.name() == Some(name) {
            // A token is a few dozen characters; a part far longer is not one.
            let value = part.bytes(1024).await.ok()?.ok()?;
            return String::from_utf8(value.to_vec()).ok();
        }
    }
    None
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

    fn multipart_headers() -> header::HeaderMap {
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
        );
        headers
    }

    #[actix_web::test]
    async fn finds_the_token_among_multipart_parts() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"h.ics\"\r\n\
                    Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc-_123\r\n--XyZ--\r\n";
        let found = multipart_field(&multipart_headers(), body.into(), CSRF_FIELD).await;
        assert_eq!(found, Some("abc-_123".into()));
        let without =
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--XyZ--\r\n";
        let found = multipart_field(&multipart_headers(), without.into(), CSRF_FIELD).await;
        assert_eq!(found, None);
        let broken =
            multipart_field(&multipart_headers(), "csrf_token=abc".into(), CSRF_FIELD).await;
        assert_eq!(broken, None);
    }
}
