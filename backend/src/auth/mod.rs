//! Console users and their sessions: password hashing, JWT issue and verification, and
//! the bootstrap admin. No HTTP types here; `api::auth` maps these to requests.

mod access;
mod passwords;
mod tokens;

pub use access::{Access, Principal, Session, ALL_SITES};
pub use passwords::{
    check_password, hash_password, hashing_slots, peak_concurrent_hashes, verify_password,
};
pub use tokens::{unix_now, Claims, TokenError, TokenService};

use overcast_api_types::Role;
use rand::distributions::{Alphanumeric, DistString};

use crate::store::{Store, StoreError, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("too many failed sign-ins; try again in {} s", .0.as_secs().max(1))]
    LockedOut(std::time::Duration),
    #[error("too many sign-ins are being checked at once; try again in a few seconds")]
    Busy,
    #[error("OVERCAST_ADMIN_PASSWORD {0}")]
    WeakAdminPassword(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid input")]
    Invalid(Vec<overcast_api_types::FieldError>),
    #[error(transparent)]
    Token(#[from] TokenError),
}

pub fn role_from_str(text: &str) -> Option<Role> {
    match text {
        "admin" => Some(Role::Admin),
        "operator" => Some(Role::Operator),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

pub fn role_as_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Operator => "operator",
        Role::Viewer => "viewer",
    }
}

/// What the bootstrap step did, so the caller can tell the operator once.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    AlreadyDone,
    CreatedWithConfiguredPassword,
    CreatedWithGeneratedPassword(String),
}

/// Creates the user `admin` when the console has no user yet.
pub async fn bootstrap_admin(
    store: &Store,
    configured: Option<&str>,
) -> Result<Bootstrap, AuthError> {
    if store.count_users().await? > 0 {
        return Ok(Bootstrap::AlreadyDone);
    }
    let (password, outcome) = match configured {
        Some(p) => {
            check_password(p).map_err(AuthError::WeakAdminPassword)?;
            (p.to_owned(), Bootstrap::CreatedWithConfiguredPassword)
        }
        None => {
            let generated = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
            (
                generated.clone(),
                Bootstrap::CreatedWithGeneratedPassword(generated),
            )
        }
    };
    let password_hash = hash_password(password).await?;
    let user = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username: "admin".into(),
        password_hash,
        role: role_as_str(Role::Admin).into(),
        scope: ALL_SITES.into(),
        created_at: crate::sites::now_rfc3339(),
    };
    match store.insert_user(&user).await {
        // Another replica bootstrapped at the same moment: theirs stands.
        Err(StoreError::Conflict(_)) => Ok(Bootstrap::AlreadyDone),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(outcome),
    }
}

/// Checks a username and password; the same error for an unknown user and a wrong password.
pub async fn authenticate(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<(UserRow, Role), AuthError> {
    let user = store.find_user(username).await?;
    // Verify against a fixed hash when the user is unknown, so timing does not tell
    // which usernames exist.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(password.to_owned(), hash).await?;
    match user {
        Some(user) if ok => {
            let role = role_from_str(&user.role).ok_or(AuthError::InvalidCredentials)?;
            Ok((user, role))
        }
        _ => Err(AuthError::InvalidCredentials),
    }
}
