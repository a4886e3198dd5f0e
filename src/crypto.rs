//! Small cryptographic helpers: random secrets, hashing of bearer secrets, HMAC signing, and
//! constant-time comparison. Passwords are not here: they use argon2 in `services::passwords`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes from the operating system's generator, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 as lower-case hex. Enough for secrets with >= 128 bits of entropy (session cookies,
/// API tokens, setup links): nobody can guess them, so a slow hash would only cost every request.
/// HMAC-SHA256 of `body` under `key`, in lower-case hex (as webhook receivers expect).
pub fn hmac_sha256_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_hex(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The installation's secret key, for signing values the server hands out (CSRF tokens, links).
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    pub const LEN: usize = 32;

    pub fn generate_encoded() -> String {
        random_token(Self::LEN)
    }

    pub fn from_encoded(encoded: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        (bytes.len() >= Self::LEN).then_some(SecretKey(bytes))
    }

    /// HMAC-SHA256 of `purpose` and `message`, base64url. The purpose keeps a signature made for
    /// one use from being accepted for another.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        constant_time_eq(self.sign(purpose, message).as_bytes(), signature.as_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn signatures_depend_on_key_purpose_and_message() {
        let key = SecretKey::from_encoded(&SecretKey::generate_encoded()).expect("key");
        let other = SecretKey::from_encoded(&SecretKey::generate_encoded()).expect("key");
        let sig = key.sign("csrf", "session-1");
        assert!(key.verify("csrf", "session-1", &sig));
        assert!(!key.verify("csrf", "session-2", &sig));
        assert!(!key.verify("ack", "session-1", &sig));
        assert!(!other.verify("csrf", "session-1", &sig));
        assert!(SecretKey::from_encoded("short").is_none());
        assert_eq!(format!("{key:?}"), "SecretKey(***)");
    }
}
