//! `GET/POST /openai/config(/update)` and `GET/POST /ollama/config(/update)` (admin): the posted
//! form checked as pydantic checks `OpenAIConfigForm` / `OllamaConfigForm` (every field error
//! reported at once), keys padded or cut to the number of URLs, per-connection settings kept
//! only under an index of a URL, the keys written in one transaction and applied at once.

use serde_json::{Map, Value, json};

use super::view::{OllamaConfigView, OpenAiConfigView};
use super::{
    OLLAMA_CONFIGS, OLLAMA_ENABLE, OLLAMA_URLS, OPENAI_CONFIGS, OPENAI_ENABLE, OPENAI_KEYS, OPENAI_URLS,
    apply_now,
};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::form::{Fields, Loc, Source};
use crate::store;

/// `bool | None = None`: absent and null are `None`; pydantic's lax booleans otherwise.
fn opt_flag(f: &mut Fields, form: &Map<String, Value>, name: &str) -> Option<bool> {
    match form.get(name) {
        None | Some(Value::Null) => None,
        Some(v) => f.lax_bool(v, name),
    }
}

/// `list[str]`, required.
fn text_list(f: &mut Fields, form: &Map<String, Value>, name: &str) -> Vec<String> {
    let Some(list) = f.array(form, Loc::root(), name) else { return Vec::new() };
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(s) => out.push(s.to_string()),
            None => f.string_type(Loc::from(name).at(i), v),
        }
    }
    out
}

/// The entries of `configs` keyed by the index of one of `count` URLs.
fn by_index(configs: Map<String, Value>, count: usize) -> Map<String, Value> {
    configs
        .into_iter()
        .filter(|(k, _)| k.parse::<usize>().is_ok_and(|i| i < count && *k == i.to_string()))
        .collect()
}

/// A checked `OpenAIConfigForm`, normalised as the reference stores it.
struct OpenAiForm {
    enable: Option<bool>,
    urls: Vec<String>,
    keys: Vec<String>,
    configs: Map<String, Value>,
}

impl OpenAiForm {
    fn read(body: &Value) -> AppResult<OpenAiForm> {
        let form = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let enable = opt_flag(&mut f, form, "ENABLE_OPENAI_API");
        let urls = text_list(&mut f, form, "OPENAI_API_BASE_URLS");
        let mut keys = text_list(&mut f, form, "OPENAI_API_KEYS");
        let configs = f.object(form, Loc::root(), "OPENAI_API_CONFIGS");
        f.finish()?;
        keys.resize(urls.len(), String::new());
        let configs = by_index(configs.unwrap_or_default(), urls.len());
        Ok(OpenAiForm { enable, urls, keys, configs })
    }
}

/// A checked `OllamaConfigForm`.
struct OllamaForm {
    enable: Option<bool>,
    urls: Vec<String>,
    configs: Map<String, Value>,
}

impl OllamaForm {
    fn read(body: &Value) -> AppResult<OllamaForm> {
        let form = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let enable = opt_flag(&mut f, form, "ENABLE_OLLAMA_API");
        let urls = text_list(&mut f, form, "OLLAMA_BASE_URLS");
        let configs = f.object(form, Loc::root(), "OLLAMA_API_CONFIGS");
        f.finish()?;
        let configs = by_index(configs.unwrap_or_default(), urls.len());
        Ok(OllamaForm { enable, urls, configs })
    }
}

/// Writes `values` in one transaction and applies the connections on this instance.
async fn store_all(app: &App, values: Vec<(String, Value)>) -> AppResult<()> {
    let mut tx = app.db.begin().await?;
    store::settings::set_many(&mut tx, &values, store::now()).await?;
    tx.commit().await?;
    app.db.settings_changed();
    apply_now(app).await
}

/// `GET /openai/config` (admin).
pub async fn openai_config(app: &App, caller: &Caller) -> AppResult<OpenAiConfigView> {
    caller.require_admin()?;
    Ok(OpenAiConfigView::stored(&*store::settings::all_cached(&app.db).await?))
}

/// `POST /openai/config/update` (admin): answers the form as stored.
pub async fn update_openai_config(app: &App, caller: &Caller, body: &Value) -> AppResult<OpenAiConfigView> {
    caller.require_admin()?;
    let form = OpenAiForm::read(body)?;
    store_all(
        app,
        vec![
            (OPENAI_ENABLE.into(), json!(form.enable)),
            (OPENAI_URLS.into(), json!(form.urls)),
            (OPENAI_KEYS.into(), json!(form.keys)),
            (OPENAI_CONFIGS.into(), Value::Object(form.configs.clone())),
        ],
    )
    .await?;
    tracing::info!(enabled = ?form.enable, base_url_count = form.urls.len(), "OpenAI connections updated");
    Ok(OpenAiConfigView {
        enable_openai_api: form.enable,
        openai_api_base_urls: form.urls,
        openai_api_keys: form.keys,
        openai_api_configs: form.configs,
    })
}

/// `GET /ollama/config` (admin).
pub async fn ollama_config(app: &App, caller: &Caller) -> AppResult<OllamaConfigView> {
    caller.require_admin()?;
    Ok(OllamaConfigView::stored(&*store::settings::all_cached(&app.db).await?))
}

/// `POST /ollama/config/update` (admin): answers the form as stored.
pub async fn update_ollama_config(app: &App, caller: &Caller, body: &Value) -> AppResult<OllamaConfigView> {
    caller.require_admin()?;
    let form = OllamaForm::read(body)?;
    store_all(
        app,
        vec![
            (OLLAMA_ENABLE.into(), json!(form.enable)),
            (OLLAMA_URLS.into(), json!(form.urls)),
            (OLLAMA_CONFIGS.into(), Value::Object(form.configs.clone())),
        ],
    )
    .await?;
    tracing::info!(enabled = ?form.enable, base_url_count = form.urls.len(), "Ollama connections updated");
    Ok(OllamaConfigView {
        enable_ollama_api: form.enable,
        ollama_base_urls: form.urls,
        ollama_api_configs: form.configs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_urls_and_configs_their_indexes() {
        let f = OpenAiForm::read(&json!({
            "OPENAI_API_BASE_URLS": ["http://a", "http://b"],
            "OPENAI_API_KEYS": ["k1", "k2", "k3"],
            "OPENAI_API_CONFIGS": {"0": {"prefix_id": "a"}, "2": {}, "http://b": {}, "01": {}},
        }))
        .expect("form");
        assert_eq!(f.enable, None);
        assert_eq!(f.keys, ["k1", "k2"]);
        assert_eq!(Value::Object(f.configs), json!({"0": {"prefix_id": "a"}}));
        let f = OpenAiForm::read(&json!({"ENABLE_OPENAI_API": "yes", "OPENAI_API_BASE_URLS": ["http://a"],
            "OPENAI_API_KEYS": [], "OPENAI_API_CONFIGS": {}}))
        .expect("form");
        assert_eq!((f.enable, f.keys), (Some(true), vec![String::new()]));
    }

    #[test]
    fn every_field_error_is_reported_in_pydantics_shape() {
        let e = OpenAiForm::read(&json!({"ENABLE_OPENAI_API": "maybe", "OPENAI_API_BASE_URLS": ["ok", 3],
            "OPENAI_API_CONFIGS": []}))
        .map(|_| ())
        .expect_err("invalid");
        let detail = e.body()["detail"].clone();
        let got: Vec<(String, Value)> = detail
            .as_array()
            .expect("list")
            .iter()
            .map(|d| (d["type"].as_str().unwrap_or("").to_string(), d["loc"].clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("bool_parsing".to_string(), json!(["body", "ENABLE_OPENAI_API"])),
                ("string_type".to_string(), json!(["body", "OPENAI_API_BASE_URLS", 1])),
                ("missing".to_string(), json!(["body", "OPENAI_API_KEYS"])),
                ("dict_type".to_string(), json!(["body", "OPENAI_API_CONFIGS"])),
            ]
        );
        assert!(OllamaForm::read(&json!([1])).is_err());
        let e = OllamaForm::read(&json!({"OLLAMA_BASE_URLS": "http://o", "OLLAMA_API_CONFIGS": {}}))
            .map(|_| ())
            .expect_err("invalid");
        assert_eq!(e.body()["detail"][0]["type"], "list_type");
    }
}
