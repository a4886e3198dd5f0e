//! Error pages: turns error responses on page routes into HTML in the site's layout, with the
//! right status; sends people without a session to the sign-in page.
//!
//! API, webhook and health routes keep the JSON body that `AppError` produced.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{PageCtx, render};
use crate::error::{AppError, ErrorPage, ErrorRedirect};
use crate::web::flash::{Flash, redirect, redirect_with};

#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorTemplate {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: String,
    pub message: String,
}

fn is_html(res: &HttpResponse<impl MessageBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

/// What to show for errors that did not come from `AppError` (no route, wrong method, ...).
fn generic(status: StatusCode) -> ErrorPage {
    let e = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => AppError::NotFound,
        StatusCode::FORBIDDEN => AppError::Forbidden,
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        s if s.is_client_error() => {
            AppError::BadRequest("The request could not be understood.".into())
        }
        _ => AppError::Internal(String::new()),
    };
    ErrorPage {
        status,
        title: e.title(),
        message: e.public_message(),
        redirect: None,
    }
}

fn sign_in_redirect(req: &HttpRequest) -> HttpResponse {
    let target = match req.query_string() {
        "" => req.path().to_owned(),
        q => format!("{}?{q}", req.path()),
    };
    if req.path() == "/" {
        return redirect("/login");
    }
    let next: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    redirect(&format!("/login?next={next}"))
}

pub fn error_page(req: &HttpRequest, info: &ErrorPage) -> HttpResponse {
    match info.redirect {
        Some(ErrorRedirect::SignIn) => return sign_in_redirect(req),
        Some(ErrorRedirect::ChangePassword) => {
            return redirect_with(
                "/profile#password",
                Flash::info("Your password was reset by an admin. Choose a new one to continue."),
            );
        }
        None => {}
    }
    let template = ErrorTemplate {
        ctx: PageCtx::from_request(req),
        status: info.status.as_u16(),
        title: info.title.to_owned(),
        message: info.message.clone(),
    };
    match render(info.status, &template) {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            HttpResponse::build(info.status)
                .content_type("text/plain; charset=utf-8")
                .body(info.message.clone())
        }
    }
}

pub async fn render_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if crate::web::is_machine_path(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let res = next.call(req).await?;
    let info = res.response().extensions().get::<ErrorPage>().cloned();
    let info = match info {
        Some(info) => info,
        // Handlers that re-render a form with its errors answer 4xx HTML themselves.
        None if res.status().is_client_error() || res.status().is_server_error() => {
            if is_html(res.response()) {
                return Ok(res.map_into_left_body());
            }
            generic(res.status())
        }
        None => return Ok(res.map_into_left_body()),
    };
    let (req, original) = res.into_parts();
    let mut page = error_page(&req, &info);
    // Keep headers that tell the client what to do next.
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = original.headers().get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    Ok(ServiceResponse::new(req, page).map_into_right_body())
}

/// The response for an error raised outside a handler (in a middleware): an HTML page on page
/// routes, the JSON body elsewhere.
pub fn respond(req: &HttpRequest, e: AppError) -> HttpResponse {
    use actix_web::ResponseError;
    let res = e.error_response();
    if crate::web::is_machine_path(req.path()) {
        return res;
    }
    let info = res.extensions().get::<ErrorPage>().cloned();
    match info {
        Some(info) => error_page(req, &info),
        None => res,
    }
}

/// Ends a middleware's work with an error response (see [`respond`]).
pub fn fail<B>(req: ServiceRequest, e: AppError) -> ServiceResponse<EitherBody<B>> {
    let res = respond(req.request(), e);
    req.into_response(res).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use actix_web::test::TestRequest;

    use super::*;

    #[actix_web::test]
    async fn a_server_error_page_hides_the_cause_and_keeps_the_status() {
        let req = TestRequest::get().uri("/admin/users").to_http_request();
        let res = respond(
            &req,
            AppError::Internal("disk /var/lib/secret is full".into()),
        );
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(is_html(&res));
        let body = to_bytes(res.into_body()).await.expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("<h1>Internal error</h1>"), "{body}");
        assert!(!body.contains("/var/lib/secret"), "{body}");
    }

    #[actix_web::test]
    async fn machine_routes_keep_the_json_body() {
        let req = TestRequest::get().uri("/api/v1/users").to_http_request();
        let res = respond(&req, AppError::Forbidden);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = to_bytes(res.into_body()).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"], "Forbidden");
    }

    #[actix_web::test]
    async fn pages_send_strangers_to_sign_in_and_back() {
        let req = TestRequest::get()
            .uri("/admin/audit?user=x")
            .to_http_request();
        let res = respond(&req, AppError::Unauthenticated);
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            res.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some("/login?next=%2Fadmin%2Faudit%3Fuser%3Dx")
        );
    }
}
