//! Secrets at rest: location tokens and route secrets are sealed with AES-256-GCM under a
//! key from configuration or a key file, and bound to their row (the associated data names
//! the row), so a ciphertext copied to another row does not open.
//!
//! Stored layout: `version (1) || nonce (12) || ciphertext || tag (16)`.

use std::fs;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

const VERSION: u8 = 1;

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured key is not 32 bytes of base64.
    #[error("the secret key must be 32 bytes, base64-encoded: {0}")]
    BadKey(String),
    /// The key file could not be read or created.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The ciphertext was made with another key, altered, or belongs to another row.
    #[error("a stored secret cannot be opened with this key")]
    Open,
    /// Sealing failed (the system's random source failed).
    #[error("a secret could not be sealed")]
    Seal,
}

/// Seals and opens secrets.
pub struct Cipher {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher { .. }")
    }
}

impl Cipher {
    /// A cipher from 32 raw key bytes.
    pub fn new(key: &[u8]) -> Result<Self, SecretError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, key)
            .map_err(|_| SecretError::BadKey("wrong length".into()))?;
        Ok(Self { key })
    }

    /// A cipher from a base64 key.
    pub fn from_base64(key: &str) -> Result<Self, SecretError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|e| SecretError::BadKey(e.to_string()))?;
        if bytes.len() != 32 {
            return Err(SecretError::BadKey(format!("{} bytes", bytes.len())));
        }
        Self::new(&bytes)
    }

    /// Reads the key file, creating it (mode 0600) with a new random key when missing.
    /// Returns the cipher and whether the file was created.
    pub fn from_key_file(path: &Path) -> Result<(Self, bool), SecretError> {
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_base64(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                aws_lc_rs::rand::fill(&mut key).map_err(|_| SecretError::Seal)?;
                let encoded = STANDARD.encode(key);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(io)?;
                }
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(io)?;
                file.write_all(encoded.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((Self::new(&key)?, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Seals `plaintext`, bound to `context` (for example `location:<id>:token`).
    pub fn seal(&self, context: &str, plaintext: &SecretString) -> Result<Vec<u8>, SecretError> {
        let mut data = plaintext.expose_secret().as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SecretError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + data.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens a sealed secret made for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<SecretString, SecretError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SecretError::Open);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| SecretError::Open)?;
        let mut data = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SecretError::Open)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Open)?;
        Ok(SecretString::from(text))
    }
}

/// The associated data of a location's token.
pub fn token_context(location_id: &str) -> String {
    format!("location:{location_id}:token")
}

/// The associated data of a dialer owner's engine secret.
pub fn engine_context(owner_id: &str) -> String {
    format!("owner:{owner_id}:engine")
}

/// The associated data of a workflow route's secret.
pub fn route_context(route: &str) -> String {
    format!("route:{route}:secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_the_row() {
        let c = Cipher::new(&[7; 32]).unwrap();
        let sealed = c
            .seal("location:a:token", &SecretString::from("pit-123"))
            .unwrap();
        assert!(
            !sealed.windows(7).any(|w| w == b"pit-123"),
            "no plaintext at rest"
        );
        assert_eq!(
            c.open("location:a:token", &sealed).unwrap().expose_secret(),
            "pit-123"
        );
        assert!(matches!(
            c.open("location:b:token", &sealed),
            Err(SecretError::Open)
        ));
        let other = Cipher::new(&[8; 32]).unwrap();
        assert!(matches!(
            other.open("location:a:token", &sealed),
            Err(SecretError::Open)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.open("location:a:token", &tampered).is_err());
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ghlsync.key");
        let (a, created) = Cipher::from_key_file(&path).unwrap();
        assert!(created);
        let sealed = a.seal("x", &SecretString::from("s")).unwrap();
        let (b, created) = Cipher::from_key_file(&path).unwrap();
        assert!(!created);
        assert_eq!(b.open("x", &sealed).unwrap().expose_secret(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(Cipher::from_base64("c2hvcnQ=").is_err());
    }
}
