//! Upstream model providers: reqwest clients for OpenAI-compatible (`GET {base}/models`) and
//! Ollama (`GET {base}/api/tags`) servers, and the cached list of their models.
//!
//! Providers are asked concurrently, each under its own total timeout. A provider that does not
//! answer in time, cannot be reached, answers an error status, HTML or malformed JSON is left out
//! of the list, logged, and not asked again for a cooldown. The merged list is cached: a fresh
//! list (younger than the TTL) is served as is; an older one is still served at once while a
//! single background fetch replaces it. Only the very first request (or `refresh=true`) waits for
//! a fetch, and concurrent waiters share that one fetch, so a burst of page loads never fans out
//! more than once and never waits longer than the timeout.
//!
//! The connections come from a `Source` (the stored connection settings), asked before each
//! list is served: when they differ from the ones in use, the providers are rebuilt at once and
//! the cached list is dropped (a fetch begun for the old connections is not stored).

pub mod chat;
pub mod config;
pub mod convert;
pub mod direct;
mod inline;
pub mod ollama;
pub mod openai;
pub mod pyjson;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use config::{ApiConfigs, Connection, ProviderSettings, Tls, UpstreamConfig};

use crate::config::redact_url;
use crate::error::{AppError, AppResult};

/// One model object as a provider lists it.
pub type RawModel = serde_json::Map<String, Value>;

/// The largest model-list answer read from a provider.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Where the connections come from: the current settings, or `None` when they cannot be read
/// right now (the connections in use are kept).
pub type Source =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<Arc<ProviderSettings>>> + Send>> + Send + Sync>;

/// The API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenAi,
    Ollama,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Ollama => "ollama",
        }
    }
}

/// One configured provider.
#[derive(Debug, Clone)]
struct Provider {
    kind: Kind,
    /// Its index among the providers of its kind (`urlIdx`).
    index: usize,
    connection: Connection,
}

impl Provider {
    fn list_url(&self) -> String {
        match self.kind {
            Kind::OpenAi => format!("{}/models", self.connection.url),
            Kind::Ollama => format!("{}/api/tags", self.connection.url),
        }
    }
}

/// The providers in use, built from one version of the settings.
#[derive(Debug)]
struct Live {
    /// Bumped by every change of the settings; a list fetched for another generation is dropped.
    generation: u64,
    settings: Arc<ProviderSettings>,
    /// The connections of the enabled kinds.
    providers: Vec<Provider>,
}

impl Live {
    fn new(generation: u64, settings: Arc<ProviderSettings>) -> Live {
        let mut providers = Vec::new();
        for (enabled, kind, connections) in [
            (settings.openai_enabled, Kind::OpenAi, &settings.openai),
            (settings.ollama_enabled, Kind::Ollama, &settings.ollama),
        ] {
            if enabled {
                providers.extend(connections.iter().enumerate().map(|(index, c)| Provider {
                    kind,
                    index,
                    connection: c.clone(),
                }));
            }
        }
        Live { generation, settings, providers }
    }
}

/// A fetched, merged list.
struct Snapshot {
    models: Arc<Vec<Value>>,
    fetched_at: Instant,
}

struct State {
    /// The generation of the providers this state belongs to.
    generation: u64,
    snapshot: Option<Snapshot>,
    /// A background refresh is queued or running.
    refreshing: bool,
    /// Per provider: left out until this instant.
    cooldown_until: Vec<Option<Instant>>,
}

/// The provider clients and the model-list cache (one per process, shared by every request).
pub struct Upstream {
    config: UpstreamConfig,
    live: RwLock<Arc<Live>>,
    source: OnceLock<Source>,
    /// For model lists: every request under `AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST`.
    client: reqwest::Client,
    /// For chat completions: no client-wide limit; each request carries its own (see `chat`).
    chat_client: reqwest::Client,
    /// Kept connections for streamed chat requests to plain-HTTP providers (`inline`); `None`
    /// when the environment names a proxy, which only the shared client honours.
    inline: Option<Arc<inline::Pool>>,
    state: Mutex<State>,
    /// Held by whoever fetches, so fetches never overlap.
    flight: tokio::sync::Mutex<()>,
}

impl Upstream {
    /// Clients for the environment's connections (until a `Source` is attached).
    pub fn new(config: &UpstreamConfig) -> AppResult<Arc<Upstream>> {
        let settings = Arc::new(ProviderSettings {
            openai_enabled: config.openai_enabled,
            openai: config.openai.clone(),
            ollama_enabled: config.ollama_enabled,
            ollama: config.ollama.clone(),
        });
        let live = Live::new(0, settings);
        let client = http_client(config, Some(config.timeout))?;
        let chat_client = http_client(config, None)?;
        let count = live.providers.len();
        Ok(Arc::new(Upstream {
            config: config.clone(),
            live: RwLock::new(Arc::new(live)),
            source: OnceLock::new(),
            client,
            chat_client,
            inline: (!inline::proxy_configured()).then(Default::default),
            state: Mutex::new(State {
                generation: 0,
                snapshot: None,
                refreshing: false,
                cooldown_until: vec![None; count],
            }),
            flight: tokio::sync::Mutex::new(()),
        }))
    }

    /// The configuration the clients were built from.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Where the connections come from from now on (set once; later calls are ignored).
    pub fn attach(&self, source: Source) {
        let _ = self.source.set(source);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn current(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Uses `settings` from now on. When they differ from the ones in use, the providers are
    /// rebuilt and the cached list and cooldowns are dropped; `true` then.
    pub fn apply(&self, settings: Arc<ProviderSettings>) -> bool {
        let mut live = self.live.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if Arc::ptr_eq(&live.settings, &settings) {
            return false;
        }
        if *live.settings == *settings {
            // The same connections from a newer read: keep the providers and the cache.
            *live =
                Arc::new(Live { generation: live.generation, settings, providers: live.providers.clone() });
            return false;
        }
        let next = Live::new(live.generation + 1, settings);
        tracing::info!(
            openai = next.settings.openai_enabled.then_some(next.settings.openai.len()),
            ollama = next.settings.ollama_enabled.then_some(next.settings.ollama.len()),
            "provider connections changed; the model list is fetched again"
        );
        let mut state = self.state();
        state.generation = next.generation;
        state.snapshot = None;
        state.cooldown_until = vec![None; next.providers.len()];
        *live = Arc::new(next);
        true
    }

    /// The providers after asking the source for the current settings.
    async fn synced(&self) -> Arc<Live> {
        if let Some(source) = self.source.get()
            && let Some(settings) = source().await
        {
            self.apply(settings);
        }
        self.current()
    }

    /// The connection settings in use, checked against the source first.
    pub async fn settings(&self) -> Arc<ProviderSettings> {
        self.synced().await.settings.clone()
    }

    /// Whether providers of `kind` are switched on.
    pub async fn enabled(&self, kind: Kind) -> bool {
        let settings = self.settings().await;
        match kind {
            Kind::OpenAi => settings.openai_enabled,
            Kind::Ollama => settings.ollama_enabled,
        }
    }

    /// The merged upstream list. `refresh` waits for a new fetch (shared with concurrent callers);
    /// otherwise a cached list is returned at once, refreshed in the background when stale.
    pub async fn models(self: &Arc<Self>, refresh: bool) -> Arc<Vec<Value>> {
        let live = self.synced().await;
        if live.providers.is_empty() {
            return Arc::new(Vec::new());
        }
        let asked = Instant::now();
        if !refresh {
            let mut state = self.state();
            if state.generation == live.generation
                && let Some(snapshot) = &state.snapshot
            {
                let models = snapshot.models.clone();
                if snapshot.fetched_at.elapsed() >= self.config.cache_ttl && !state.refreshing {
                    state.refreshing = true;
                    let this = self.clone();
                    tokio::spawn(async move { this.refresh_in_background().await });
                }
                return models;
            }
        }
        let _flight = self.flight.lock().await;
        // Someone else fetched while this caller waited: share their answer.
        {
            let state = self.state();
            if state.generation == live.generation
                && let Some(snapshot) = &state.snapshot
                && (!refresh || snapshot.fetched_at >= asked)
            {
                return snapshot.models.clone();
            }
        }
        self.fetch_and_store(&live).await
    }

    async fn refresh_in_background(self: Arc<Self>) {
        /// Clears the flag however the task ends.
        struct Done<'a>(&'a Upstream);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.state().refreshing = false;
            }
        }
        let _done = Done(&self);
        let _flight = self.flight.lock().await;
        let live = self.current();
        let fresh = {
            let state = self.state();
            state.generation != live.generation
                || state.snapshot.as_ref().is_some_and(|s| s.fetched_at.elapsed() < self.config.cache_ttl)
        };
        if !fresh {
            self.fetch_and_store(&live).await;
        }
    }

    /// Asks every provider of `live` not cooling down, concurrently; stores (when `live` is
    /// still in use) and returns the merged list.
    async fn fetch_and_store(&self, live: &Live) -> Arc<Vec<Value>> {
        let now = Instant::now();
        let skip: Vec<bool> = {
            let state = self.state();
            (0..live.providers.len())
                .map(|i| {
                    state.generation == live.generation
                        && state.cooldown_until.get(i).copied().flatten().is_some_and(|u| u > now)
                })
                .collect()
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (i, provider) in live.providers.iter().enumerate() {
            if skip[i] {
                tracing::debug!(provider = provider.kind.as_str(), url = %redact_url(&provider.connection.url),
                    "model list provider cooling down; left out");
                continue;
            }
            if !provider.connection.enabled {
                continue;
            }
            let client = self.client.clone();
            let provider = provider.clone();
            let timeout = self.config.timeout;
            tasks.spawn(async move {
                let result = listed(&client, &provider, timeout).await;
                (i, result)
            });
        }
        let mut results: Vec<Option<Vec<RawModel>>> = vec![None; live.providers.len()];
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, result)) = joined else { continue };
            let provider = &live.providers[i];
            match result {
                Ok(models) => {
                    tracing::debug!(provider = provider.kind.as_str(), url = %redact_url(&provider.connection.url),
                        count = models.len(), "model list fetched");
                    results[i] = Some(models);
                }
                Err(error) => {
                    tracing::warn!(provider = provider.kind.as_str(), url = %redact_url(&provider.connection.url),
                        %error, cooldown_secs = self.config.cooldown.as_secs_f64(),
                        "model list provider skipped");
                    failed.push(i);
                }
            }
        }
        let mut openai_lists = Vec::new();
        let mut ollama_lists = Vec::new();
        for (i, models) in results.into_iter().enumerate() {
            let Some(models) = models else { continue };
            let p = &live.providers[i];
            match p.kind {
                Kind::OpenAi => openai_lists.push((p.index, &p.connection, models)),
                Kind::Ollama => ollama_lists.push((p.index, &p.connection, models)),
            }
        }
        let mut models = openai::merge(openai_lists);
        models.extend(ollama::merge(ollama_lists));
        let models = Arc::new(models);
        let mut state = self.state();
        if state.generation != live.generation {
            // The connections changed meanwhile: this list is of the old ones.
            return models;
        }
        let done = Instant::now();
        for (i, until) in state.cooldown_until.iter_mut().enumerate() {
            if failed.contains(&i) {
                *until = Some(done + self.config.cooldown);
            } else if !skip[i] {
                *until = None;
            }
        }
        state.snapshot = Some(Snapshot { models: models.clone(), fetched_at: done });
        models
    }
}

/// A reqwest client with the configured TLS, no redirects, and `timeout` for every request.
fn http_client(config: &UpstreamConfig, timeout: Option<Duration>) -> AppResult<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("duet/", env!("CARGO_PKG_VERSION")));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout).connect_timeout(timeout);
    }
    match &config.tls {
        Tls::Verify => {}
        Tls::NoVerify => builder = builder.tls_danger_accept_invalid_certs(true),
        Tls::CaBundle(path, pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| AppError::internal(format!("CA bundle {}: {e}", path.display())))?;
            builder = builder.tls_certs_merge(certs);
        }
    }
    builder.build().map_err(|e| AppError::internal(format!("upstream HTTP client: {e}")))
}

/// One provider's model objects with its connection's settings applied (a fixed list of
/// `model_ids` instead of asking an OpenAI-compatible provider, only those `model_ids` of an
/// Ollama one, `tags` on each), or why there are none.
async fn listed(
    client: &reqwest::Client,
    provider: &Provider,
    timeout: Duration,
) -> Result<Vec<RawModel>, String> {
    let c = &provider.connection;
    let mut models = if provider.kind == Kind::OpenAi && !c.model_ids.is_empty() {
        c.model_ids
            .iter()
            .filter_map(|id| {
                json!({"id": id, "name": id, "owned_by": "openai", "openai": {"id": id}, "urlIdx": provider.index})
                    .as_object()
                    .cloned()
            })
            .collect()
    } else {
        fetch(client, provider, timeout).await?
    };
    if provider.kind == Kind::Ollama && !c.model_ids.is_empty() {
        models.retain(|m| {
            m.get("model").and_then(Value::as_str).is_some_and(|id| c.model_ids.iter().any(|w| w == id))
        });
    }
    if let Some(tags) = &c.tags {
        for m in &mut models {
            m.insert("tags".into(), tags.clone());
        }
    }
    Ok(models)
}

/// One provider's model objects as it lists them, or why there are none.
async fn fetch(
    client: &reqwest::Client,
    provider: &Provider,
    timeout: Duration,
) -> Result<Vec<RawModel>, String> {
    let mut request = client.get(provider.list_url());
    if !provider.connection.key.is_empty() {
        request = request.bearer_auth(&provider.connection.key);
    }
    let answer = async {
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {}", status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err(format!("answer larger than {MAX_BODY} bytes"));
            }
        }
        serde_json::from_slice::<Value>(&body).map_err(|e| format!("answer is not JSON: {e}"))
    };
    let body = tokio::time::timeout(timeout, answer)
        .await
        .map_err(|_| format!("no answer within {:.1} s", timeout.as_secs_f64()))??;
    match provider.kind {
        Kind::OpenAi => openai::parse(body),
        Kind::Ollama => ollama::parse(body),
    }
}

/// A reqwest error and its causes, without the URL (which may carry credentials).
pub(crate) fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
