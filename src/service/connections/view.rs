//! What `GET /openai/config` and `GET /ollama/config` (and their updates) answer: the stored
//! connection settings under the reference's field names. Keys are in the answer (admins see
//! them, as in the reference) but never in `Debug` output.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{
    OLLAMA_CONFIGS, OLLAMA_ENABLE, OLLAMA_URLS, OPENAI_CONFIGS, OPENAI_ENABLE, OPENAI_KEYS, OPENAI_URLS,
};

/// The OpenAI-compatible connections.
#[derive(Clone, Serialize, ToSchema)]
pub struct OpenAiConfigView {
    /// `null` when the form was sent without it (the connections are then off).
    #[serde(rename = "ENABLE_OPENAI_API")]
    pub enable_openai_api: Option<bool>,
    #[serde(rename = "OPENAI_API_BASE_URLS")]
    pub openai_api_base_urls: Vec<String>,
    /// One per URL, by position (empty: no `Authorization` header).
    #[serde(rename = "OPENAI_API_KEYS")]
    pub openai_api_keys: Vec<String>,
    /// Per connection, keyed by its index: `enable`, `prefix_id`, `model_ids`, `tags`, …
    #[serde(rename = "OPENAI_API_CONFIGS")]
    #[schema(value_type = Object)]
    pub openai_api_configs: Map<String, Value>,
}

impl std::fmt::Debug for OpenAiConfigView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfigView")
            .field("enable_openai_api", &self.enable_openai_api)
            .field("openai_api_base_urls", &self.openai_api_base_urls.len())
            .field("openai_api_keys", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The Ollama connections.
#[derive(Clone, Serialize, ToSchema)]
pub struct OllamaConfigView {
    /// `null` when the form was sent without it (the connections are then off).
    #[serde(rename = "ENABLE_OLLAMA_API")]
    pub enable_ollama_api: Option<bool>,
    #[serde(rename = "OLLAMA_BASE_URLS")]
    pub ollama_base_urls: Vec<String>,
    /// Per connection, keyed by its index: `enable`, `prefix_id`, `key`, `model_ids`, `tags`, …
    #[serde(rename = "OLLAMA_API_CONFIGS")]
    #[schema(value_type = Object)]
    pub ollama_api_configs: Map<String, Value>,
}

impl std::fmt::Debug for OllamaConfigView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OllamaConfigView")
            .field("enable_ollama_api", &self.enable_ollama_api)
            .field("ollama_base_urls", &self.ollama_base_urls.len())
            .finish_non_exhaustive()
    }
}

/// A stored list as texts (other entries shown as their JSON text).
fn texts(values: &HashMap<String, Value>, key: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    values.get(key).and_then(Value::as_array).map(|l| l.iter().map(text).collect()).unwrap_or_default()
}

fn object(values: &HashMap<String, Value>, key: &str) -> Map<String, Value> {
    values.get(key).and_then(Value::as_object).cloned().unwrap_or_default()
}

impl OpenAiConfigView {
    pub(super) fn stored(values: &HashMap<String, Value>) -> Self {
        OpenAiConfigView {
            enable_openai_api: values.get(OPENAI_ENABLE).and_then(Value::as_bool),
            openai_api_base_urls: texts(values, OPENAI_URLS),
            openai_api_keys: texts(values, OPENAI_KEYS),
            openai_api_configs: object(values, OPENAI_CONFIGS),
        }
    }
}

impl OllamaConfigView {
    pub(super) fn stored(values: &HashMap<String, Value>) -> Self {
        OllamaConfigView {
            enable_ollama_api: values.get(OLLAMA_ENABLE).and_then(Value::as_bool),
            ollama_base_urls: texts(values, OLLAMA_URLS),
            ollama_api_configs: object(values, OLLAMA_CONFIGS),
        }
    }
}
