//! The provider connections as admin settings (the reference's `openai.*` and `ollama.*` config
//! keys): seeded from the environment as `ENABLE_PERSISTENT_CONFIG` says, edited through
//! `/openai/config` and `/ollama/config` (`form`), read back into the `ProviderSettings` the
//! upstream clients are built from, and the providers' own model lists (`lists`).
//!
//! Every instance's `Upstream` asks for the stored settings before it serves a model list (a read
//! of the settings cache, so a change made elsewhere shows within `SETTINGS_CACHE_TTL`); a change
//! made here is applied at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::config::Config;
use crate::error::AppResult;
use crate::store::{self, Db};
use crate::upstream::config::{ollama_connections, openai_connections};
use crate::upstream::{ProviderSettings, Source, Upstream, UpstreamConfig};

mod form;
mod lists;
mod view;

pub use form::{ollama_config, openai_config, update_ollama_config, update_openai_config};
pub use lists::{ollama_tags, openai_models, url_index};
pub use view::{OllamaConfigView, OpenAiConfigView};

pub const OPENAI_ENABLE: &str = "openai.enable";
pub const OPENAI_URLS: &str = "openai.api_base_urls";
pub const OPENAI_KEYS: &str = "openai.api_keys";
pub const OPENAI_CONFIGS: &str = "openai.api_configs";
pub const OLLAMA_ENABLE: &str = "ollama.enable";
pub const OLLAMA_URLS: &str = "ollama.base_urls";
pub const OLLAMA_CONFIGS: &str = "ollama.api_configs";

/// The values the connection keys start with, from the environment.
pub fn seed_values(c: &UpstreamConfig) -> Vec<(&'static str, Value)> {
    let urls =
        |cs: &[crate::upstream::Connection]| -> Vec<String> { cs.iter().map(|c| c.url.clone()).collect() };
    vec![
        (OPENAI_ENABLE, json!(c.openai_enabled)),
        (OPENAI_URLS, json!(urls(&c.openai))),
        (OPENAI_KEYS, json!(c.openai.iter().map(|c| c.key.clone()).collect::<Vec<_>>())),
        (OPENAI_CONFIGS, Value::Object(c.openai_configs.0.clone())),
        (OLLAMA_ENABLE, json!(c.ollama_enabled)),
        (OLLAMA_URLS, json!(urls(&c.ollama))),
        (OLLAMA_CONFIGS, Value::Object(c.ollama_configs.0.clone())),
    ]
}

/// A stored list of texts (anything else in it reads as an empty text, keeping the positions).
fn texts(values: &HashMap<String, Value>, key: &str) -> Vec<String> {
    values
        .get(key)
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

fn object(values: &HashMap<String, Value>, key: &str) -> Map<String, Value> {
    values.get(key).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The connections the stored values describe, read as the reference reads them at run time: a
/// provider kind is on only when its `enable` is `true`.
pub fn settings_from(values: &HashMap<String, Value>) -> ProviderSettings {
    let on = |key: &str| values.get(key).and_then(Value::as_bool).unwrap_or(false);
    ProviderSettings {
        openai_enabled: on(OPENAI_ENABLE),
        openai: openai_connections(
            &texts(values, OPENAI_URLS),
            &texts(values, OPENAI_KEYS),
            &object(values, OPENAI_CONFIGS),
        ),
        ollama_enabled: on(OLLAMA_ENABLE),
        ollama: ollama_connections(&texts(values, OLLAMA_URLS), &object(values, OLLAMA_CONFIGS)),
    }
}

/// The last stored values read and the settings made of them.
type Memo = Option<(Arc<HashMap<String, Value>>, Arc<ProviderSettings>)>;

/// The current settings: from the settings cache, converted once per read of it.
async fn current(db: &Db, memo: &Mutex<Memo>) -> Option<Arc<ProviderSettings>> {
    let values = match store::settings::all_cached(db).await {
        Ok(values) => values,
        Err(e) => {
            tracing::warn!(error = %e, "connection settings unreadable; the providers in use are kept");
            return None;
        }
    };
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((seen, settings)) = memo.as_ref()
        && Arc::ptr_eq(seen, &values)
    {
        return Some(settings.clone());
    }
    let settings = Arc::new(settings_from(&values));
    *memo = Some((values, settings.clone()));
    Some(settings)
}

/// Seeds the connection keys (the environment wins over stored values with
/// `ENABLE_PERSISTENT_CONFIG=false`), then makes `upstream` take its connections from them.
pub async fn init(db: &Db, config: &Config, upstream: &Upstream) -> AppResult<()> {
    let now = store::now();
    for (key, value) in seed_values(&config.upstream) {
        if config.enable_persistent_config {
            store::settings::seed(db, key, &value, now).await?;
        } else {
            store::settings::set(db, key, &value, now).await?;
        }
    }
    db.settings_changed();
    let memo: Arc<Mutex<Memo>> = Arc::new(Mutex::new(None));
    let source_db = db.clone();
    let source: Source = Arc::new(move || {
        let (db, memo) = (source_db.clone(), memo.clone());
        Box::pin(async move { current(&db, &memo).await })
    });
    if let Some(settings) = source().await {
        upstream.apply(settings);
    }
    upstream.attach(source);
    Ok(())
}

/// Applies the stored settings on this instance at once (after a change made here).
async fn apply_now(app: &App) -> AppResult<()> {
    let values = store::settings::all_cached(&app.db).await?;
    app.upstream.apply(Arc::new(settings_from(&values)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, Value)]) -> HashMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn stored_values_become_connections_the_reference_way() {
        let s = settings_from(&values(&[
            (OPENAI_ENABLE, json!(true)),
            (OPENAI_URLS, json!(["http://a/v1/", "http://b/v1", 7])),
            (OPENAI_KEYS, json!(["ka"])),
            (OPENAI_CONFIGS, json!({"1": {"prefix_id": "b", "enable": false, "model_ids": ["m1"]}})),
            (OLLAMA_ENABLE, Value::Null),
            (OLLAMA_URLS, json!(["http://o"])),
            (OLLAMA_CONFIGS, json!({"0": {"key": "ko", "tags": [{"name": "t"}]}})),
        ]));
        assert!(s.openai_enabled);
        let urls: Vec<&str> = s.openai.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(urls, ["http://a/v1", "http://b/v1", ""]);
        let keys: Vec<&str> = s.openai.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["ka", "", ""]);
        assert_eq!(s.openai[1].prefix_id.as_deref(), Some("b"));
        assert!(s.openai[0].enabled && !s.openai[1].enabled);
        assert_eq!(s.openai[1].model_ids, ["m1"]);
        // A null `enable` (a form sent without it) switches the kind off, as in the reference.
        assert!(!s.ollama_enabled);
        assert_eq!(s.ollama[0].key, "ko");
        assert_eq!(s.ollama[0].tags, Some(json!([{"name": "t"}])));
        assert_eq!(settings_from(&HashMap::new()), ProviderSettings::default());
    }

    #[test]
    fn seeds_carry_the_environment_without_losing_positions() {
        let c = UpstreamConfig::from_lookup(&|k| match k {
            "OPENAI_API_BASE_URLS" => Some("http://a/v1;http://b/v1".into()),
            "OPENAI_API_KEYS" => Some("k1".into()),
            "OLLAMA_API_CONFIGS" => Some(r#"{"0": {"key": "ok"}}"#.into()),
            _ => None,
        })
        .expect("config");
        let seeds: HashMap<String, Value> = seed_values(&c).into_iter().map(|(k, v)| (k.into(), v)).collect();
        assert_eq!(seeds[OPENAI_URLS], json!(["http://a/v1", "http://b/v1"]));
        assert_eq!(seeds[OPENAI_KEYS], json!(["k1", ""]));
        assert_eq!(seeds[OLLAMA_URLS], json!(["http://localhost:11434"]));
        assert_eq!(seeds[OLLAMA_CONFIGS], json!({"0": {"key": "ok"}}));
        let s = settings_from(&seeds);
        assert_eq!((s.openai, s.ollama), (c.openai, c.ollama));
    }
}
