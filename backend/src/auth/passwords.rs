use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use std::cell::RefCell;

use argon2::password_hash::{
    self, rand_core::OsRng, Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher,
    PasswordVerifier, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use super::AuthError;

/// The hash of a random password nobody knows, verified against when the user does not
/// exist so that both paths cost the same.
static DECOY_HASH: OnceLock<String> = OnceLock::new();

/// One argon2 computation holds about 19 MiB for its whole run. They run on a few
/// threads of their own, one per core, and at most one each: the memory of sign-in
/// floods is then bounded by those threads' working sets, which each thread reuses,
/// instead of growing with every thread of tokio's blocking pool that ever hashed
/// (the allocator keeps a freed 19 MiB block in the arena of the thread that freed it).
/// See docs/security.md for the measured figures.
static HASHERS: OnceLock<Hashers> = OnceLock::new();
/// How long a password check waits for a free hasher before the caller is told to come
/// back (503): a queue that only grows would hold every request's memory.
const HASHING_QUEUE_WAIT: Duration = Duration::from_secs(5);
static HASHING_NOW: AtomicUsize = AtomicUsize::new(0);
static HASHING_PEAK: AtomicUsize = AtomicUsize::new(0);

type HashJob = Box<dyn FnOnce() + Send>;

struct Hashers {
    /// One permit per hashing thread: holding one means a thread is free for you.
    free: Semaphore,
    jobs: Mutex<std::sync::mpsc::Sender<HashJob>>,
}

impl Hashers {
    fn start(threads: usize) -> Hashers {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Hashers {
            free: Semaphore::new(threads),
            jobs: Mutex::new(jobs),
        }
    }
}

/// Concurrent password hashes allowed: one per core.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// The most password hashes that ever ran at the same time in this process.
pub fn peak_concurrent_hashes() -> usize {
    HASHING_PEAK.load(Ordering::Relaxed)
}

/// Runs one argon2 computation on a hashing thread, waiting a bounded time for one.
async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let hashers = HASHERS.get_or_init(|| Hashers::start(hashing_slots()));
    let _permit = tokio::time::timeout(HASHING_QUEUE_WAIT, hashers.free.acquire())
        .await
        .map_err(|_| AuthError::Busy)?
        .map_err(|_| AuthError::Busy)?;
    let (done, result) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let now = HASHING_NOW.fetch_add(1, Ordering::Relaxed) + 1;
        HASHING_PEAK.fetch_max(now, Ordering::Relaxed);
        let outcome = work();
        HASHING_NOW.fetch_sub(1, Ordering::Relaxed);
        let _ = done.send(outcome);
    });
    hashers
        .jobs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(job)
        .map_err(|_| AuthError::Hashing("the password hashing threads stopped".into()))?;
    result
        .await
        .map_err(|_| AuthError::Hashing("a password hashing thread stopped".into()))?
}

thread_local! {
    /// This hashing thread's argon2 working memory, allocated once and reused, so that
    /// memory stays at one working set per hashing thread however many sign-ins come.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2, computed in the calling thread's reused working memory. The PHC strings it
/// writes and reads are those of the `argon2` crate's own hasher.
struct ReusingArgon2;

impl PasswordHasher for ReusingArgon2 {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_buffer = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            WORKING_MEMORY.with_borrow_mut(|memory| {
                if memory.len() != blocks {
                    *memory = vec![Block::new(); blocks];
                }
                argon
                    .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
                    .map_err(|_| password_hash::Error::Crypto)
            })
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

fn hash_blocking(password: &[u8]) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    ReusingArgon2
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
        let matches = ReusingArgon2
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
    async fn hashes_of_the_argon2_crate_still_verify() {
        let salt = SaltString::generate(&mut OsRng);
        let stored = Argon2::default()
            .hash_password(b"made before the change", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            verify_password("made before the change".into(), Some(stored))
                .await
                .unwrap_or(false)
        );
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
        assert!(
            check_password("   ten  chrs   ").is_err(),
            "10 after trimming"
        );
        assert!(check_password("Password1234").is_err());
        assert!(check_password(&"x".repeat(20)).is_err());
        assert!(check_password("tab\there-is-long").is_err());
        assert!(
            check_password(&"é".repeat(6).repeat(2)).is_err(),
            "repeated"
        );
        assert!(
            check_password("ééééééééééé!").is_ok(),
            "12 characters, 23 bytes"
        );
    }
}
