//! The provider connections over GraphQL (admin): `openaiConfig`, `ollamaConfig` and their
//! `update…` mutations. Each resolver calls the service function its REST twin
//! (`/openai/config`, `/ollama/config`, `…/config/update`) calls, with the arguments put back into
//! the REST form, so checks, texts and the stored result are the REST ones.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject};
use serde_json::{Map, Value, json};

use super::error::Gql;
use super::types::{caller, state};
use crate::service::connections::{self as svc, OllamaConfigView, OpenAiConfigView};

#[derive(Default)]
pub struct ConnectionQuery;

#[derive(Default)]
pub struct ConnectionMutation;

/// The OpenAI-compatible connections (`GET /openai/config`).
#[derive(SimpleObject)]
pub struct OpenaiConfig {
    /// `null` when it was stored without a value (the connections are then off).
    pub enable_openai_api: Option<bool>,
    pub openai_api_base_urls: Vec<String>,
    /// One per URL, by position.
    pub openai_api_keys: Vec<String>,
    /// Per connection, keyed by its index.
    pub openai_api_configs: Json<Map<String, Value>>,
}

impl From<OpenAiConfigView> for OpenaiConfig {
    fn from(v: OpenAiConfigView) -> Self {
        OpenaiConfig {
            enable_openai_api: v.enable_openai_api,
            openai_api_base_urls: v.openai_api_base_urls,
            openai_api_keys: v.openai_api_keys,
            openai_api_configs: Json(v.openai_api_configs),
        }
    }
}

/// The Ollama connections (`GET /ollama/config`).
#[derive(SimpleObject)]
pub struct OllamaConfig {
    /// `null` when it was stored without a value (the connections are then off).
    pub enable_ollama_api: Option<bool>,
    pub ollama_base_urls: Vec<String>,
    /// Per connection, keyed by its index (an Ollama key lives here).
    pub ollama_api_configs: Json<Map<String, Value>>,
}

impl From<OllamaConfigView> for OllamaConfig {
    fn from(v: OllamaConfigView) -> Self {
        OllamaConfig {
            enable_ollama_api: v.enable_ollama_api,
            ollama_base_urls: v.ollama_base_urls,
            ollama_api_configs: Json(v.ollama_api_configs),
        }
    }
}

/// `OpenAIConfigForm`: keys are padded or cut to the URLs, settings kept under URL indexes only.
#[derive(InputObject)]
pub struct OpenaiConfigInput {
    pub enable_openai_api: Option<bool>,
    pub openai_api_base_urls: Vec<String>,
    pub openai_api_keys: Vec<String>,
    /// A JSON object keyed by connection index.
    pub openai_api_configs: Json<Value>,
}

/// `OllamaConfigForm`: settings kept under URL indexes only.
#[derive(InputObject)]
pub struct OllamaConfigInput {
    pub enable_ollama_api: Option<bool>,
    pub ollama_base_urls: Vec<String>,
    /// A JSON object keyed by connection index.
    pub ollama_api_configs: Json<Value>,
}

#[Object]
impl ConnectionQuery {
    /// The OpenAI-compatible connections, keys included (admin).
    async fn openai_config(&self, ctx: &Context<'_>) -> async_graphql::Result<OpenaiConfig> {
        Ok(svc::openai_config(state(ctx), caller(ctx)).await.gql()?.into())
    }

    /// The Ollama connections (admin).
    async fn ollama_config(&self, ctx: &Context<'_>) -> async_graphql::Result<OllamaConfig> {
        Ok(svc::ollama_config(state(ctx), caller(ctx)).await.gql()?.into())
    }
}

#[Object]
impl ConnectionMutation {
    /// Replaces the OpenAI-compatible connections (admin); applied at once on every instance.
    async fn update_openai_config(
        &self,
        ctx: &Context<'_>,
        input: OpenaiConfigInput,
    ) -> async_graphql::Result<OpenaiConfig> {
        let body = json!({
            "ENABLE_OPENAI_API": input.enable_openai_api,
            "OPENAI_API_BASE_URLS": input.openai_api_base_urls,
            "OPENAI_API_KEYS": input.openai_api_keys,
            "OPENAI_API_CONFIGS": input.openai_api_configs.0,
        });
        Ok(svc::update_openai_config(state(ctx), caller(ctx), &body).await.gql()?.into())
    }

    /// Replaces the Ollama connections (admin); applied at once on every instance.
    async fn update_ollama_config(
        &self,
        ctx: &Context<'_>,
        input: OllamaConfigInput,
    ) -> async_graphql::Result<OllamaConfig> {
        let body = json!({
            "ENABLE_OLLAMA_API": input.enable_ollama_api,
            "OLLAMA_BASE_URLS": input.ollama_base_urls,
            "OLLAMA_API_CONFIGS": input.ollama_api_configs.0,
        });
        Ok(svc::update_ollama_config(state(ctx), caller(ctx), &body).await.gql()?.into())
    }
}
