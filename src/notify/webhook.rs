//! Outbound webhook posts: JSON, named by `X-Lookout-Event`, and signed with HMAC-SHA256 of the
//! body in `X-Lookout-Signature` when the receiver has a secret, so it can tell the post is ours.

/// A POST of `body` to `url`, ready to send (callers may add headers).
pub fn signed_post(
    http: &reqwest::Client,
    url: &str,
    event: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Lookout-Event", event);
    if let Some(secret) = secret {
        request = request.header(
            "X-Lookout-Signature",
            format!("sha256={}", crate::crypto::hmac_sha256_hex(secret, &body)),
        );
    }
    request.body(body)
}
