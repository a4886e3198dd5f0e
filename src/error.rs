//! The one error type of the application and how it becomes an HTTP response.
//!
//! Policy: bad input is a 4xx that says what is wrong; a database or internal failure is a 5xx
//! whose body says nothing internal (the cause is logged with the request id). Every error
//! response carries an [`ErrorPage`] so the page layer can render HTML for browsers, while API,
//! webhook and health routes keep the JSON body `{"error", "detail"}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;
use crate::domain::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthenticated,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("choose a new password first")]
    PasswordChangeRequired,
    #[error("the form's security token is missing or out of date")]
    Csrf,
    #[error("invalid input: {}", .0.summary())]
    Invalid(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Db(DbError::Query(e))
    }
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid(FieldErrors::single(field, message))
    }

    /// A short title for pages and the `error` field of JSON bodies.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::NotFound => "Not found",
            AppError::Unauthenticated => "Sign-in required",
            AppError::Forbidden | AppError::PasswordChangeRequired => "Forbidden",
            AppError::Csrf => "Form expired",
            AppError::Invalid(_) | AppError::BadRequest(_) => "Invalid input",
            AppError::Conflict(_) => "Conflict",
            AppError::TooManyRequests { .. } => "Too many requests",
            AppError::PayloadTooLarge => "Request too large",
            AppError::Db(DbError::Pool(_)) => "Service unavailable",
            AppError::Db(_) | AppError::Internal(_) => "Internal error",
        }
    }

    /// What a person may read. Never includes the cause of a 5xx.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound => "There is nothing at this address, or you may not see it.".into(),
            AppError::Unauthenticated => "Sign in to continue.".into(),
            AppError::Forbidden => {
                "Your role does not allow this. Ask an admin if you need it.".into()
            }
            AppError::PasswordChangeRequired => {
                "Your password was reset. Choose a new one on your profile page first.".into()
            }
            AppError::Csrf => {
                "This form was not sent from a current Lookout page, so nothing was changed. \
                 Go back, reload the page and try again."
                    .into()
            }
            AppError::Invalid(fields) => fields.summary(),
            AppError::BadRequest(m) | AppError::Conflict(m) => m.clone(),
            AppError::TooManyRequests { message, .. } => message.clone(),
            AppError::PayloadTooLarge => {
                "The request body is larger than this endpoint accepts.".into()
            }
            AppError::Db(DbError::Pool(_)) => {
                "The database is not answering right now. Try again in a moment.".into()
            }
            AppError::Db(_) | AppError::Internal(_) => {
                "Something went wrong on our side. It has been logged; try again.".into()
            }
        }
    }
}

/// Attached to every error response so the page layer can render it as HTML.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    /// The error asked the browser to sign in / change password rather than to show a page.
    pub redirect: Option<ErrorRedirect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorRedirect {
    SignIn,
    ChangePassword,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::PasswordChangeRequired | AppError::Csrf => {
                StatusCode::FORBIDDEN
            }
            AppError::Invalid(_) | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Db(DbError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Db(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut body = json!({ "error": self.title(), "detail": self.public_message() });
        if let AppError::Invalid(fields) = self {
            body["fields"] = fields
                .iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect();
        }
        let mut res = HttpResponse::build(status).json(body);
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, AppError::Unauthenticated) {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res.extensions_mut().insert(ErrorPage {
            status,
            title: self.title(),
            message: self.public_message(),
            redirect: match self {
                AppError::Unauthenticated => Some(ErrorRedirect::SignIn),
                AppError::PasswordChangeRequired => Some(ErrorRedirect::ChangePassword),
                _ => None,
            },
        });
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_cause() {
        let e = AppError::Internal("secret path /etc/lookout".into());
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.public_message().contains("/etc"));
        let e = AppError::from(diesel::result::Error::NotFound);
        assert_eq!(
            e.status_code(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "a query error is never a 404"
        );
    }

    #[test]
    fn invalid_input_names_the_field() {
        let e = AppError::invalid("email", "e-mail address is required");
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(e.public_message(), "email: e-mail address is required");
    }
}
