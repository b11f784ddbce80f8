//! Password hashing: argon2id (OWASP parameters) for new hashes; bcrypt hashes imported from
//! Open WebUI still verify and are flagged for upgrade.
//!
//! Hashing is CPU-bound, so callers run it on the blocking pool (`hash_async`, `verify_async`).

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AppError, AppResult};

/// A hash verified for unknown accounts so their timing matches a real check.
static PLACEHOLDER: LazyLock<String> =
    LazyLock::new(|| hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());

fn argon2() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1: the OWASP recommendation (also argon2's defaults).
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A new argon2id PHC string.
pub fn hash(password: &str) -> AppResult<String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored in a legacy scheme: re-hash with argon2id.
    YesNeedsUpgrade,
}

/// Checks `password` against a stored hash (argon2 PHC or bcrypt `$2a$/$2b$/$2y$`).
pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.is_empty() {
        return Verified::No;
    }
    if stored.starts_with("$argon2") {
        let ok = PasswordHash::new(stored)
            .ok()
            .is_some_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok());
        return if ok { Verified::Yes } else { Verified::No };
    }
    if stored.starts_with("$2") {
        // bcrypt only reads the first 72 bytes, as the reference does.
        let bytes = password.as_bytes();
        let truncated = &bytes[..bytes.len().min(72)];
        return match bcrypt::verify(truncated, stored) {
            Ok(true) => Verified::YesNeedsUpgrade,
            _ => Verified::No,
        };
    }
    Verified::No
}

/// Spends the time of one bcrypt verification (unknown account) and returns nothing useful.
pub fn verify_placeholder(password: &str) {
    let _ = verify(password, &PLACEHOLDER);
}

pub async fn hash_async(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await.map_err(AppError::internal)?
}

pub async fn verify_async(password: String, stored: Option<String>) -> AppResult<Verified> {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify_placeholder(&password);
            Verified::No
        }
    })
    .await
    .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("Passw0rd!").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify("Passw0rd!", &h), Verified::Yes);
        assert_eq!(verify("passw0rd!", &h), Verified::No);
    }

    #[test]
    fn bcrypt_hashes_verify_and_ask_for_upgrade() {
        let h = bcrypt::hash("Passw0rd!", 4).expect("bcrypt");
        assert_eq!(verify("Passw0rd!", &h), Verified::YesNeedsUpgrade);
        assert_eq!(verify("nope", &h), Verified::No);
    }

    #[test]
    fn garbage_and_empty_hashes_never_verify() {
        assert_eq!(verify("", ""), Verified::No);
        assert_eq!(verify("x", "$argon2id$broken"), Verified::No);
        assert_eq!(verify("x", "$2b$broken"), Verified::No);
        assert_eq!(verify("x", "plaintext"), Verified::No);
    }
}
