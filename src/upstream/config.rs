//! The upstream variables: which OpenAI-compatible and Ollama servers to talk to (with their
//! per-connection settings), the model-list and chat-completion timeouts, TLS verification, and
//! the model-list cache. The connections of the environment only seed the stored connection
//! settings (`service::connections`); `ProviderSettings` is what the providers are built from.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::{ConfigError, redact_url};

/// Where OpenAI's own API lives; the default connection when only a key is configured.
pub const OPENAI_DEFAULT_URL: &str = "https://api.openai.com/v1";
/// Where a local Ollama listens by default.
pub const OLLAMA_DEFAULT_URL: &str = "http://localhost:11434";

/// One provider connection.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// Base URL without a trailing slash.
    pub url: String,
    /// Bearer key; empty = no `Authorization` header.
    pub key: String,
    /// `prefix_id` of the connection's entry in `OPENAI_API_CONFIGS` / `OLLAMA_API_CONFIGS`: its
    /// models are listed as `{prefix}.{id}`, and the prefix is stripped again before a request.
    pub prefix_id: Option<String>,
    /// `enable` of its entry (default true): `false` leaves its models out of the list.
    pub enabled: bool,
    /// `model_ids` of its entry: an OpenAI-compatible connection lists these without asking the
    /// provider; an Ollama connection lists only these of its models.
    pub model_ids: Vec<String>,
    /// `tags` of its entry, set on each of its models.
    pub tags: Option<Value>,
}

impl Connection {
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        Connection {
            url: url.into(),
            key: key.into(),
            prefix_id: None,
            enabled: true,
            model_ids: Vec::new(),
            tags: None,
        }
    }

    /// A listed id as this connection knows it (the prefix taken off, as the reference does).
    pub fn strip_prefix<'a>(&self, id: &'a str) -> &'a str {
        match &self.prefix_id {
            Some(prefix) if !prefix.is_empty() => {
                id.strip_prefix(prefix.as_str()).and_then(|r| r.strip_prefix('.')).unwrap_or(id)
            }
            _ => id,
        }
    }

    /// An id as the connection lists it, prefixed when it has a prefix.
    pub fn prefixed(&self, id: &str) -> String {
        match &self.prefix_id {
            Some(prefix) if !prefix.is_empty() => format!("{prefix}.{id}"),
            _ => id.to_string(),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &redact_url(&self.url))
            .field("key", &if self.key.is_empty() { "<none>" } else { "<set>" })
            .field("prefix_id", &self.prefix_id)
            .field("enabled", &self.enabled)
            .field("model_ids", &self.model_ids.len())
            .finish()
    }
}

/// Per-connection settings as given (`OPENAI_API_CONFIGS`, `OLLAMA_API_CONFIGS`): a JSON object
/// keyed by the connection's index or URL. Its `Debug` names only the keys (an entry may hold a
/// key).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiConfigs(pub Map<String, Value>);

impl std::fmt::Debug for ApiConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The connections the providers are built from: the stored connection settings (seeded from
/// the environment), read the reference's way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSettings {
    pub openai_enabled: bool,
    pub openai: Vec<Connection>,
    pub ollama_enabled: bool,
    pub ollama: Vec<Connection>,
}

/// OpenAI-compatible connections from stored lists: keys paired with URLs by position (missing
/// keys are empty, extra ones unused), then each connection's entry of `configs`.
pub fn openai_connections(urls: &[String], keys: &[String], configs: &Map<String, Value>) -> Vec<Connection> {
    let mut connections: Vec<Connection> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            Connection::new(url.trim().trim_end_matches('/'), keys.get(i).cloned().unwrap_or_default())
        })
        .collect();
    configure(&mut connections, configs);
    connections
}

/// Ollama connections from stored lists (their keys live in `configs`).
pub fn ollama_connections(urls: &[String], configs: &Map<String, Value>) -> Vec<Connection> {
    openai_connections(urls, &[], configs)
}

/// How provider certificates are checked (`AIOHTTP_CLIENT_SESSION_SSL`).
#[derive(Clone, PartialEq, Eq)]
pub enum Tls {
    /// The platform's trust store.
    Verify,
    /// No verification at all (`false`).
    NoVerify,
    /// The platform's trust store plus the certificates of a PEM bundle (a path).
    CaBundle(PathBuf, Vec<u8>),
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Verify => f.write_str("Verify"),
            Tls::NoVerify => f.write_str("NoVerify"),
            Tls::CaBundle(path, _) => write!(f, "CaBundle({})", path.display()),
        }
    }
}

/// The upstream configuration (part of `Config`). The connections are the values the stored
/// connection settings start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// `ENABLE_OPENAI_API` (default true).
    pub openai_enabled: bool,
    /// `OPENAI_API_BASE_URLS` with `OPENAI_API_KEYS` (`;`-separated, paired by position).
    pub openai: Vec<Connection>,
    /// `OPENAI_API_CONFIGS` as given.
    pub openai_configs: ApiConfigs,
    /// `ENABLE_OLLAMA_API` (default true).
    pub ollama_enabled: bool,
    /// `OLLAMA_BASE_URLS` (`;`-separated).
    pub ollama: Vec<Connection>,
    /// `OLLAMA_API_CONFIGS` as given.
    pub ollama_configs: ApiConfigs,
    /// `AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST`: the whole request to one provider (default 10 s).
    pub timeout: Duration,
    /// `AIOHTTP_CLIENT_TIMEOUT`: the whole chat-completion request, its streamed answer included.
    /// Unset, `0` or negative: no limit; a value that is not a number: 300 s (as the reference).
    pub chat_timeout: Option<Duration>,
    /// `AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT`: the longest silence of a streamed answer (before its
    /// head and between chunks). Unset, invalid, `0` or negative: no limit.
    pub stream_idle_timeout: Option<Duration>,
    pub tls: Tls,
    /// `MODELS_CACHE_TTL`: how long a fetched list counts as fresh (default 1 s). Older lists are
    /// still served while one background fetch replaces them.
    pub cache_ttl: Duration,
    /// `MODELS_UPSTREAM_COOLDOWN`: how long a provider that failed is left out (default 30 s).
    pub cooldown: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            openai_enabled: false,
            openai: Vec::new(),
            openai_configs: ApiConfigs::default(),
            ollama_enabled: false,
            ollama: Vec::new(),
            ollama_configs: ApiConfigs::default(),
            timeout: Duration::from_secs(10),
            chat_timeout: None,
            stream_idle_timeout: None,
            tls: Tls::Verify,
            cache_ttl: Duration::from_secs(1),
            cooldown: Duration::from_secs(30),
        }
    }
}

fn parse_bool(var: &str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(var, format!("expected true or false, got {v:?}"))),
    }
}

fn seconds(
    var: &str,
    value: Option<String>,
    default: f64,
    allow_zero: bool,
) -> Result<Duration, ConfigError> {
    let Some(v) = value else { return Ok(Duration::from_secs_f64(default)) };
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (n > 0.0 || (allow_zero && n == 0.0)) && n < 1e9 => {
            Ok(Duration::from_secs_f64(n))
        }
        _ => Err(ConfigError::new(
            var,
            format!(
                "expected a {} number of seconds, got {v:?}",
                if allow_zero { "non-negative" } else { "positive" }
            ),
        )),
    }
}

/// Seconds as the reference reads its aiohttp timeouts: unset ⇒ `None`; a number ≤ 0 ⇒ `None`
/// (no limit); fractions are accepted; anything else ⇒ `invalid`.
fn optional_seconds(value: Option<String>, invalid: Option<Duration>) -> Option<Duration> {
    let v = value?;
    match v.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Some(Duration::from_secs_f64(n.min(1e9))),
        Ok(n) if n.is_finite() => None,
        _ => invalid,
    }
}

/// Per-connection settings (`OPENAI_API_CONFIGS`, `OLLAMA_API_CONFIGS`): a JSON object keyed by
/// the connection's index (`"0"`, `"1"`, …) or, as older versions did, by its URL.
fn api_configs(var: &str, value: Option<String>) -> Result<Map<String, Value>, ConfigError> {
    let Some(raw) = value else { return Ok(Map::new()) };
    match serde_json::from_str::<Value>(&raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ConfigError::new(var, "must be a JSON object keyed by connection index")),
        Err(e) => Err(ConfigError::new(var, format!("is not valid JSON: {e}"))),
    }
}

/// Applies the settings of `configs` to each connection: `prefix_id`, `enable`, `model_ids`,
/// `tags`, and `key` where the connection has none (Ollama keys live only there).
fn configure(connections: &mut [Connection], configs: &Map<String, Value>) {
    for (i, c) in connections.iter_mut().enumerate() {
        let Some(entry) = configs.get(&i.to_string()).or_else(|| configs.get(&c.url)) else { continue };
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        c.prefix_id = text("prefix_id").map(str::to_string);
        if c.key.is_empty()
            && let Some(key) = text("key")
        {
            c.key = key.to_string();
        }
        c.enabled = entry.get("enable").and_then(Value::as_bool).unwrap_or(true);
        c.model_ids = entry
            .get("model_ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        c.tags = entry.get("tags").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())).cloned();
    }
}

fn split(text: &str) -> Vec<String> {
    text.split(';').map(|s| s.trim().to_string()).collect()
}

/// A base URL: `http(s)://…`, trailing slashes removed.
fn base_url(var: &str, url: &str) -> Result<String, ConfigError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !url.chars().any(char::is_whitespace) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::new(
            var,
            format!("expected http:// or https:// URLs separated by `;`, got {:?}", redact_url(url)),
        )),
    }
}

impl UpstreamConfig {
    /// Reads the variables through `get` (set, non-empty values only).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let first = |vars: &[&'static str]| vars.iter().find_map(|v| get(v).map(|value| (*v, value)));

        let openai_enabled = parse_bool("ENABLE_OPENAI_API", get("ENABLE_OPENAI_API"), true)?;
        let keys: Vec<String> =
            first(&["OPENAI_API_KEYS", "OPENAI_API_KEY"]).map(|(_, v)| split(&v)).unwrap_or_default();
        let urls: Vec<String> = match first(&["OPENAI_API_BASE_URLS", "OPENAI_API_BASE_URL"]) {
            Some((var, raw)) => split(&raw)
                .into_iter()
                .map(|u| if u.is_empty() { Ok(OPENAI_DEFAULT_URL.to_string()) } else { base_url(var, &u) })
                .collect::<Result<_, _>>()?,
            // Open WebUI lists api.openai.com by default; without a key that call can only fail.
            None if keys.iter().any(|k| !k.is_empty()) => vec![OPENAI_DEFAULT_URL.to_string()],
            None => Vec::new(),
        };
        let mut openai: Vec<Connection> = urls
            .into_iter()
            .enumerate()
            .map(|(i, url)| Connection::new(url, keys.get(i).cloned().unwrap_or_default()))
            .collect();
        let openai_configs = api_configs("OPENAI_API_CONFIGS", get("OPENAI_API_CONFIGS"))?;
        configure(&mut openai, &openai_configs);

        let ollama_enabled = parse_bool("ENABLE_OLLAMA_API", get("ENABLE_OLLAMA_API"), true)?;
        let mut ollama: Vec<Connection> = match first(&["OLLAMA_BASE_URLS", "OLLAMA_BASE_URL"]) {
            Some((var, raw)) => split(&raw)
                .into_iter()
                .filter(|u| !u.is_empty())
                .map(|u| base_url(var, &u).map(|url| Connection::new(url, "")))
                .collect::<Result<_, _>>()?,
            None => vec![Connection::new(OLLAMA_DEFAULT_URL, "")],
        };
        let ollama_configs = api_configs("OLLAMA_API_CONFIGS", get("OLLAMA_API_CONFIGS"))?;
        configure(&mut ollama, &ollama_configs);

        let timeout =
            match first(&["AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "AIOHTTP_CLIENT_TIMEOUT_OPENAI_MODEL_LIST"]) {
                Some((var, v)) => seconds(var, Some(v), 10.0, false)?,
                None => Duration::from_secs(10),
            };

        let ssl = get("AIOHTTP_CLIENT_SESSION_SSL");
        let tls = match ssl.as_deref().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("true") => match get("AIOHTTP_CLIENT_SSL_CERT_FILE") {
                Some(path) => ca_bundle("AIOHTTP_CLIENT_SSL_CERT_FILE", &path)?,
                None => Tls::Verify,
            },
            Some("false") => Tls::NoVerify,
            Some(_) => ca_bundle("AIOHTTP_CLIENT_SESSION_SSL", ssl.as_deref().unwrap_or_default())?,
        };

        Ok(UpstreamConfig {
            openai_enabled,
            openai,
            openai_configs: ApiConfigs(openai_configs),
            ollama_enabled,
            ollama,
            ollama_configs: ApiConfigs(ollama_configs),
            timeout,
            chat_timeout: optional_seconds(get("AIOHTTP_CLIENT_TIMEOUT"), Some(Duration::from_secs(300))),
            stream_idle_timeout: optional_seconds(get("AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT"), None),
            tls,
            cache_ttl: seconds("MODELS_CACHE_TTL", get("MODELS_CACHE_TTL"), 1.0, true)?,
            cooldown: seconds("MODELS_UPSTREAM_COOLDOWN", get("MODELS_UPSTREAM_COOLDOWN"), 30.0, true)?,
        })
    }
}

fn ca_bundle(var: &str, path: &str) -> Result<Tls, ConfigError> {
    let path = PathBuf::from(path.trim());
    let pem = std::fs::read(&path).map_err(|e| {
        ConfigError::new(
            var,
            format!("expected true, false or a CA bundle file; cannot read {}: {e}", path.display()),
        )
    })?;
    if reqwest::Certificate::from_pem_bundle(&pem).map(|c| c.is_empty()).unwrap_or(true) {
        return Err(ConfigError::new(var, format!("{} holds no PEM certificate", path.display())));
    }
    Ok(Tls::CaBundle(path, pem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<UpstreamConfig, ConfigError> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        UpstreamConfig::from_lookup(&|k| map.get(k).cloned().filter(|v| !v.trim().is_empty()))
    }

    #[test]
    fn defaults_list_local_ollama_and_no_keyless_openai() {
        let c = parse(&[]).expect("defaults");
        assert!(c.openai_enabled && c.ollama_enabled);
        assert!(c.openai.is_empty());
        assert_eq!(c.ollama, vec![Connection::new(OLLAMA_DEFAULT_URL, "")]);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.tls, Tls::Verify);
        let c = parse(&[("OPENAI_API_KEY", "sk-1")]).expect("key only");
        assert_eq!(c.openai, vec![Connection::new(OPENAI_DEFAULT_URL, "sk-1")]);
    }

    #[test]
    fn urls_and_keys_pair_by_position() {
        let c = parse(&[
            ("OPENAI_API_BASE_URLS", "http://a/v1/; ;https://b"),
            ("OPENAI_API_KEYS", "k1;k2;k3;k4"),
            ("OLLAMA_BASE_URLS", "http://o1;http://o2/"),
            ("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "1.5"),
            ("AIOHTTP_CLIENT_SESSION_SSL", "False"),
        ])
        .expect("config");
        let urls: Vec<&str> = c.openai.iter().map(|c| c.url.as_str()).collect();
        assert_eq!(urls, ["http://a/v1", OPENAI_DEFAULT_URL, "https://b"]);
        let keys: Vec<&str> = c.openai.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k2", "k3"]);
        assert_eq!(c.ollama.len(), 2);
        assert_eq!(c.ollama[1].url, "http://o2");
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.tls, Tls::NoVerify);
        assert!(!format!("{c:?}").contains("k1"), "keys never reach Debug output");
    }

    #[test]
    fn chat_timeouts_follow_the_reference() {
        let c = parse(&[]).expect("defaults");
        assert_eq!((c.chat_timeout, c.stream_idle_timeout), (None, None));
        let c = parse(&[("AIOHTTP_CLIENT_TIMEOUT", "12"), ("AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT", "0.5")])
            .expect("set");
        assert_eq!(c.chat_timeout, Some(Duration::from_secs(12)));
        assert_eq!(c.stream_idle_timeout, Some(Duration::from_millis(500)));
        let c = parse(&[("AIOHTTP_CLIENT_TIMEOUT", "soon"), ("AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT", "x")])
            .expect("invalid");
        assert_eq!((c.chat_timeout, c.stream_idle_timeout), (Some(Duration::from_secs(300)), None));
        let c = parse(&[("AIOHTTP_CLIENT_TIMEOUT", "0"), ("AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT", "-3")])
            .expect("off");
        assert_eq!((c.chat_timeout, c.stream_idle_timeout), (None, None));
    }

    #[test]
    fn api_configs_set_prefixes_and_ollama_keys() {
        let c = parse(&[
            ("OPENAI_API_BASE_URLS", "http://a/v1;http://b/v1"),
            ("OPENAI_API_CONFIGS", r#"{"1": {"prefix_id": "b"}, "http://a/v1": {"prefix_id": " "}}"#),
            ("OLLAMA_BASE_URLS", "http://o1"),
            ("OLLAMA_API_CONFIGS", r#"{"0": {"prefix_id": "local", "key": "k"}}"#),
        ])
        .expect("config");
        assert_eq!(c.openai[0].prefix_id, None);
        assert_eq!(c.openai[1].prefix_id.as_deref(), Some("b"));
        assert_eq!(c.openai[1].strip_prefix("b.gpt-4o"), "gpt-4o");
        assert_eq!(c.openai[1].strip_prefix("bgpt"), "bgpt");
        assert_eq!(c.openai[1].prefixed("gpt-4o"), "b.gpt-4o");
        assert_eq!((c.ollama[0].prefix_id.as_deref(), c.ollama[0].key.as_str()), (Some("local"), "k"));
        assert_eq!(parse(&[("OPENAI_API_CONFIGS", "[1]")]).expect_err("e").var, "OPENAI_API_CONFIGS");
        assert_eq!(parse(&[("OLLAMA_API_CONFIGS", "{")]).expect_err("e").var, "OLLAMA_API_CONFIGS");
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(parse(&[("OLLAMA_BASE_URLS", "localhost:11434")]).expect_err("e").var, "OLLAMA_BASE_URLS");
        assert_eq!(parse(&[("ENABLE_OPENAI_API", "maybe")]).expect_err("e").var, "ENABLE_OPENAI_API");
        assert_eq!(
            parse(&[("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "0")]).expect_err("e").var,
            "AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST"
        );
        assert_eq!(parse(&[("MODELS_CACHE_TTL", "-1")]).expect_err("e").var, "MODELS_CACHE_TTL");
        assert_eq!(
            parse(&[("AIOHTTP_CLIENT_SESSION_SSL", "/nonexistent/ca.pem")]).expect_err("e").var,
            "AIOHTTP_CLIENT_SESSION_SSL"
        );
    }
}
