//! Password hashing with argon2id (OWASP's recommended parameters, the crate defaults).
//!
//! Hashing is slow and memory-hungry on purpose, so it runs on blocking threads and at most two
//! at a time: a burst of sign-ins queues instead of starving the server of CPU and memory.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::domain::user::NewPassword;
use crate::error::AppError;

static HASHING: Semaphore = Semaphore::const_new(2);

/// A hash of a random password, verified against when an e-mail is unknown so that an unknown
/// address takes as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&crate::crypto::random_token(16)).unwrap_or_default());

fn hash_blocking(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| AppError::Internal("password hashing is shut down".into()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("password hashing task failed: {e}")))
}

/// The PHC string (`$argon2id$v=19$...`) of a new password.
pub async fn hash(password: &NewPassword) -> Result<String, AppError> {
    let password = password.expose().to_owned();
    run(move || hash_blocking(&password))
        .await?
        .map_err(|e| AppError::Internal(format!("hashing a password failed: {e}")))
}

/// Whether `password` matches `stored`. With no stored hash (unknown user) it still does the
/// full amount of work and answers false.
pub async fn verify(stored: Option<String>, password: &str) -> Result<bool, AppError> {
    let password = password.to_owned();
    run(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        known && matches
    })
    .await
}

/// Hashes synchronously; for the command line, which has no async runtime to spare.
pub fn hash_now(password: &NewPassword) -> Result<String, AppError> {
    hash_blocking(password.expose())
        .map_err(|e| AppError::Internal(format!("hashing a password failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let pw = NewPassword::parse("correct horse battery").expect("valid");
        let h = hash(&pw).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify(Some(h.clone()), "correct horse battery")
                .await
                .expect("verify")
        );
        assert!(
            !verify(Some(h), "wrong horse battery")
                .await
                .expect("verify")
        );
        assert!(!verify(None, "correct horse battery").await.expect("verify"));
    }
}
