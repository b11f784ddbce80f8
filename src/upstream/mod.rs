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

pub mod chat;
pub mod config;
pub mod convert;
pub mod ollama;
pub mod openai;
pub mod pyjson;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use config::{Connection, Tls, UpstreamConfig};

use crate::config::redact_url;
use crate::error::{AppError, AppResult};

/// One model object as a provider lists it.
pub type RawModel = serde_json::Map<String, Value>;

/// The largest model-list answer read from a provider.
const MAX_BODY: usize = 32 * 1024 * 1024;

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

/// A fetched, merged list.
struct Snapshot {
    models: Arc<Vec<Value>>,
    fetched_at: Instant,
}

struct State {
    snapshot: Option<Snapshot>,
    /// A background refresh is queued or running.
    refreshing: bool,
    /// Per provider: left out until this instant.
    cooldown_until: Vec<Option<Instant>>,
}

/// The provider clients and the model-list cache (one per process, shared by every request).
pub struct Upstream {
    config: UpstreamConfig,
    providers: Vec<Provider>,
    /// For model lists: every request under `AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST`.
    client: reqwest::Client,
    /// For chat completions: no client-wide limit; each request carries its own (see `chat`).
    chat_client: reqwest::Client,
    state: Mutex<State>,
    /// Held by whoever fetches, so fetches never overlap.
    flight: tokio::sync::Mutex<()>,
}

impl Upstream {
    pub fn new(config: &UpstreamConfig) -> AppResult<Arc<Upstream>> {
        let mut providers = Vec::new();
        if config.openai_enabled {
            providers.extend(config.openai.iter().enumerate().map(|(index, c)| Provider {
                kind: Kind::OpenAi,
                index,
                connection: c.clone(),
            }));
        }
        if config.ollama_enabled {
            providers.extend(config.ollama.iter().enumerate().map(|(index, c)| Provider {
                kind: Kind::Ollama,
                index,
                connection: c.clone(),
            }));
        }
        let client = http_client(config, Some(config.timeout))?;
        let chat_client = http_client(config, None)?;
        let count = providers.len();
        Ok(Arc::new(Upstream {
            config: config.clone(),
            providers,
            client,
            chat_client,
            state: Mutex::new(State { snapshot: None, refreshing: false, cooldown_until: vec![None; count] }),
            flight: tokio::sync::Mutex::new(()),
        }))
    }

    /// The configuration the clients were built from.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The merged upstream list. `refresh` waits for a new fetch (shared with concurrent callers);
    /// otherwise a cached list is returned at once, refreshed in the background when stale.
    pub async fn models(self: &Arc<Self>, refresh: bool) -> Arc<Vec<Value>> {
        if self.providers.is_empty() {
            return Arc::new(Vec::new());
        }
        let asked = Instant::now();
        if !refresh {
            let mut state = self.state();
            if let Some(snapshot) = &state.snapshot {
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
        if let Some(snapshot) = &self.state().snapshot
            && (!refresh || snapshot.fetched_at >= asked)
        {
            return snapshot.models.clone();
        }
        self.fetch_and_store().await
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
        let fresh =
            self.state().snapshot.as_ref().is_some_and(|s| s.fetched_at.elapsed() < self.config.cache_ttl);
        if !fresh {
            self.fetch_and_store().await;
        }
    }

    /// Asks every provider not cooling down, concurrently; stores and returns the merged list.
    async fn fetch_and_store(&self) -> Arc<Vec<Value>> {
        let now = Instant::now();
        let skip: Vec<bool> =
            self.state().cooldown_until.iter().map(|until| until.is_some_and(|u| u > now)).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, provider) in self.providers.iter().enumerate() {
            if skip[i] {
                tracing::debug!(provider = provider.kind.as_str(), url = %redact_url(&provider.connection.url),
                    "model list provider cooling down; left out");
                continue;
            }
            let client = self.client.clone();
            let provider = provider.clone();
            let timeout = self.config.timeout;
            tasks.spawn(async move {
                let result = fetch(&client, &provider, timeout).await;
                (i, result)
            });
        }
        let mut results: Vec<Option<Vec<RawModel>>> = vec![None; self.providers.len()];
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, result)) = joined else { continue };
            let provider = &self.providers[i];
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
            let p = &self.providers[i];
            match p.kind {
                Kind::OpenAi => openai_lists.push((p.index, &p.connection, models)),
                Kind::Ollama => ollama_lists.push((p.index, &p.connection, models)),
            }
        }
        let mut models = openai::merge(openai_lists);
        models.extend(ollama::merge(ollama_lists));
        let models = Arc::new(models);
        let mut state = self.state();
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

/// One provider's model objects, or why there are none.
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
