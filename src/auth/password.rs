//! Password hashing: argon2id (OWASP parameters) for new hashes; bcrypt hashes imported from
//! Open WebUI still verify and are flagged for upgrade.
//!
//! Hashing is CPU- and memory-bound (19 MiB per hash). `hash_async`/`verify_async` run it on the
//! blocking pool, at most `MAX_CONCURRENT` at a time, each in a reused memory buffer, so a burst
//! of sign-ins neither starves the runtime nor grows the process by 19 MiB per thread.

use std::sync::{LazyLock, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// m = 19 MiB, t = 2, p = 1: the OWASP recommendation.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// Hashes computed at the same time (each holds one 19 MiB buffer).
fn max_concurrent() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4)
}

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(max_concurrent()));

/// Memory buffers handed back after each hash.
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `f` with a memory buffer of at least `blocks` blocks from the pool.
fn with_buffer<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut buffer = BUFFERS.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
    if buffer.len() < blocks {
        buffer.resize(blocks, Block::default());
    }
    let result = f(&mut buffer[..blocks]);
    let mut pool = BUFFERS.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < max_concurrent() {
        pool.push(buffer);
    }
    result
}

/// A hash verified for unknown accounts so their timing matches a real check.
static PLACEHOLDER: LazyLock<String> =
    LazyLock::new(|| hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default());

/// A new argon2id PHC string.
pub fn hash(password: &str) -> AppResult<String> {
    let params = Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(AppError::internal)?;
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_buffer(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
    })
    .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored in a legacy scheme: re-hash with argon2id.
    YesNeedsUpgrade,
}

/// Checks `password` against an argon2 PHC string with the parameters it names.
fn verify_argon2(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    // Refuse absurd stored costs instead of allocating them.
    if params.m_cost() > 1024 * 1024 || params.t_cost() > 64 {
        return false;
    }
    let expected = expected.as_ref();
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = with_buffer(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
    });
    computed.is_ok() && constant_time_eq(&out, expected)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `password` against a stored hash (argon2 PHC or bcrypt `$2a$/$2b$/$2y$`).
pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$argon2") {
        return if verify_argon2(password, stored) { Verified::Yes } else { Verified::No };
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

/// Spends the time of one verification (unknown account) and returns nothing useful.
pub fn verify_placeholder(password: &str) {
    let _ = verify(password, &PLACEHOLDER);
}

async fn on_blocking_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let _permit = PERMITS.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(f).await.map_err(AppError::internal)
}

pub async fn hash_async(password: String) -> AppResult<String> {
    on_blocking_pool(move || hash(&password)).await?
}

pub async fn verify_async(password: String, stored: Option<String>) -> AppResult<Verified> {
    on_blocking_pool(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify_placeholder(&password);
            Verified::No
        }
    })
    .await
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
    fn hashes_from_other_argon2_implementations_verify() {
        use argon2::password_hash::PasswordHasher;
        let other = Argon2::default().hash_password(b"Passw0rd!").expect("hash").to_string();
        assert_eq!(verify("Passw0rd!", &other), Verified::Yes);
        assert_eq!(verify("nope", &other), Verified::No);
        let ours = hash("Passw0rd!").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        use argon2::password_hash::PasswordVerifier;
        assert!(Argon2::default().verify_password(b"Passw0rd!", &parsed).is_ok());
    }

    #[test]
    fn garbage_and_empty_hashes_never_verify() {
        assert_eq!(verify("", ""), Verified::No);
        assert_eq!(verify("x", "$argon2id$broken"), Verified::No);
        assert_eq!(verify("x", "$2b$broken"), Verified::No);
        assert_eq!(verify("x", "plaintext"), Verified::No);
    }
}
