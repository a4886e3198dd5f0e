//! Who is asking: resolves the bearer token or the session cookie of every request into a
//! [`Principal`] in the request extensions, and keeps the session, CSRF and flash cookies in order.
//!
//! Runs before every handler, so a deactivated user's session or token stops working on their very
//! next request: the lookup only finds sessions and tokens of active users.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::crypto::random_token;
use crate::error::AppError;
use crate::services::auth::{self, Principal, SESSION_TTL};
use crate::state::AppState;
use crate::web::csrf::{ANON_COOKIE, CsrfSeed};
use crate::web::flash::{FLASH_COOKIE, Flash};
use crate::web::pages::errors::fail;

pub const SESSION_COOKIE: &str = "lookout_session";

/// The flash message that arrived with this request, for the page to show.
#[derive(Debug, Clone)]
pub struct IncomingFlash(pub Flash);

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the site is served over https.
pub fn session_cookie(value: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(SESSION_TTL.num_seconds()))
        .finish()
}

/// A cookie that tells the browser to forget `name`.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    c.make_removal();
    c
}

fn anon_cookie(value: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(ANON_COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(st) = req.app_data::<web::Data<AppState>>().cloned() else {
        let e = AppError::Internal("application state missing".into());
        return Ok(fail(req, e));
    };
    let secure = st.base_url.is_https();
    let mut set_cookies: Vec<Cookie<'static>> = Vec::new();

    if super::is_public_asset(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }

    let principal = if let Some(token) = bearer(&req) {
        match auth::resolve_bearer(&st, &token).await {
            Ok(p) => p,
            Err(e) => return Ok(fail(req, e)),
        }
    } else if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        match auth::resolve_session(&st, cookie.value()).await {
            Ok(Some(resolved)) => {
                if resolved.refreshed {
                    set_cookies.push(session_cookie(cookie.value(), secure));
                }
                Some(resolved.principal)
            }
            Ok(None) => {
                set_cookies.push(removal(SESSION_COOKIE, secure));
                None
            }
            Err(e) => return Ok(fail(req, e)),
        }
    } else {
        None
    };

    let seed = match principal.as_ref().and_then(Principal::session_id) {
        Some(session_id) => Some(CsrfSeed::for_session(session_id)),
        None => match req.cookie(ANON_COOKIE) {
            Some(c) => Some(CsrfSeed::for_anonymous(c.value())),
            // Pages need a seed to put a token in their forms; machines never do.
            None if !super::is_machine_path(req.path()) => {
                let value = random_token(16);
                set_cookies.push(anon_cookie(&value, secure));
                Some(CsrfSeed::for_anonymous(&value))
            }
            None => None,
        },
    };

    let had_flash = match req
        .cookie(FLASH_COOKIE)
        .and_then(|c| Flash::decode(c.value()))
    {
        Some(flash) => {
            req.extensions_mut().insert(IncomingFlash(flash));
            true
        }
        None => false,
    };
    if let Some(seed) = seed {
        req.extensions_mut().insert(seed);
    }
    if let Some(principal) = principal {
        req.extensions_mut().insert(principal);
    }

    let mut res = next.call(req).await?;
    // The flash was shown unless we are redirecting on, or the handler set a new one.
    let sets_flash = res.response().cookies().any(|c| c.name() == FLASH_COOKIE);
    if had_flash && !res.status().is_redirection() && !sets_flash {
        set_cookies.push(removal(FLASH_COOKIE, secure));
    }
    let sets_session = res.response().cookies().any(|c| c.name() == SESSION_COOKIE);
    for cookie in set_cookies {
        // A handler that signed someone in or out has the last word on the session cookie.
        if sets_session && cookie.name() == SESSION_COOKIE {
            continue;
        }
        if let Err(e) = res.response_mut().add_cookie(&cookie) {
            tracing::warn!(error = %e, "could not set cookie");
        }
    }
    Ok(res.map_into_left_body())
}
