//! Session tokens: HS256 JWTs with the reference's claims (`id`, `typ`, `auth_method`,
//! `auth_time`, `session_stamp`, `mfa_verified`, `exp`, `jti`, `iat`), so tokens minted by Open WebUI
//! with the same secret are accepted and ours are accepted by it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Token types the reference accepts; `session` is assumed when absent.
pub const ACCEPTED_TYPES: &[&str] = &["session", "automation", "subagent"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_stamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

impl Claims {
    pub fn typ(&self) -> &str {
        self.typ.as_deref().unwrap_or("session")
    }

    /// Whether the claims every accepted token carries are there: a `jti` (so the token can be
    /// revoked), and an `exp` while tokens expire (`expiry_enabled`: `JWT_EXPIRES_IN` is not
    /// `-1`). Open WebUI's `create_token` always sets `jti` and `iat`, and `exp` when expiry is on.
    pub fn has_required_claims(&self, expiry_enabled: bool) -> bool {
        self.jti.as_deref().is_some_and(|jti| !jti.is_empty()) && (self.exp.is_some() || !expiry_enabled)
    }
}

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature has been checked, with their claims: a signature stays valid for
    /// the life of the key, so a token sent again only needs its expiry checked. Only tokens that
    /// passed verification are kept; bounded by `VERIFIED_CAPACITY` (then it starts over).
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

/// Verified tokens remembered at most (a few MB).
const VERIFIED_CAPACITY: usize = 10_000;

impl TokenKeys {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `exp` is checked when present; tokens without it are valid when expiry is disabled.
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 0;
        validation.validate_aud = false;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            verified: Arc::default(),
        }
    }

    /// A session token for `user_id`; `lifetime` `None` means no `exp` claim.
    pub fn issue_session(
        &self,
        user_id: &str,
        session_stamp: &str,
        auth_method: Option<&str>,
        lifetime: Option<Duration>,
        now: i64,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let claims = Claims {
            id: user_id.to_string(),
            typ: Some("session".to_string()),
            auth_method: auth_method.map(str::to_string),
            auth_time: auth_method.map(|_| now),
            session_stamp: Some(session_stamp.to_string()),
            mfa_verified: auth_method.map(|_| false),
            exp: lifetime.map(|d| now + d.as_secs() as i64),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            iat: Some(now),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Verified claims, or `None` for anything undecodable, forged, expired or not HS256
    /// (including `alg: none`).
    /// The claims of a token signed with this key that has not expired.
    pub fn decode(&self, token: &str) -> Option<Claims> {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        let lock = || self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(claims) = lock().get(token) {
            // The same rule as the verification below (`exp` < now is expired, no leeway).
            return claims.exp.is_none_or(|exp| exp >= now()).then(|| claims.clone());
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let mut verified = lock();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_string(), claims.clone());
        Some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    #[test]
    fn issued_tokens_round_trip_with_reference_claims() {
        let keys = TokenKeys::new("secret");
        let (token, claims) = keys
            .issue_session("u1", "stamp", Some("password"), Some(Duration::from_secs(60)), now())
            .expect("issue");
        let back = keys.decode(&token).expect("decode");
        assert_eq!(back, claims);
        assert_eq!(back.typ(), "session");
        assert_eq!(back.mfa_verified, Some(false));
        assert!(back.jti.is_some());
    }

    #[test]
    fn forged_expired_and_unsigned_tokens_are_refused() {
        let keys = TokenKeys::new("secret");
        let other = TokenKeys::new("other");
        let (token, _) = other.issue_session("u1", "s", None, None, now()).expect("issue");
        assert!(keys.decode(&token).is_none());

        let (expired, _) =
            keys.issue_session("u1", "s", None, Some(Duration::from_secs(10)), now() - 100).expect("issue");
        assert!(keys.decode(&expired).is_none());

        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(br#"{"id":"u1"}"#);
        assert!(keys.decode(&format!("{header}.{body}.")).is_none());
        assert!(keys.decode("not-a-jwt").is_none());
    }

    #[test]
    fn a_remembered_token_still_expires_and_its_altered_copies_are_refused() {
        let keys = TokenKeys::new("secret");
        let (token, claims) =
            keys.issue_session("u1", "s", None, Some(Duration::from_secs(1)), now()).expect("issue");
        assert_eq!(keys.decode(&token), Some(claims.clone()));
        assert_eq!(keys.decode(&token), Some(claims), "from the memo");
        // A different character in the middle of the signature.
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let altered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(keys.decode(&altered).is_none());
        std::thread::sleep(Duration::from_millis(2100));
        assert!(keys.decode(&token).is_none(), "expired although remembered");
    }

    #[test]
    fn a_token_needs_a_jti_and_while_tokens_expire_an_exp() {
        let keys = TokenKeys::new("secret");
        let (with_exp, _) =
            keys.issue_session("u1", "s", None, Some(Duration::from_secs(60)), now()).expect("issue");
        let (without_exp, _) = keys.issue_session("u1", "s", None, None, now()).expect("issue");
        let with_exp = keys.decode(&with_exp).expect("decode");
        let without_exp = keys.decode(&without_exp).expect("decode");
        assert!(with_exp.has_required_claims(true) && with_exp.has_required_claims(false));
        assert!(without_exp.has_required_claims(false));
        assert!(!without_exp.has_required_claims(true), "no exp while tokens expire");

        let mint = |claims: serde_json::Value| {
            let token = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(b"secret"),
            )
            .expect("encode");
            keys.decode(&token).expect("signed with the key")
        };
        let t = now();
        let no_jti = mint(serde_json::json!({"id": "u1", "exp": t + 60, "iat": t}));
        assert!(!no_jti.has_required_claims(true) && !no_jti.has_required_claims(false));
        let empty_jti = mint(serde_json::json!({"id": "u1", "exp": t + 60, "jti": ""}));
        assert!(!empty_jti.has_required_claims(false));
        // The shape Open WebUI 0.12.4 mints.
        let owui = mint(serde_json::json!({"id": "u1", "exp": t + 60, "jti": "4f1c", "iat": t}));
        assert!(owui.has_required_claims(true));
    }

    #[test]
    fn tokens_without_exp_are_valid_when_expiry_is_disabled() {
        let keys = TokenKeys::new("secret");
        let (token, claims) = keys.issue_session("u1", "s", None, None, now()).expect("issue");
        assert_eq!(claims.exp, None);
        assert!(keys.decode(&token).is_some());
    }
}
