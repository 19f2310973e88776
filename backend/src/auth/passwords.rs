use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

use super::AuthError;

/// The hash of a random password nobody knows, verified against when the user does not
/// exist so that both paths cost the same.
static DECOY_HASH: OnceLock<String> = OnceLock::new();

/// One argon2 check holds about 19 MiB for its whole run; at most this many run at
/// once, so sign-in floods cost a bounded amount of memory (see docs/security.md).
static HASHING: OnceLock<Semaphore> = OnceLock::new();
/// How long a password check waits for a free hashing slot before the caller is told
/// to come back (503): a queue that only grows would hold every request's memory.
const HASHING_QUEUE_WAIT: Duration = Duration::from_secs(5);
static HASHING_NOW: AtomicUsize = AtomicUsize::new(0);
static HASHING_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Concurrent password hashes allowed: one per core.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// The most password hashes that ever ran at the same time in this process.
pub fn peak_concurrent_hashes() -> usize {
    HASHING_PEAK.load(Ordering::Relaxed)
}

/// Runs one argon2 computation off the async threads, within the hashing bound.
async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let slots = HASHING.get_or_init(|| Semaphore::new(hashing_slots()));
    let _permit = tokio::time::timeout(HASHING_QUEUE_WAIT, slots.acquire())
        .await
        .map_err(|_| AuthError::Busy)?
        .map_err(|_| AuthError::Busy)?;
    tokio::task::spawn_blocking(move || {
        let now = HASHING_NOW.fetch_add(1, Ordering::Relaxed) + 1;
        HASHING_PEAK.fetch_max(now, Ordering::Relaxed);
        let result = work();
        HASHING_NOW.fetch_sub(1, Ordering::Relaxed);
        result
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))?
}

fn hash_blocking(password: &[u8]) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes).
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    with_hashing_slot(move || hash_blocking(password.as_bytes())).await
}

pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AuthError> {
    with_hashing_slot(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => DECOY_HASH
                .get_or_init(|| hash_blocking(uuid::Uuid::new_v4().as_bytes()).unwrap_or_default())
                .clone(),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| AuthError::Hashing(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 1024;

/// Passwords of 12 characters or more that appear at the top of leaked-password lists,
/// compared without case.
const COMMON_PASSWORDS: [&str; 24] = [
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456123456",
    "111111111111",
    "000000000000",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "qwertyuiop12",
    "qwertyuiopasdf",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "administrator",
    "admin1234567",
    "adminadminadmin",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "changeme1234",
    "openstack123",
    "abcdefghijkl",
];

/// The one password policy, for the bootstrap admin and every console user: at least
/// 12 characters once surrounding spaces are trimmed, no control characters, not one
/// character repeated, not a well-known password.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let trimmed = password.trim();
    let length = trimmed.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!(
            "at least {MIN_PASSWORD_CHARS} characters, not counting leading and trailing spaces"
        ));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!("at most {MAX_PASSWORD_CHARS} characters"));
    }
    let mut chars = trimmed.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err("must not be one character repeated".into());
    }
    let lower = trimmed.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err("is one of the most common passwords; choose another".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hash = hash_password("correct horse".into())
            .await
            .unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap_or(false));
        assert!(!verify_password("battery".into(), Some(hash))
            .await
            .unwrap_or(true));
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        assert!(!verify_password("anything".into(), None)
            .await
            .unwrap_or(true));
    }

    #[test]
    fn the_policy_refuses_short_blank_control_and_common_passwords() {
        assert!(check_password("correct horse battery").is_ok());
        assert!(check_password("a").is_err());
        assert!(check_password(&" ".repeat(12)).is_err());
        assert!(check_password(&"\0".repeat(12)).is_err());
        assert!(check_password("  twelve-chars  ").is_ok());
        assert!(check_password("   ten  chrs   ").is_err(), "10 after trimming");
        assert!(check_password("Password1234").is_err());
        assert!(check_password(&"x".repeat(20)).is_err());
        assert!(check_password("tab\there-is-long").is_err());
        assert!(check_password(&"é".repeat(6).repeat(2)).is_err(), "repeated");
        assert!(check_password("ééééééééééé!").is_ok(), "12 characters, 23 bytes");
    }
}
