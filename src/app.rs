//! `App`: the shared state every request sees (configuration, database, token keys, limiter), its
//! start-up sequence, and the router that serves it.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::auth::jwt::TokenKeys;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::kv::Redis;
use crate::limit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use crate::store::Db;

/// Default time to live of the session and chat-list caches on SQLite, where one process owns
/// the database and every write goes through it, and on PostgreSQL with Redis, where every
/// instance hears the others' changes (see `store::cache`, `store::cache_sync`). Without Redis,
/// PostgreSQL instances could not tell each other, so the caches are off there.
const DEFAULT_READ_CACHE_TTL: Duration = Duration::from_secs(5);

/// Everything a request handler or service function may use.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub keys: TokenKeys,
    pub signin_limiter: Arc<dyn RateLimiter>,
    /// The shared Redis (`REDIS_URL`), when configured.
    pub redis: Option<Arc<Redis>>,
    /// Upstream model providers and the cached model list.
    pub upstream: Arc<crate::upstream::Upstream>,
    /// Chat events, delivered to every instance (over Redis when it is configured).
    pub events: Arc<crate::bus::Bus<crate::service::events::ChatEvent>>,
    /// Replies running as tasks (listed and stopped across instances with Redis).
    pub tasks: Arc<crate::service::completions::tasks::Tasks>,
}

/// A cheap handle to `App`, used as axum state.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Connects, migrates, seeds configuration and the optional bootstrap admin.
    pub async fn init(config: Config) -> AppResult<App> {
        let db = Db::connect(&config.database_url, config.database_pool_size, config.database_pool_timeout)
            .await?;
        Self::with_db(config, db).await
    }

    /// Like `init`, on an already connected database.
    pub async fn with_db(config: Config, db: Db) -> AppResult<App> {
        db.migrate().await?;
        db.set_settings_ttl(config.settings_cache_ttl);
        crate::service::admin_config::init(&db, &config).await?;
        let secret = match &config.secret_key {
            Some(key) => key.clone(),
            None => load_or_create_secret(&config.data_dir)?,
        };
        let redis = match &config.redis_url {
            Some(url) => {
                let redis = Redis::new(url, &config.redis_key_prefix, config.redis_timeout)
                    .map_err(AppError::internal)?;
                if redis.ping().await {
                    tracing::info!(url = %crate::config::redact_url(url), "connected to Redis");
                }
                Some(Arc::new(redis))
            }
            None => None,
        };
        let read_cache_default = match (db.backend(), &redis) {
            (crate::store::Backend::Sqlite, _) | (crate::store::Backend::Postgres, Some(_)) => {
                DEFAULT_READ_CACHE_TTL
            }
            (crate::store::Backend::Postgres, None) => Duration::ZERO,
        };
        db.set_read_cache_ttls(
            config.session_cache_ttl.unwrap_or(read_cache_default),
            config.chat_list_cache_ttl.unwrap_or(read_cache_default),
        );
        let signin_limiter: Arc<dyn RateLimiter> = match &redis {
            Some(redis) => Arc::new(RedisRateLimiter::new(
                redis.clone(),
                "signin",
                config.signin_rate_limit,
                config.signin_rate_window,
            )),
            None => Arc::new(MemoryRateLimiter::new(config.signin_rate_limit, config.signin_rate_window)),
        };
        let upstream = crate::upstream::Upstream::new(&config.upstream)?;
        crate::service::connections::init(&db, &config, &upstream).await?;
        let events = Arc::new(match &redis {
            Some(redis) => crate::bus::Bus::shared(redis, "events"),
            None => crate::bus::Bus::local(),
        });
        // Cache invalidations between the instances on one PostgreSQL database.
        if let (crate::store::Backend::Postgres, Some(redis)) = (db.backend(), &redis) {
            db.share_invalidations(Arc::new(crate::bus::Bus::shared(redis, "invalidate")));
        }
        let tasks = crate::service::completions::tasks::Tasks::new(redis.clone(), config.redis_task_ttl);
        let app =
            App { keys: TokenKeys::new(&secret), config, db, signin_limiter, redis, upstream, events, tasks };
        crate::service::auths::bootstrap_admin(&app).await?;
        Ok(app)
    }

    /// Replaces the sign-in limiter (tests, alternative backends).
    pub fn with_signin_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.signin_limiter = limiter;
        self
    }

    pub fn into_state(self) -> AppState {
        AppState(Arc::new(self))
    }
}

/// The key in `DATA_DIR/.webui_secret_key`, generated (24 random bytes, base64) on first use.
/// When two instances start at once on one data directory, the one that loses the race to create
/// the file reads the winner's key.
fn load_or_create_secret(data_dir: &Path) -> AppResult<String> {
    use base64::Engine;
    let path = data_dir.join(".webui_secret_key");
    let cannot =
        |what: &str, e: std::io::Error| AppError::internal(format!("cannot {what} {}: {e}", path.display()));
    for _ in 0..50 {
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
            // Present but still empty: another instance is writing it.
            Ok(_) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(cannot("read", e)),
        }
        std::fs::create_dir_all(data_dir).map_err(|e| cannot("create", e))?;
        let bytes: [u8; 24] = rand::random();
        let key = base64::engine::general_purpose::STANDARD.encode(bytes);
        match write_private(&path, &key) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "generated a new secret key");
                return Ok(key);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(cannot("write", e)),
        }
    }
    Err(AppError::internal(format!("{} stays empty; delete it or set WEBUI_SECRET_KEY", path.display())))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The whole HTTP surface: the REST routers, GraphQL (with its schema, built here once) and the
/// API documents, behind the edge layers.
pub fn build_router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(crate::rest::router())
        .merge(crate::graphql::router(&state.config.graphql))
        .merge(crate::rest::openapi::router())
        .merge(crate::rest::docs_ui::router())
        .fallback(crate::http::frontend::fallback)
        .method_not_allowed_fallback(crate::rest::method_not_allowed);
    let routes = crate::socket::attach(routes.with_state(state.clone()), &state);
    crate::http::layers(routes, &state)
}
