//! Who may do what: sign-in with lockout, session tokens with refresh and revocation,
//! API tokens for scripts, and the site scope of every caller.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use overcast_api_types::access::{
    ApiToken, ConsoleUser, ConsoleUserUpdate, NewApiToken, NewConsoleUser,
};
use overcast_api_types::jobs::Targets;
use overcast_api_types::{FieldError, Role};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{
    check_password, hash_password, role_as_str, role_from_str, unix_now, AuthError, TokenService,
};
use crate::federation::Selection;
use crate::sites::{now_rfc3339, rfc3339};
use crate::store::{ApiTokenRow, Store, StoreError, UserRow};

/// The scope of a user who may see every site.
pub const ALL_SITES: &str = r#"{"all":true}"#;
/// API tokens start with this, so they are told from session tokens (and found by
/// secret scanners) at a glance.
const API_TOKEN_PREFIX: &str = "oc_";
const DEFAULT_TOKEN_DAYS: u32 = 90;
const MAX_TOKEN_DAYS: u32 = 365;
/// Failed sign-ins of one username from one address before it is locked out.
const FAILURES_BEFORE_LOCKOUT: u32 = 5;
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// An authenticated caller: the user as stored now, and how they signed in.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// Every one of these must allow a site: the user's scope, and a token's own.
    pub scopes: Vec<Selection>,
    pub scope: Targets,
    pub session: Option<Session>,
    pub api_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub jti: String,
    pub exp: u64,
}

impl Principal {
    pub fn allows_site(
        &self,
        name: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        self.scopes.iter().all(|s| s.allows(name, labels))
    }

    pub fn sees_every_site(&self) -> bool {
        self.scopes.iter().all(|s| *s == Selection::All)
    }
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    }
}

fn invalid(field: &str, message: impl Into<String>) -> AuthError {
    AuthError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

fn parse_scope(text: &str) -> (Targets, Selection) {
    let targets: Targets = serde_json::from_str(text).unwrap_or_default();
    // A scope that no longer parses grants nothing rather than everything.
    let selection =
        Selection::from_targets(&targets).unwrap_or_else(|_| Selection::Sites(Vec::new()));
    (targets, selection)
}

fn checked_scope(field: &str, scope: &Targets) -> Result<String, AuthError> {
    Selection::from_targets(scope).map_err(|(part, message)| {
        let field = if part.is_empty() {
            field.to_owned()
        } else {
            format!("{field}.{part}")
        };
        invalid(&field, message)
    })?;
    serde_json::to_string(scope).map_err(|e| AuthError::Hashing(e.to_string()))
}

fn every_site() -> Targets {
    Targets {
        all: Some(true),
        ..Targets::default()
    }
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    /// Checks of this pair running now: they count against the limit before their
    /// outcome is known, so concurrent guesses cannot all slip in before the first fails.
    in_flight: u32,
    last_failure: Option<Instant>,
    locked_until: Option<Instant>,
}

/// Failures older than this are forgotten, and their entries pruned.
const FORGET_FAILURES_AFTER: Duration = MAX_LOCKOUT;
/// The failure table is pruned when it grows past this many pairs, at most once a minute.
const FAILURE_TABLE_PRUNE_AT: usize = 10_000;

#[derive(Debug, Default)]
struct FailureTable {
    pairs: HashMap<String, Failures>,
    pruned_at: Option<Instant>,
}

impl FailureTable {
    /// Takes a slot for one password check of `key`, or says how long to wait.
    fn begin(&mut self, key: &str, now: Instant) -> Result<(), Duration> {
        self.prune(now);
        let entry = self.pairs.entry(key.to_owned()).or_default();
        if let Some(until) = entry.locked_until {
            let left = until.saturating_duration_since(now);
            if !left.is_zero() {
                return Err(left);
            }
        }
        if entry
            .last_failure
            .is_some_and(|at| now.saturating_duration_since(at) > FORGET_FAILURES_AFTER)
        {
            entry.count = 0;
            entry.locked_until = None;
        }
        // Only as many checks at once as failures remain before the lockout (one at a
        // time once it has been reached), so the limit holds whatever the concurrency.
        let allowed = FAILURES_BEFORE_LOCKOUT.saturating_sub(entry.count).max(1);
        if entry.in_flight >= allowed {
            return Err(Duration::from_secs(1));
        }
        entry.in_flight += 1;
        Ok(())
    }

    /// Gives the slot back with the check's outcome (`None`: it could not be decided).
    fn end(&mut self, key: &str, failed: Option<bool>, now: Instant) {
        let Some(entry) = self.pairs.get_mut(key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        match failed {
            Some(false) => {
                entry.count = 0;
                entry.locked_until = None;
            }
            Some(true) => {
                entry.count += 1;
                entry.last_failure = Some(now);
                if entry.count >= FAILURES_BEFORE_LOCKOUT {
                    let doublings = (entry.count - FAILURES_BEFORE_LOCKOUT).min(10);
                    let lockout = (FIRST_LOCKOUT * 2u32.pow(doublings)).min(MAX_LOCKOUT);
                    entry.locked_until = Some(now + lockout);
                }
            }
            None => {}
        }
        if entry.count == 0 && entry.in_flight == 0 {
            self.pairs.remove(key);
        }
    }

    fn prune(&mut self, now: Instant) {
        let due = self
            .pruned_at
            .is_none_or(|at| now.saturating_duration_since(at) > Duration::from_secs(60));
        if self.pairs.len() < FAILURE_TABLE_PRUNE_AT || !due {
            return;
        }
        self.pruned_at = Some(now);
        self.pairs.retain(|_, f| {
            f.in_flight > 0
                || f.locked_until.is_some_and(|until| until > now)
                || f.last_failure
                    .is_some_and(|at| now.saturating_duration_since(at) <= FORGET_FAILURES_AFTER)
        });
    }
}

/// One sign-in's slot in the failure table; given back when dropped, also when the
/// request is abandoned halfway.
struct Attempt<'a> {
    table: &'a Mutex<FailureTable>,
    key: String,
    failed: Option<bool>,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .end(&self.key, self.failed, Instant::now());
    }
}

pub struct Access {
    store: Store,
    tokens: TokenService,
    /// Revoked session token ids with their expiry (unix seconds).
    revoked: RwLock<HashMap<String, u64>>,
    failures: Mutex<FailureTable>,
}

impl Access {
    pub async fn new(store: Store, tokens: TokenService) -> Result<Access, StoreError> {
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
        let revoked = store
            .revoked_sessions(now)
            .await?
            .into_iter()
            .map(|(jti, exp)| (jti, u64::try_from(exp).unwrap_or(0)))
            .collect();
        Ok(Access {
            store,
            tokens,
            revoked: RwLock::new(revoked),
            failures: Mutex::default(),
        })
    }

    pub fn token_ttl(&self) -> Duration {
        self.tokens.ttl()
    }

    /// Checks a password, with a lockout per username and client address that grows
    /// with repeated failures. Returns a session token.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<(String, UserRow), AuthError> {
        let key = format!("{username}\u{0}{client}");
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .begin(&key, Instant::now())
            .map_err(AuthError::LockedOut)?;
        let mut attempt = Attempt {
            table: &self.failures,
            key,
            failed: None,
        };
        match super::authenticate(&self.store, username, password).await {
            Ok((user, role)) => {
                attempt.failed = Some(false);
                let token = self.tokens.issue(&user.id, role_as_str(role), unix_now())?;
                Ok((token, user))
            }
            Err(AuthError::InvalidCredentials) => {
                attempt.failed = Some(true);
                Err(AuthError::InvalidCredentials)
            }
            Err(other) => Err(other),
        }
    }

    /// Who a bearer token stands for, as the user is stored now: a deleted user or a
    /// revoked token is refused at once, a changed role or scope applies at once.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthError> {
        if bearer.starts_with(API_TOKEN_PREFIX) {
            return self.authenticate_api_token(bearer).await;
        }
        let claims = self.tokens.verify(bearer)?;
        if self
            .revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&claims.jti)
        {
            return Err(AuthError::Unauthenticated(
                "this session was signed out".into(),
            ));
        }
        let user = self.store.get_user(&claims.sub).await?.ok_or_else(|| {
            AuthError::Unauthenticated("the user of this token no longer exists".into())
        })?;
        let role = role_from_str(&user.role).ok_or(AuthError::InvalidCredentials)?;
        let (scope, selection) = parse_scope(&user.scope);
        Ok(Principal {
            user_id: user.id,
            username: user.username,
            role,
            scopes: vec![selection],
            scope,
            session: Some(Session {
                jti: claims.jti,
                exp: claims.exp,
            }),
            api_token: None,
        })
    }

    async fn authenticate_api_token(&self, bearer: &str) -> Result<Principal, AuthError> {
        let refused = || AuthError::Unauthenticated("unknown, expired or revoked API token".into());
        let token = self
            .store
            .find_api_token(&token_hash(bearer))
            .await?
            .ok_or_else(refused)?;
        let now = OffsetDateTime::now_utc();
        let expired = token
            .expires_at
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .is_some_and(|at| at <= now);
        if token.revoked_at.is_some() || expired {
            return Err(refused());
        }
        let user = self
            .store
            .get_user(&token.user_id)
            .await?
            .ok_or_else(refused)?;
        let user_role = role_from_str(&user.role).ok_or_else(refused)?;
        let token_role = role_from_str(&token.role).ok_or_else(refused)?;
        // A token never has more than its owner has now.
        let role = if rank(token_role) <= rank(user_role) {
            token_role
        } else {
            user_role
        };
        let (user_scope, user_selection) = parse_scope(&user.scope);
        let (token_scope, token_selection) = parse_scope(&token.scope);
        let scope = if token_selection == Selection::All {
            user_scope
        } else {
            token_scope
        };
        if let Err(error) = self.store.touch_api_token(&token.id, &now_rfc3339()).await {
            tracing::warn!(%error, "cannot record an API token's last use");
        }
        Ok(Principal {
            user_id: user.id,
            username: user.username,
            role,
            scopes: vec![user_selection, token_selection],
            scope,
            session: None,
            api_token: Some(token.id),
        })
    }

    /// Ends a session: its token is refused from now on, also after a restart.
    /// Returns whether this call ended it (false: it had been ended already).
    pub async fn logout(&self, principal: &Principal) -> Result<bool, AuthError> {
        let Some(session) = &principal.session else {
            return Err(invalid(
                "token",
                "API tokens are revoked with DELETE /api/v1/auth/tokens/{id}, not signed out",
            ));
        };
        let ended = self
            .store
            .revoke_session(&session.jti, i64::try_from(session.exp).unwrap_or(i64::MAX))
            .await?;
        self.revoked
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(session.jti.clone(), session.exp);
        Ok(ended)
    }

    /// A fresh session token for a valid one. Single use: the old token is revoked
    /// first, in the database, and only the call that revoked it gets a new one, so
    /// concurrent refreshes of one token yield one live token.
    pub async fn refresh(&self, principal: &Principal) -> Result<String, AuthError> {
        if !self.logout(principal).await? {
            return Err(AuthError::Unauthenticated(
                "this session was already refreshed or signed out".into(),
            ));
        }
        Ok(self
            .tokens
            .issue(&principal.user_id, role_as_str(principal.role), unix_now())?)
    }
}

/// Console users (admin only, checked by the caller).
impl Access {
    fn user_view(row: &UserRow) -> ConsoleUser {
        ConsoleUser {
            id: row.id.clone(),
            username: row.username.clone(),
            role: role_from_str(&row.role).unwrap_or(Role::Viewer),
            scope: parse_scope(&row.scope).0,
            created_at: row.created_at.clone(),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<ConsoleUser>, AuthError> {
        Ok(self
            .store
            .list_users()
            .await?
            .iter()
            .map(Self::user_view)
            .collect())
    }

    pub async fn create_user(&self, new: NewConsoleUser) -> Result<ConsoleUser, AuthError> {
        let mut errors = Vec::new();
        let name_ok = !new.username.is_empty()
            && new.username.len() <= 64
            && new
                .username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
        if !name_ok {
            errors.push(FieldError {
                field: "username".into(),
                message: "1-64 characters of a-z, A-Z, 0-9, . _ - @".into(),
            });
        }
        if let Err(message) = check_password(&new.password) {
            errors.push(FieldError {
                field: "password".into(),
                message,
            });
        }
        if !errors.is_empty() {
            return Err(AuthError::Invalid(errors));
        }
        let scope = checked_scope("scope", &new.scope.unwrap_or_else(every_site))?;
        let row = UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            username: new.username,
            password_hash: hash_password(new.password).await?,
            role: role_as_str(new.role).into(),
            scope,
            created_at: now_rfc3339(),
        };
        self.store.insert_user(&row).await?;
        Ok(Self::user_view(&row))
    }

    pub async fn update_user(
        &self,
        id: &str,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser, AuthError> {
        let mut row = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("user {id}")))?;
        if let Some(password) = update.password {
            check_password(&password).map_err(|message| invalid("password", message))?;
            row.password_hash = hash_password(password).await?;
        }
        if let Some(role) = update.role {
            if row.role == "admin" && role != Role::Admin && self.store.count_admins().await? <= 1 {
                return Err(AuthError::Conflict(
                    "the last admin cannot lose the admin role".into(),
                ));
            }
            row.role = role_as_str(role).into();
        }
        if let Some(scope) = update.scope {
            row.scope = checked_scope("scope", &scope)?;
        }
        self.store.update_user(&row).await?;
        Ok(Self::user_view(&row))
    }

    pub async fn delete_user(&self, id: &str, caller: &Principal) -> Result<(), AuthError> {
        let row = self
            .store
            .get_user(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("user {id}")))?;
        if row.id == caller.user_id {
            return Err(AuthError::Conflict("you cannot delete yourself".into()));
        }
        if row.role == "admin" && self.store.count_admins().await? <= 1 {
            return Err(AuthError::Conflict(
                "the last admin cannot be deleted".into(),
            ));
        }
        self.store.delete_user(id).await?;
        Ok(())
    }
}

/// API tokens: random, shown once, stored as a hash, scoped, expiring, revocable.
impl Access {
    fn token_view(row: &ApiTokenRow, username: &str) -> ApiToken {
        ApiToken {
            id: row.id.clone(),
            name: row.name.clone(),
            username: username.to_owned(),
            role: role_from_str(&row.role).unwrap_or(Role::Viewer),
            scope: parse_scope(&row.scope).0,
            created_at: row.created_at.clone(),
            expires_at: row.expires_at.clone(),
            last_used_at: row.last_used_at.clone(),
            revoked: row.revoked_at.is_some(),
        }
    }

    pub async fn create_api_token(
        &self,
        owner: &Principal,
        new: NewApiToken,
    ) -> Result<(String, ApiToken), AuthError> {
        if owner.api_token.is_some() {
            return Err(AuthError::Forbidden(
                "an API token cannot create tokens; sign in with a password to create one".into(),
            ));
        }
        if new.name.trim().is_empty() || new.name.chars().count() > 100 {
            return Err(invalid("name", "1-100 characters"));
        }
        if new.name.chars().any(char::is_control) {
            return Err(invalid("name", "must not contain control characters"));
        }
        let role = new.role.unwrap_or(owner.role);
        if rank(role) > rank(owner.role) {
            return Err(AuthError::Forbidden(
                "a token cannot have a higher role than its owner".into(),
            ));
        }
        let days = new.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if days == 0 || days > MAX_TOKEN_DAYS {
            return Err(invalid("expires_in_days", format!("1 to {MAX_TOKEN_DAYS}")));
        }
        let scope = checked_scope("scope", &new.scope.unwrap_or_else(every_site))?;
        let token = format!(
            "{API_TOKEN_PREFIX}{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
        );
        let now = OffsetDateTime::now_utc();
        let row = ApiTokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: owner.user_id.clone(),
            name: new.name,
            token_hash: token_hash(&token),
            role: role_as_str(role).into(),
            scope,
            created_at: rfc3339(now),
            expires_at: (now + time::Duration::days(i64::from(days)))
                .format(&Rfc3339)
                .ok(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert_api_token(&row).await?;
        Ok((token, Self::token_view(&row, &owner.username)))
    }

    /// The caller's tokens; an admin's call with `all` lists everyone's. A caller
    /// signed in with an API token sees only that token: a token never manages others.
    pub async fn list_api_tokens(
        &self,
        caller: &Principal,
        all: bool,
    ) -> Result<Vec<ApiToken>, AuthError> {
        let rows = if let Some(own) = &caller.api_token {
            self.store.get_api_token(own).await?.into_iter().collect()
        } else if all && caller.role == Role::Admin && caller.sees_every_site() {
            self.store.list_api_tokens(None).await?
        } else {
            self.store.list_api_tokens(Some(&caller.user_id)).await?
        };
        let names: HashMap<String, String> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        Ok(rows
            .iter()
            .map(|r| Self::token_view(r, names.get(&r.user_id).map_or("(deleted)", String::as_str)))
            .collect())
    }

    /// Revokes a token of the caller's own (an admin may revoke any). Through an API
    /// token, only that token itself: a narrowed token must not reach its owner's others.
    pub async fn revoke_api_token(&self, caller: &Principal, id: &str) -> Result<(), AuthError> {
        if caller.api_token.as_deref().is_some_and(|own| own != id) {
            return Err(AuthError::Forbidden(
                "an API token can revoke only itself; sign in with a password to manage other tokens"
                    .into(),
            ));
        }
        let row = self.store.get_api_token(id).await?;
        let admin = caller.role == Role::Admin && caller.sees_every_site();
        match row {
            Some(row) if row.user_id == caller.user_id || admin => {
                self.store.revoke_api_token(id, &now_rfc3339()).await?;
                Ok(())
            }
            _ => Err(AuthError::NotFound(format!("token {id}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_hashes() {
        let hash = token_hash("oc_abc");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, token_hash("oc_abd"));
    }

    #[test]
    fn a_broken_scope_grants_nothing() {
        let (_, selection) = parse_scope("not json");
        assert!(!selection.allows("site-001", &Default::default()));
        let (_, all) = parse_scope(ALL_SITES);
        assert_eq!(all, Selection::All);
    }
}
