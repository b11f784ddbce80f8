//! Every environment variable duet reads, parsed once into a typed `Config`.
//!
//! Names follow Open WebUI's so an existing deployment's environment carries over. A bad value is
//! a `ConfigError` naming the variable; `main` prints it as one line and exits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Role;
use crate::service::permissions::PermissionTree;

mod env;
mod graphql_ws;

use env::Env;
pub use env::{is_single_term_duration, parse_duration};
pub use graphql_ws::GraphqlWsLimits;

/// A start-up configuration problem, shown to the operator as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &str, message: impl Into<String>) -> Self {
        Self { var: var.to_string(), message: message.into() }
    }
}

/// `SameSite` attribute of the `token` cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "lax",
            SameSite::Strict => "strict",
            SameSite::None => "none",
        }
    }
}

/// How a stored profile image is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileImages {
    /// An `http(s)` image URL is answered with a redirect to it; off, with the default image, so
    /// no `<img>` makes the browser call another origin.
    pub forward_urls: bool,
    /// The lower-cased media types a stored `data:` URL is served as; others get the default.
    pub allowed_types: Vec<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Values that seed the persisted admin configuration (table `config`) on first start.
#[derive(Debug, Clone)]
pub struct SettingSeeds {
    pub enable_signup: bool,
    pub enable_login_form: bool,
    pub default_user_role: Role,
    pub enable_api_keys: bool,
    pub api_key_endpoint_restrictions: bool,
    pub api_keys_allowed_endpoints: String,
    /// The `JWT_EXPIRES_IN` text as given (validated).
    pub jwt_expires_in: String,
    pub show_admin_details: bool,
    pub admin_email: Option<String>,
    pub webui_url: String,
    pub enable_community_sharing: bool,
    pub enable_message_rating: bool,
    pub enable_folders: bool,
    pub enable_channels: bool,
    pub enable_notes: bool,
    pub enable_memories: bool,
    pub enable_calendar: bool,
    pub enable_automations: bool,
    pub enable_user_webhooks: bool,
    pub enable_user_status: bool,
    pub pending_user_overlay_title: String,
    pub pending_user_overlay_content: String,
    pub response_watermark: String,
    pub permissions: PermissionTree,
}

/// An admin account created at start-up when the database has no users.
#[derive(Clone)]
pub struct BootstrapAdmin {
    pub email: String,
    pub password: String,
    pub name: String,
}

impl std::fmt::Debug for BootstrapAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapAdmin")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The whole runtime configuration.
#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`, resolved (never empty).
    pub database_url: String,
    pub database_pool_size: u32,
    pub database_pool_timeout: Duration,
    /// How long a read of the stored configuration is reused (`SETTINGS_CACHE_TTL` in
    /// milliseconds, default 1000; 0 reads it on every use). This instance's own changes apply at
    /// once; another instance's within this time.
    pub settings_cache_ttl: Duration,
    /// How long the account read behind a session token is reused (`SESSION_CACHE_TTL`, ms) and a
    /// page of a user's chat list, an owner's opened chat and the stored models with their grants
    /// (`CHAT_LIST_CACHE_TTL`, ms). `None`: 5000 on SQLite and on PostgreSQL with Redis, 0 (off) on
    /// PostgreSQL without it. This instance's own writes apply at once; another's as announced
    /// over Redis, and never later than this time.
    pub session_cache_ttl: Option<Duration>,
    pub chat_list_cache_ttl: Option<Duration>,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (`REDIS_KEY_PREFIX`, default `open-webui`).
    pub redis_key_prefix: String,
    /// Bound on each Redis command (`REDIS_TIMEOUT`, default 250 ms); slower means "unavailable".
    pub redis_timeout: Duration,
    /// How long a running task's Redis entry lives without its instance renewing it
    /// (`REDIS_TASK_TTL`, seconds, default 300; below 60 or unreadable: 300; `0`: forever).
    pub redis_task_ttl: Option<Duration>,
    /// How long in-flight requests may run after SIGTERM/SIGINT (`SHUTDOWN_TIMEOUT`, default 30 s).
    pub shutdown_timeout: Duration,
    /// `None` ⇒ generated once and kept in `DATA_DIR/.webui_secret_key`.
    pub secret_key: Option<String>,
    pub cookie_same_site: SameSite,
    pub cookie_secure: bool,
    pub webui_name: String,
    pub deployment_id: String,
    pub enable_password_auth: bool,
    pub enable_persistent_config: bool,
    pub password_validation: Option<PasswordPolicy>,
    pub signin_rate_limit: u32,
    pub signin_rate_window: Duration,
    pub request_body_limit: usize,
    /// `REQUEST_TIMEOUT` (default 60 s, `0` = none): longest time to start an answer (504 after).
    pub request_timeout: Option<Duration>,
    /// `HEADER_READ_TIMEOUT` (default 10 s, `0` = none): longest time a client may take to send a
    /// request's headers, and to start its next request on an idle keep-alive connection.
    pub header_read_timeout: Option<Duration>,
    /// `FORWARDED_ALLOW_IPS` (default `127.0.0.1`): peers whose `X-Forwarded-*` headers count.
    pub forwarded_allow_ips: crate::http::client::TrustedProxies,
    /// Upstream model providers and the model-list cache (`ENABLE_OPENAI_API`,
    /// `OPENAI_API_BASE_URLS`, `OLLAMA_BASE_URLS`, `AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST`, …).
    pub upstream: crate::upstream::UpstreamConfig,
    /// Admins read and write every workspace model (`BYPASS_ADMIN_ACCESS_CONTROL`, default true).
    pub bypass_admin_access_control: bool,
    /// Every verified user sees every model in `GET /api/models` (`BYPASS_MODEL_ACCESS_CONTROL`).
    pub bypass_model_access_control: bool,
    pub log_format: LogFormat,
    /// Admins may read and delete other users' chats (`ENABLE_ADMIN_CHAT_ACCESS`).
    pub enable_admin_chat_access: bool,
    /// Admins may export every chat (`ENABLE_ADMIN_EXPORT`).
    pub enable_admin_export: bool,
    /// How stored profile images are served (`ENABLE_PROFILE_IMAGE_URL_FORWARDING`,
    /// `PROFILE_IMAGE_ALLOWED_MIME_TYPES`).
    pub profile_images: ProfileImages,
    /// Who may share with a new group unless its `data.config.share` says
    /// (`DEFAULT_GROUP_SHARE_PERMISSION`: `members`, the default, `true` or `false`; any other
    /// text is `false`, as the reference reads it).
    pub default_group_share: serde_json::Value,
    /// GraphQL limits (`GRAPHQL_*`).
    pub graphql: GraphqlLimits,
    /// GraphQL subscriptions over WebSocket (`GRAPHQL_WS_*`).
    pub graphql_ws: GraphqlWsLimits,
    pub bootstrap_admin: Option<BootstrapAdmin>,
    pub seeds: SettingSeeds,
    /// `CORS_ALLOW_ORIGIN` (default `*`), checked against `CORS_ALLOW_CUSTOM_SCHEME`.
    pub cors_allow_origin: crate::http::cors::CorsOrigins,
    /// `CACHE_CONTROL`, `HSTS`, `XFRAME_OPTIONS`, … (see `crate::http::security_headers`).
    pub security_headers: crate::http::security_headers::SecurityHeaders,
    /// `FRONTEND_BUILD_DIR`: the web app served at `/` (`crate::http::frontend`); unset, 404s.
    pub frontend: Option<crate::http::frontend::Frontend>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url))
            .field("redis", &self.redis_url.as_deref().map(redact_url))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// The highest `GRAPHQL_MAX_NESTING` accepted: parsing, validation and execution recurse once per
/// level, and this keeps them far from the end of a 2 MiB worker stack.
pub const MAX_GRAPHQL_NESTING: usize = 256;

/// Limits of the GraphQL endpoint.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    /// Deepest selection nesting (`GRAPHQL_MAX_DEPTH`, default 12).
    pub max_depth: usize,
    /// Highest cost: one per field, list fields times their page size (`GRAPHQL_MAX_COMPLEXITY`,
    /// default 5000).
    pub max_complexity: usize,
    /// Longest query text in bytes (`GRAPHQL_MAX_QUERY_BYTES`, default 32 KiB).
    pub max_query_bytes: usize,
    /// Deepest bracket nesting of the text, and of selections once fragments are expanded
    /// (`GRAPHQL_MAX_NESTING`, default 64).
    pub max_nesting: usize,
    /// Most operations in one batch (`GRAPHQL_MAX_BATCH`, default 20).
    pub max_batch: usize,
    /// Whether introspection is served (`GRAPHQL_INTROSPECTION`, default true).
    pub introspection: bool,
    /// Whether the browser playground is served at `/playground` and for a browser's
    /// `GET /graphql` (`GRAPHQL_PLAYGROUND`, default true).
    pub playground: bool,
}

/// The policy applied to new passwords when `ENABLE_PASSWORD_VALIDATION` is on: at least 8
/// characters with a lower-case letter, an upper-case letter, a digit and a symbol.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub hint: Option<String>,
}

/// Removes the password from a connection URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads from a map (tests, embedding).
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| map.get(k).cloned())
    }

    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { get };
        let host = env.string("HOST", "127.0.0.1");
        let port = env.number::<u16>("PORT", 8080)?;
        let data_dir = PathBuf::from(env.string("DATA_DIR", "./data"));

        let database_url = match env.raw("DATABASE_URL") {
            None => format!("sqlite://{}/webui.db", data_dir.display()),
            Some(url) => {
                let url = url.trim().to_string();
                if url.starts_with("postgresql://") {
                    url.replacen("postgresql://", "postgres://", 1)
                } else if url.starts_with("postgres://") || url.starts_with("sqlite:") {
                    url
                } else {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        format!(
                            "unsupported database URL {:?} (use sqlite://<path> or postgres://…)",
                            redact_url(&url)
                        ),
                    ));
                }
            }
        };
        let database_pool_size = env.number::<u32>("DATABASE_POOL_SIZE", 10)?;
        if database_pool_size == 0 {
            return Err(ConfigError::new("DATABASE_POOL_SIZE", "must be at least 1"));
        }
        let database_pool_timeout = Duration::from_secs(env.number::<u64>("DATABASE_POOL_TIMEOUT", 30)?);
        let settings_cache_ttl = Duration::from_millis(env.number::<u64>("SETTINGS_CACHE_TTL", 1000)?);
        let optional_ms = |var: &str| -> Result<Option<Duration>, ConfigError> {
            Ok(match env.raw(var) {
                None => None,
                Some(_) => Some(Duration::from_millis(env.number::<u64>(var, 0)?)),
            })
        };
        let session_cache_ttl = optional_ms("SESSION_CACHE_TTL")?;
        let chat_list_cache_ttl = optional_ms("CHAT_LIST_CACHE_TTL")?;

        let redis_url = env.raw("REDIS_URL").map(|u| u.trim().to_string());
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("unix://")
                || url.starts_with("redis+unix://"))
        {
            let message = if url.starts_with("rediss://") {
                "TLS (rediss://) is not supported; use redis:// on a private network or a TLS tunnel"
            } else {
                "expected a redis://host:port[/db] or unix:// URL"
            };
            return Err(ConfigError::new("REDIS_URL", message));
        }

        let redis_key_prefix = env.string("REDIS_KEY_PREFIX", "open-webui").trim().to_string();
        if redis_key_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::new(
                "REDIS_KEY_PREFIX",
                "must not contain spaces or control characters",
            ));
        }
        let redis_timeout = match env.raw("REDIS_TIMEOUT") {
            None => Duration::from_millis(250),
            Some(v) => match parse_duration(&v) {
                Ok(Some(d)) if d >= Duration::from_millis(1) => d,
                _ => {
                    return Err(ConfigError::new(
                        "REDIS_TIMEOUT",
                        format!("expected a positive duration like 250ms or 1s, got {v:?}"),
                    ));
                }
            },
        };
        let redis_task_ttl = match env.raw("REDIS_TASK_TTL").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(0)) => None,
            Some(Ok(secs)) if secs >= 60 => Some(Duration::from_secs(secs)),
            _ => Some(Duration::from_secs(300)),
        };
        let shutdown_timeout = Duration::from_secs(env.number::<u64>("SHUTDOWN_TIMEOUT", 30)?);

        let secret_key = env.first(&["WEBUI_SECRET_KEY", "WEBUI_JWT_SECRET_KEY"]).map(|(_, v)| v);

        let jwt_expires_in = env.string("JWT_EXPIRES_IN", "4w");
        parse_duration(&jwt_expires_in).map_err(|m| ConfigError::new("JWT_EXPIRES_IN", m))?;

        let default_user_role = match env.raw("DEFAULT_USER_ROLE") {
            None => Role::Pending,
            Some(v) => Role::parse(v.trim()).ok_or_else(|| {
                ConfigError::new("DEFAULT_USER_ROLE", format!("expected pending, user or admin, got {v:?}"))
            })?,
        };

        let cookie_same_site = match env
            .first(&["WEBUI_AUTH_COOKIE_SAME_SITE", "WEBUI_SESSION_COOKIE_SAME_SITE"])
        {
            None => SameSite::Lax,
            Some((var, v)) => match v.trim().to_ascii_lowercase().as_str() {
                "lax" => SameSite::Lax,
                "strict" => SameSite::Strict,
                "none" => SameSite::None,
                _ => return Err(ConfigError::new(&var, format!("expected lax, strict or none, got {v:?}"))),
            },
        };
        let cookie_secure =
            env.bool_any(&["WEBUI_AUTH_COOKIE_SECURE", "WEBUI_SESSION_COOKIE_SECURE"], false)?;

        let password_validation = if env.bool("ENABLE_PASSWORD_VALIDATION", false)? {
            if env.raw("PASSWORD_VALIDATION_REGEX_PATTERN").is_some() {
                return Err(ConfigError::new(
                    "PASSWORD_VALIDATION_REGEX_PATTERN",
                    "custom patterns are not supported; unset it to use the built-in policy (8+ characters with lower, upper, digit and symbol)",
                ));
            }
            Some(PasswordPolicy { hint: env.raw("PASSWORD_VALIDATION_HINT") })
        } else {
            None
        };

        let signin_rate_limit = env.number::<u32>("SIGNIN_RATE_LIMIT", 15)?;
        let signin_rate_window = Duration::from_secs(env.number::<u64>("SIGNIN_RATE_LIMIT_WINDOW", 180)?);
        if signin_rate_window.is_zero() {
            return Err(ConfigError::new("SIGNIN_RATE_LIMIT_WINDOW", "must be at least 1 second"));
        }

        let graphql_max_nesting = env.number::<usize>("GRAPHQL_MAX_NESTING", 64)?;
        if !(1..=MAX_GRAPHQL_NESTING).contains(&graphql_max_nesting) {
            return Err(ConfigError::new(
                "GRAPHQL_MAX_NESTING",
                format!(
                    "must be between 1 and {MAX_GRAPHQL_NESTING} (deeper documents could exhaust the stack)"
                ),
            ));
        }

        let request_body_limit = env.number::<usize>("REQUEST_BODY_LIMIT", 16 * 1024 * 1024)?;
        let request_timeout = env.timeout("REQUEST_TIMEOUT", 60)?;
        let header_read_timeout = env.timeout("HEADER_READ_TIMEOUT", 10)?;
        let forwarded_allow_ips =
            crate::http::client::TrustedProxies::parse(env.raw("FORWARDED_ALLOW_IPS").as_deref())?;
        let upstream = crate::upstream::UpstreamConfig::from_lookup(&|v| env.raw(v))?;
        let bypass_admin_access_control =
            env.bool_any(&["BYPASS_ADMIN_ACCESS_CONTROL", "ENABLE_ADMIN_WORKSPACE_CONTENT_ACCESS"], true)?;
        let bypass_model_access_control = env.bool("BYPASS_MODEL_ACCESS_CONTROL", false)?;
        let log_format = match env.string("LOG_FORMAT", "text").to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new("LOG_FORMAT", format!("expected text or json, got {other:?}")));
            }
        };

        let bootstrap_admin = match (env.raw("WEBUI_ADMIN_EMAIL"), env.raw("WEBUI_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some(BootstrapAdmin {
                email: email.trim().to_lowercase(),
                password,
                name: env.string("WEBUI_ADMIN_NAME", "Admin"),
            }),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "WEBUI_ADMIN_PASSWORD",
                    "must be set when WEBUI_ADMIN_EMAIL is set",
                ));
            }
            _ => None,
        };

        let seeds = SettingSeeds {
            enable_signup: env.bool("ENABLE_SIGNUP", true)?,
            enable_login_form: env.bool("ENABLE_LOGIN_FORM", true)?,
            default_user_role,
            enable_api_keys: env.bool("ENABLE_API_KEYS", false)?,
            api_key_endpoint_restrictions: env.bool_any(
                &["ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS", "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS"],
                false,
            )?,
            api_keys_allowed_endpoints: env
                .first(&["API_KEYS_ALLOWED_ENDPOINTS", "API_KEY_ALLOWED_ENDPOINTS"])
                .map(|(_, v)| v)
                .unwrap_or_default(),
            jwt_expires_in,
            show_admin_details: env.bool("SHOW_ADMIN_DETAILS", true)?,
            admin_email: env.raw("ADMIN_EMAIL"),
            webui_url: env.string("WEBUI_URL", ""),
            enable_community_sharing: env.bool("ENABLE_COMMUNITY_SHARING", true)?,
            enable_message_rating: env.bool("ENABLE_MESSAGE_RATING", true)?,
            enable_folders: env.bool("ENABLE_FOLDERS", true)?,
            enable_channels: env.bool("ENABLE_CHANNELS", false)?,
            enable_notes: env.bool("ENABLE_NOTES", true)?,
            enable_memories: env.bool("ENABLE_MEMORIES", true)?,
            enable_calendar: env.bool("ENABLE_CALENDAR", true)?,
            enable_automations: env.bool("ENABLE_AUTOMATIONS", true)?,
            enable_user_webhooks: env.bool("ENABLE_USER_WEBHOOKS", false)?,
            enable_user_status: env.bool("ENABLE_USER_STATUS", true)?,
            pending_user_overlay_title: env.string("PENDING_USER_OVERLAY_TITLE", ""),
            pending_user_overlay_content: env.string("PENDING_USER_OVERLAY_CONTENT", ""),
            response_watermark: env.string("RESPONSE_WATERMARK", ""),
            permissions: PermissionTree::from_env(&|var, default| env.bool(var, default))?,
        };

        // CORS and security headers: a bad origin stops start-up; a bad header value is replaced by
        // its fallback (warned about when the router is built).
        let cors_allow_origin = crate::http::cors::CorsOrigins::parse(
            env.raw("CORS_ALLOW_ORIGIN").as_deref(),
            env.raw("CORS_ALLOW_CUSTOM_SCHEME").as_deref(),
        )?;
        let security_headers = crate::http::security_headers::SecurityHeaders::from_lookup(&|v| env.raw(v))?;
        let frontend = env.raw("FRONTEND_BUILD_DIR").map(|d| crate::http::frontend::Frontend::open(d.trim()));

        Ok(Config {
            host,
            port,
            data_dir,
            database_url,
            database_pool_size,
            database_pool_timeout,
            settings_cache_ttl,
            session_cache_ttl,
            chat_list_cache_ttl,
            redis_url,
            redis_key_prefix,
            redis_timeout,
            redis_task_ttl,
            shutdown_timeout,
            secret_key,
            cookie_same_site,
            cookie_secure,
            webui_name: env.string("WEBUI_NAME", "Open WebUI"),
            deployment_id: env.string("DEPLOYMENT_ID", ""),
            enable_password_auth: env.bool("ENABLE_PASSWORD_AUTH", true)?,
            enable_persistent_config: env.bool("ENABLE_PERSISTENT_CONFIG", true)?,
            password_validation,
            signin_rate_limit,
            signin_rate_window,
            request_body_limit,
            request_timeout,
            header_read_timeout,
            forwarded_allow_ips,
            upstream,
            bypass_admin_access_control,
            bypass_model_access_control,
            log_format,
            enable_admin_chat_access: env.bool("ENABLE_ADMIN_CHAT_ACCESS", true)?,
            enable_admin_export: env.bool("ENABLE_ADMIN_EXPORT", true)?,
            profile_images: ProfileImages {
                forward_urls: env.bool("ENABLE_PROFILE_IMAGE_URL_FORWARDING", true)?,
                allowed_types: env
                    .string("PROFILE_IMAGE_ALLOWED_MIME_TYPES", "image/png,image/jpeg,image/gif,image/webp")
                    .split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect(),
            },
            default_group_share: match env
                .string("DEFAULT_GROUP_SHARE_PERMISSION", "members")
                .trim()
                .to_lowercase()
            {
                t if t == "members" => serde_json::json!("members"),
                t => serde_json::json!(t == "true"),
            },
            graphql: GraphqlLimits {
                max_depth: env.number::<usize>("GRAPHQL_MAX_DEPTH", 12)?,
                max_complexity: env.number::<usize>("GRAPHQL_MAX_COMPLEXITY", 5000)?,
                max_query_bytes: env.number::<usize>("GRAPHQL_MAX_QUERY_BYTES", 32 * 1024)?,
                max_nesting: graphql_max_nesting,
                max_batch: env.number::<usize>("GRAPHQL_MAX_BATCH", 20)?,
                introspection: env.bool("GRAPHQL_INTROSPECTION", true)?,
                playground: env.bool("GRAPHQL_PLAYGROUND", true)?,
            },
            graphql_ws: GraphqlWsLimits::read(&env)?,
            bootstrap_admin,
            seeds,
            cors_allow_origin,
            security_headers,
            frontend: frontend.transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_are_sqlite_in_data_dir_on_loopback_8080() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 8080);
        assert_eq!(c.database_url, "sqlite://./data/webui.db");
        assert_eq!(c.seeds.jwt_expires_in, "4w");
        assert_eq!(c.seeds.default_user_role, Role::Pending);
        assert!(c.seeds.enable_signup);
        assert!(!c.seeds.enable_api_keys);
        assert_eq!(c.cookie_same_site, SameSite::Lax);
        assert_eq!(c.request_timeout, Some(Duration::from_secs(60)));
        assert_eq!(c.header_read_timeout, Some(Duration::from_secs(10)));
        assert!(c.forwarded_allow_ips.contains("127.0.0.1".parse().expect("ip")));
        assert_eq!(c.redis_url, None);
        assert_eq!(c.redis_key_prefix, "open-webui");
        assert_eq!(c.redis_timeout, Duration::from_millis(250));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        let c = cfg(&[("REDIS_TIMEOUT", "1s"), ("REDIS_KEY_PREFIX", "team-a")]).expect("config");
        assert_eq!(c.redis_timeout, Duration::from_secs(1));
        assert_eq!(c.redis_key_prefix, "team-a");
    }

    #[test]
    fn timeouts_take_seconds_and_zero_turns_them_off() {
        let c = cfg(&[("REQUEST_TIMEOUT", "0"), ("HEADER_READ_TIMEOUT", "2.5")]).expect("config");
        assert_eq!(c.request_timeout, None);
        assert_eq!(c.header_read_timeout, Some(Duration::from_millis(2500)));
        for (var, bad) in
            [("REQUEST_TIMEOUT", "-1"), ("HEADER_READ_TIMEOUT", "ten"), ("FORWARDED_ALLOW_IPS", "proxy")]
        {
            assert_eq!(cfg(&[(var, bad)]).expect_err(bad).var, var);
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("ENABLE_SIGNUP", "maybe")]).expect_err("error");
        assert_eq!(e.var, "ENABLE_SIGNUP");
        let e = cfg(&[("PORT", "eighty")]).expect_err("error");
        assert_eq!(e.var, "PORT");
        let e = cfg(&[("JWT_EXPIRES_IN", "4 weeks")]).expect_err("error");
        assert_eq!(e.var, "JWT_EXPIRES_IN");
        let e = cfg(&[("DEFAULT_USER_ROLE", "root")]).expect_err("error");
        assert_eq!(e.var, "DEFAULT_USER_ROLE");
        let e = cfg(&[("REDIS_TIMEOUT", "250")]).expect_err("error");
        assert_eq!(e.var, "REDIS_TIMEOUT");
        let e = cfg(&[("REDIS_TIMEOUT", "-1")]).expect_err("error");
        assert_eq!(e.var, "REDIS_TIMEOUT");
        let e = cfg(&[("REDIS_KEY_PREFIX", "a b")]).expect_err("error");
        assert_eq!(e.var, "REDIS_KEY_PREFIX");
        let e = cfg(&[("SHUTDOWN_TIMEOUT", "soon")]).expect_err("error");
        assert_eq!(e.var, "SHUTDOWN_TIMEOUT");
        let e = cfg(&[("REDIS_URL", "http://x")]).expect_err("error");
        assert_eq!(e.var, "REDIS_URL");
        let e = cfg(&[("DATABASE_URL", "mysql://x")]).expect_err("error");
        assert_eq!(e.var, "DATABASE_URL");
        assert_eq!(
            e.to_string(),
            "invalid configuration: DATABASE_URL: unsupported database URL \"mysql://x\" (use sqlite://<path> or postgres://…)"
        );
    }

    #[test]
    fn durations_follow_the_reference_syntax() {
        assert_eq!(parse_duration("-1"), Ok(None));
        assert_eq!(parse_duration("0"), Ok(None));
        assert_eq!(parse_duration("4w"), Ok(Some(Duration::from_secs(28 * 86400))));
        assert_eq!(parse_duration("1h30m"), Ok(Some(Duration::from_secs(5400))));
        assert_eq!(parse_duration("500ms"), Ok(Some(Duration::from_millis(500))));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("4x").is_err());
        assert!(parse_duration("").is_err());
        assert!(is_single_term_duration("12h"));
        assert!(!is_single_term_duration("1h30m"));
    }

    #[test]
    fn postgresql_scheme_is_normalised_and_password_redacted() {
        let c = cfg(&[("DATABASE_URL", "postgresql://u:hunter2@h/db")]).expect("config");
        assert_eq!(c.database_url, "postgres://u:hunter2@h/db");
        assert_eq!(redact_url(&c.database_url), "postgres://u:***@h/db");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
