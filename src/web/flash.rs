//! One-shot messages shown on the next page after a redirect ("User created").
//!
//! Carried in a short-lived cookie; the session middleware reads it and clears it once a page
//! has been shown.

use actix_web::HttpResponse;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const FLASH_COOKIE: &str = "lookout_flash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

impl FlashKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlashKind::Success => "success",
            FlashKind::Info => "info",
            FlashKind::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Self {
        Flash {
            kind: FlashKind::Success,
            message: message.into(),
        }
    }

    pub fn info(message: impl Into<String>) -> Self {
        Flash {
            kind: FlashKind::Info,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Flash {
            kind: FlashKind::Error,
            message: message.into(),
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{}", self.kind.as_str(), self.message))
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (kind, message) = text.split_once('\n')?;
        let kind = match kind {
            "success" => FlashKind::Success,
            "info" => FlashKind::Info,
            "error" => FlashKind::Error,
            _ => return None,
        };
        Some(Flash {
            kind,
            message: message.chars().take(500).collect(),
        })
    }

    pub fn cookie(&self) -> Cookie<'static> {
        Cookie::build(FLASH_COOKIE, self.encode())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::minutes(5))
            .finish()
    }
}

/// `303 See Other` to `location`, with a message for the next page.
pub fn redirect_with(location: &str, flash: Flash) -> HttpResponse {
    let mut res = redirect(location);
    if let Err(e) = res.add_cookie(&flash.cookie()) {
        tracing::warn!(error = %e, "could not set flash cookie");
    }
    res
}

/// `303 See Other` to `location`: after a form POST, the browser GETs the next page.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashes_round_trip_and_reject_garbage() {
        let f = Flash::success("User ana@example.com created; <b>not html</b>");
        assert_eq!(Flash::decode(&f.encode()), Some(f));
        assert_eq!(Flash::decode("!!!"), None);
        assert_eq!(Flash::decode(&URL_SAFE_NO_PAD.encode("evil\nx")), None);
    }
}
