//! The `Caller`: who is making a request, resolved once from its credential and shared by REST and
//! GraphQL. Resolution never fails; a bad credential becomes `Caller::Rejected` with the exact
//! error, and each route's requirement (`require_user`, `require_verified`, `require_admin`,
//! `require_human`) decides whether that matters.

use axum::http::{HeaderMap, StatusCode, header};

use super::Role;
use super::jwt::{ACCEPTED_TYPES, Claims, TokenKeys};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::kv::Redis;
use crate::service::admin_config::Settings;
use crate::service::{permissions, policy};
use crate::store::{self, Db, users::User};

/// Seconds between `last_active_at` refreshes of one user.
const ACTIVITY_INTERVAL: i64 = 60;

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A JWT; `token` is the raw text (echoed by `GET /auths/`).
    Session {
        token: String,
        claims: Claims,
    },
    ApiKey,
}

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub role: Role,
    pub credential: Credential,
    /// Whether the user belongs to a group (their permissions are then more than the defaults).
    pub grouped: bool,
}

impl Principal {
    pub fn id(&self) -> &str {
        &self.user.id
    }
}

/// The result of reading a request's credential.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Rejected(AppError),
    Authenticated(Box<Principal>),
}

impl Caller {
    /// Any signed-in principal, any role (the reference's `get_current_user`).
    pub fn require_user(&self) -> AppResult<&Principal> {
        match self {
            Caller::Authenticated(p) => Ok(p),
            Caller::Rejected(e) => Err(e.clone()),
            Caller::Anonymous => Err(AppError::unauthorized(ErrorCode::NotAuthenticated)),
        }
    }

    /// Role `user` or `admin`; a lower role is 401 `ACCESS_PROHIBITED`, as the reference.
    pub fn require_verified(&self) -> AppResult<&Principal> {
        let p = self.require_user()?;
        if p.role.is_verified() { Ok(p) } else { Err(AppError::unauthorized(ErrorCode::AccessProhibited)) }
    }

    /// Role `admin`.
    pub fn require_admin(&self) -> AppResult<&Principal> {
        let p = self.require_user()?;
        if p.role.is_admin() { Ok(p) } else { Err(AppError::unauthorized(ErrorCode::AccessProhibited)) }
    }

    /// A person's session token (API keys and automation tokens are refused).
    pub fn require_human(&self) -> AppResult<&Principal> {
        let p = self.require_user()?;
        match &p.credential {
            Credential::Session { claims, .. } if claims.typ() == "session" => Ok(p),
            _ => Err(AppError::forbidden(ErrorCode::HumanSessionRequired)),
        }
    }

    /// The principal if the credential was good, regardless of role.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Authenticated(p) => Some(p),
            _ => None,
        }
    }
}

/// Which request header or cookie carried the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCredential(pub String);

/// Finds the credential the way the reference does: `Authorization: Bearer …` first, then the
/// `token` cookie, then `Authorization` with any other scheme, then `x-api-key`.
pub fn credential_from_headers(headers: &HeaderMap) -> Option<RawCredential> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(auth) = authorization
        && let Some((scheme, rest)) = auth.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
        && !rest.trim().is_empty()
    {
        return Some(RawCredential(rest.trim().to_string()));
    }
    if let Some(token) = cookie(headers, "token").filter(|t| !t.is_empty()) {
        return Some(RawCredential(token));
    }
    if let Some(auth) = authorization
        && let Some((_, rest)) = auth.split_once(' ')
        && !rest.trim().is_empty()
    {
        return Some(RawCredential(rest.trim().to_string()));
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| RawCredential(v.to_string()))
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// Resolves the caller of a request to `path`.
pub async fn resolve(
    db: &Db,
    keys: &TokenKeys,
    redis: Option<&Redis>,
    headers: &HeaderMap,
    path: &str,
) -> Caller {
    let Some(RawCredential(credential)) = credential_from_headers(headers) else {
        return Caller::Anonymous;
    };
    let result = if credential.starts_with("sk-") {
        resolve_api_key(db, &credential, path).await
    } else {
        resolve_token(db, keys, redis, credential).await
    };
    match result {
        Ok(principal) => {
            // The request span declares `user_id`; elsewhere this records nothing.
            tracing::Span::current().record("user_id", principal.user.id.as_str());
            Caller::Authenticated(Box::new(principal))
        }
        Err(err) => Caller::Rejected(err),
    }
}

/// Checks a JWT: signature and expiry, the claims every token needs (a `jti`, and an `exp` unless
/// `JWT_EXPIRES_IN` is `-1`; 401 `INVALID_TOKEN` otherwise), then the account (present, active),
/// its session stamp, the token type, and per-token revocation: the database's `revoked_tokens`
/// (in the same statement), then, with Redis, the key `<prefix>:auth:token:<jti>:revoked` that
/// duet and Open WebUI set at sign-out. When Redis cannot answer, the database's answer stands.
pub async fn resolve_token(
    db: &Db,
    keys: &TokenKeys,
    redis: Option<&Redis>,
    token: String,
) -> AppResult<Principal> {
    let claims = keys.decode(&token).ok_or_else(|| AppError::unauthorized(ErrorCode::Unauthorized))?;
    // Whether tokens expire matters only for a token without `exp` (the configuration is read then).
    let expiry_enabled =
        claims.exp.is_none() && Settings::load(db).await.map_err(auth_unavailable)?.jwt_lifetime().is_some();
    if !claims.has_required_claims(expiry_enabled) {
        return Err(AppError::unauthorized(ErrorCode::InvalidToken));
    }
    let jti = claims.jti.clone().unwrap_or_default();
    let row = store::auths::session(db, &claims.id, &jti)
        .await
        .map_err(auth_unavailable)?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::InvalidAuthRequest))?;
    if !row.active {
        return Err(AppError::unauthorized(ErrorCode::InvalidAuthRequest));
    }
    let stamp_ok = claims.session_stamp.as_deref() == Some(row.session_stamp.as_str());
    if !stamp_ok || !ACCEPTED_TYPES.contains(&claims.typ()) || row.revoked {
        return Err(AppError::unauthorized(ErrorCode::TokenRevoked));
    }
    if let Some(redis) = redis
        && !jti.is_empty()
        && redis.exists("revocation check", &revoked_key(redis, &jti)).await == Some(true)
    {
        return Err(AppError::unauthorized(ErrorCode::TokenRevoked));
    }
    touch(db, &row.user).await;
    Ok(Principal {
        role: Role::from_stored(&row.user.role),
        user: row.user,
        credential: Credential::Session { token, claims },
        grouped: row.grouped,
    })
}

async fn resolve_api_key(db: &Db, key: &str, path: &str) -> AppResult<Principal> {
    let now = store::now();
    let store::api_keys::KeyUser { user, grouped } = store::api_keys::user_by_key(db, key, now)
        .await
        .map_err(auth_unavailable)?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::InvalidToken))?;
    let settings = Settings::load(db).await.map_err(auth_unavailable)?;
    let role = Role::from_stored(&user.role);
    let tree = if grouped {
        permissions::of_user(db, &user.id).await.map_err(auth_unavailable)?
    } else {
        settings.permissions()
    };
    if !policy::may_use_api_keys(&role, settings.enable_api_keys(), &tree) {
        return Err(AppError::forbidden(ErrorCode::ApiKeyNotAllowed));
    }
    if settings.api_key_endpoint_restrictions() {
        let allowed = settings.api_keys_allowed_endpoints();
        if !policy::key_may_reach(&allowed, path) {
            return Err(AppError::forbidden(ErrorCode::AccessProhibited));
        }
    }
    if let Err(e) = store::api_keys::touch(db, key, now, ACTIVITY_INTERVAL).await {
        tracing::debug!(error = %e.report(), "could not record API key use");
    }
    touch(db, &user).await;
    Ok(Principal { role, user, credential: Credential::ApiKey, grouped })
}

/// Refreshes `last_active_at` at most once a minute; a failure only costs freshness.
async fn touch(db: &Db, user: &User) {
    let now = store::now();
    if now - user.last_active_at >= ACTIVITY_INTERVAL
        && let Err(e) = store::users::touch_last_active(db, &user.id, now, ACTIVITY_INTERVAL).await
    {
        tracing::debug!(error = %e.report(), "could not refresh last_active_at");
    }
}

/// The Redis key marking token `jti` as revoked (the name Open WebUI uses too).
pub fn revoked_key(redis: &Redis, jti: &str) -> String {
    redis.key(&format!("auth:token:{jti}:revoked"))
}

/// Database trouble while checking a credential is 503 with the reference's text.
fn auth_unavailable(err: AppError) -> AppError {
    if err.status == StatusCode::SERVICE_UNAVAILABLE {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::AuthUnavailable)
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn bearer_header_wins_over_cookie() {
        let h = headers(&[("authorization", "Bearer aaa"), ("cookie", "x=1; token=bbb")]);
        assert_eq!(credential_from_headers(&h), Some(RawCredential("aaa".into())));
    }

    #[test]
    fn cookie_wins_over_other_schemes_and_other_schemes_still_work() {
        let h = headers(&[("authorization", "Token aaa"), ("cookie", "token=bbb")]);
        assert_eq!(credential_from_headers(&h), Some(RawCredential("bbb".into())));
        let h = headers(&[("authorization", "Token aaa")]);
        assert_eq!(credential_from_headers(&h), Some(RawCredential("aaa".into())));
    }

    #[test]
    fn x_api_key_is_last_and_nothing_is_anonymous() {
        let h = headers(&[("x-api-key", "sk-1")]);
        assert_eq!(credential_from_headers(&h), Some(RawCredential("sk-1".into())));
        assert_eq!(credential_from_headers(&HeaderMap::new()), None);
    }
}
