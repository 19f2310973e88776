use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use super::AuthError;

/// The hash of a random password nobody knows, verified against when the user does not
/// exist so that both paths cost the same.
static DECOY_HASH: OnceLock<String> = OnceLock::new();

fn hash_blocking(password: &[u8]) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.as_bytes()))
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?
}

pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => match DECOY_HASH.get() {
                Some(decoy) => decoy.clone(),
                None => DECOY_HASH
                    .get_or_init(|| {
                        hash_blocking(uuid::Uuid::new_v4().as_bytes()).unwrap_or_default()
                    })
                    .clone(),
            },
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| AuthError::Hashing(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))?
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
}
