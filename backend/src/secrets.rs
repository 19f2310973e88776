//! Key material of the console and sealing of site credentials at rest.
//!
//! Site credentials are sealed with XChaCha20-Poly1305 (random 192-bit nonce per value, so
//! no nonce bookkeeping across replicas) under a 256-bit key. The key comes from
//! configuration or from a file created once in the data dir with mode 0600.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::XChaCha20Poly1305;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot use key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {0} does not hold a 32-byte base64 key")]
    BadKeyFile(String),
    #[error("sealed value cannot be opened: wrong key or corrupt data")]
    Open,
}

/// A 256-bit key, from configuration text or a key file.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// Any configured text works as a key: it is stretched with SHA-256, so operators can
    /// paste a passphrase or a generated random string alike.
    pub fn from_configured(text: &str) -> Key {
        Key(Sha256::digest(text.as_bytes()).into())
    }

    /// Reads `dir/file_name`, or creates it with a fresh random key.
    pub fn load_or_create(dir: &Path, file_name: &str) -> Result<Key, SecretError> {
        let path = dir.join(file_name);
        let shown = path.display().to_string();
        let io_error = |source| SecretError::KeyFile {
            path: shown.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = BASE64
                    .decode(text.trim())
                    .map_err(|_| SecretError::BadKeyFile(shown.clone()))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretError::BadKeyFile(shown.clone()))?;
                Ok(Key(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io_error)?;
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io_error)?;
                file.write_all(BASE64.encode(key).as_bytes())
                    .map_err(io_error)?;
                Ok(Key(key))
            }
            Err(e) => Err(io_error(e)),
        }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

const KEY_CHECK_PLAINTEXT: &[u8] = b"overcast secret key check v1";

/// Seals and opens small secrets (site credentials) for storage.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub fn new(key: &Key) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.bytes().into()),
        }
    }

    /// base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce size cannot fail; an empty result would
        // only make `open` fail loudly later.
        let ciphertext = self.cipher.encrypt(&nonce, plaintext).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        BASE64.encode(out)
    }

    /// A known value sealed with this key, stored with the database once, so that a
    /// later start can tell whether it has the same key.
    pub fn key_check(&self) -> String {
        self.seal(KEY_CHECK_PLAINTEXT)
    }

    /// Whether `sealed` (from [`Sealer::key_check`]) was sealed with this key.
    pub fn opens_key_check(&self, sealed: &str) -> bool {
        self.open(sealed)
            .is_ok_and(|plain| plain == KEY_CHECK_PLAINTEXT)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let bytes = BASE64.decode(sealed).map_err(|_| SecretError::Open)?;
        if bytes.len() < 24 {
            return Err(SecretError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher
            .decrypt(nonce.into(), ciphertext)
            .map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_hide_the_plaintext() {
        let sealer = Sealer::new(&Key::from_configured("test key"));
        let sealed = sealer.seal(b"password123");
        assert!(!sealed.contains("password123"));
        assert_eq!(
            sealer.open(&sealed).ok().as_deref(),
            Some(&b"password123"[..])
        );
    }

    #[test]
    fn the_key_check_tells_keys_apart() {
        let check = Sealer::new(&Key::from_configured("a")).key_check();
        assert!(Sealer::new(&Key::from_configured("a")).opens_key_check(&check));
        assert!(!Sealer::new(&Key::from_configured("b")).opens_key_check(&check));
    }

    #[test]
    fn another_key_cannot_open() {
        let sealed = Sealer::new(&Key::from_configured("a")).seal(b"x");
        assert!(Sealer::new(&Key::from_configured("b"))
            .open(&sealed)
            .is_err());
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("overcast-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Key::load_or_create(&dir, "k").map(|k| *k.bytes()).ok();
        let second = Key::load_or_create(&dir, "k").map(|k| *k.bytes()).ok();
        assert!(first.is_some());
        assert_eq!(first, second);
    }
}
