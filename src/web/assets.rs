//! The stylesheet and script, embedded in the binary and served under a content-hashed name
//! (`/static/app.3f2a9c1e.css`) so browsers may cache them for good.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::crypto::sha256_hex;
use crate::error::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// `/static/app.<hash>.css`
    url: String,
}

fn asset(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
    let hash = &sha256_hex(body)[..10];
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    Asset {
        name,
        content_type,
        body: body.as_bytes(),
        url: format!("/static/{stem}.{hash}.{ext}"),
    }
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app.css",
            "text/css; charset=utf-8",
            include_str!("../../static/app.css"),
        ),
        asset(
            "app.js",
            "text/javascript; charset=utf-8",
            include_str!("../../static/app.js"),
        ),
    ]
});

/// The hashed URL of an embedded asset; an unknown name is a programming error caught by tests.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or("/static/missing", |a| a.url.as_str())
}

pub async fn serve(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let requested = format!("/static/{}", path.into_inner());
    if let Some(a) = ASSETS.iter().find(|a| a.url == requested) {
        return Ok(HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(a.body));
    }
    // The plain name still works (for hand-written links), but must be revalidated.
    if let Some(a) = ASSETS
        .iter()
        .find(|a| format!("/static/{}", a.name) == requested)
    {
        return Ok(HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(a.body));
    }
    Err(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_have_hashed_urls() {
        let css = url("app.css");
        assert!(
            css.starts_with("/static/app.") && css.ends_with(".css"),
            "{css}"
        );
        assert_ne!(url("app.js"), "/static/missing");
        assert_eq!(url("nope.css"), "/static/missing");
    }
}
