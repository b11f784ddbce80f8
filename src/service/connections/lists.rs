//! The providers' own model lists (`GET /openai/models`, `GET /ollama/api/tags`): the merged
//! upstream list of one kind, or (admins, `/{url_idx}`) one connection's answer as it comes, with
//! the reference's texts. Users (not admins, without `BYPASS_MODEL_ACCESS_CONTROL`) see only the
//! models with a stored row they own or hold a read grant on, as the reference's
//! `get_filtered_models`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Source};
use crate::service::policy;
use crate::store;
use crate::upstream::chat::{Body, Failure};
use crate::upstream::direct::Listing;
use crate::upstream::{Kind, pyjson};

/// Model ids api.openai.com lists that cannot chat (left out of its answers).
const UNSUPPORTED_OPENAI_KEYWORDS: &[&str] = &["babbage", "dall-e", "davinci", "embedding", "tts", "whisper"];

/// The `url_idx` path parameter (`int`); a negative one names no connection.
pub fn url_index(raw: Option<&str>) -> AppResult<Option<usize>> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<i64>() {
        Ok(i) => Ok(Some(usize::try_from(i).unwrap_or(usize::MAX))),
        Err(_) => {
            Err(Fields::error(Source::Argument, |f| f.int_parsing(&["path", "url_idx"][..], &json!(raw))))
        }
    }
}

/// The checks every list route starts with: a verified caller, `url_idx` for admins only, the
/// provider kind switched on.
async fn admit<'a>(
    app: &App,
    caller: &'a Caller,
    kind: Kind,
    url_idx: Option<&str>,
) -> AppResult<(&'a Principal, Option<usize>)> {
    let p = caller.require_verified()?;
    let idx = url_index(url_idx)?;
    if idx.is_some() && !p.role.is_admin() {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    if !app.upstream.enabled(kind).await {
        return Err(AppError::unavailable(match kind {
            Kind::OpenAi => ErrorCode::OpenAiDisabled,
            Kind::Ollama => ErrorCode::OllamaDisabled,
        }));
    }
    Ok((p, idx))
}

fn no_connection() -> AppError {
    AppError::with_status(404, ErrorCode::NotFound, "Connection not found")
}

/// Whether the caller's list is cut down to the models they may read.
fn filtered(app: &App, p: &Principal) -> bool {
    p.role.as_str() == "user" && !app.config.bypass_model_access_control
}

/// Of `ids`, those with a stored row the caller owns or holds a read grant on.
async fn readable(app: &App, p: &Principal, ids: Vec<String>) -> AppResult<HashSet<String>> {
    let rows = store::models::by_ids(&app.db, &ids).await?;
    let grants = store::grants::grants_for(&app.db, store::grants::MODEL, &ids).await?;
    let groups = if grants.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await?
    } else {
        HashSet::new()
    };
    Ok(rows
        .into_iter()
        .filter(|row| {
            row.user_id == p.user.id
                || grants.iter().any(|g| {
                    g.resource_id == row.id
                        && g.permission == "read"
                        && policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), &groups)
                })
        })
        .map(|row| row.id)
        .collect())
}

/// The entries of `list` (under `field` of the answer) the caller may read, by `key`.
async fn keep_readable(
    app: &App,
    p: &Principal,
    answer: &mut Value,
    field: &str,
    key: &str,
) -> AppResult<()> {
    let Some(Value::Array(list)) = answer.get_mut(field) else { return Ok(()) };
    let id = |m: &Value| m.get(key).and_then(Value::as_str).map(str::to_string);
    let ok = readable(app, p, list.iter().filter_map(id).collect()).await?;
    list.retain(|m| id(m).is_some_and(|i| ok.contains(&i)));
    Ok(())
}

/// A Python `str()` of a JSON value (how the reference puts a provider's `error` in its text).
fn py_str(v: &Value) -> String {
    fn repr(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("None"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::Number(_) => out.push_str(&pyjson::dumps(v)),
            Value::String(s) => {
                let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
                out.push(quote);
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if c == quote => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
                out.push(quote);
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr(&Value::String(k.clone()), out);
                    out.push_str(": ");
                    repr(item, out);
                }
                out.push('}');
            }
        }
    }
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            repr(other, &mut out);
            out
        }
    }
}

/// One OpenAI-compatible connection's `/models` answer, or the reference's 500.
fn openai_listing(listed: Result<Listing, Failure>, official: bool) -> AppResult<Value> {
    let unexpected = |text: String| {
        AppError::with_status(500, ErrorCode::UpstreamError, format!("Unexpected error: {text}"))
    };
    let Listing { status, body } = listed.map_err(|failure| {
        tracing::warn!(error = %failure, "OpenAI-compatible model list failed");
        AppError::with_status(
            500,
            ErrorCode::ServerConnectionError,
            ErrorCode::ServerConnectionError.message(),
        )
    })?;
    if status != 200 {
        return Err(unexpected(match body {
            Body::Json(Value::Object(m)) if m.contains_key("error") => {
                format!("External Error: {}", py_str(m.get("error").unwrap_or(&Value::Null)))
            }
            _ => format!("HTTP Error: {status}"),
        }));
    }
    let Body::Json(mut answer) = body else {
        return Err(unexpected("the answer is not JSON".into()));
    };
    if official && let Some(Value::Array(data)) = answer.get_mut("data") {
        data.retain(|m| {
            let id = m.get("id").and_then(Value::as_str).unwrap_or("");
            !UNSUPPORTED_OPENAI_KEYWORDS.iter().any(|k| id.contains(k))
        });
    }
    Ok(answer)
}

/// One Ollama connection's `/api/tags` answer, or the reference's error (`send_request`).
fn ollama_listing(listed: Result<Listing, Failure>) -> AppResult<Value> {
    let Listing { status, body } = listed.map_err(|failure| match failure {
        Failure::Broken(reason) => {
            AppError::with_status(500, ErrorCode::UpstreamError, format!("Ollama: {reason}"))
        }
        Failure::TimedOut => AppError::with_status(
            500,
            ErrorCode::ServerConnectionError,
            ErrorCode::ServerConnectionError.message(),
        ),
    })?;
    if status >= 400 {
        return Err(match body {
            Body::Json(Value::Object(m)) if m.contains_key("error") => {
                let error = m.get("error").unwrap_or(&Value::Null);
                let text = error.as_str().map(str::to_string).unwrap_or_else(|| error.to_string());
                AppError::with_status(status, ErrorCode::UpstreamError, text)
            }
            _ => AppError::with_status(
                status,
                ErrorCode::ServerConnectionError,
                ErrorCode::ServerConnectionError.message(),
            ),
        });
    }
    Ok(match body {
        Body::Json(v) => v,
        Body::Text(_) => Value::Null,
    })
}

/// `GET /openai/models` and `GET /openai/models/{url_idx}`.
pub async fn openai_models(app: &App, caller: &Caller, url_idx: Option<&str>) -> AppResult<Value> {
    let (p, idx) = admit(app, caller, Kind::OpenAi, url_idx).await?;
    let mut answer = match idx {
        None => {
            let models = app.upstream.models(false).await;
            let data: Vec<Value> = models
                .iter()
                .filter(|m| m.get("owned_by").and_then(Value::as_str) == Some("openai"))
                .cloned()
                .collect();
            json!({ "data": data })
        }
        Some(i) => {
            let official =
                app.upstream.connection(Kind::OpenAi, i).is_some_and(|c| c.url.contains("api.openai.com"));
            let listed = app.upstream.list_one(Kind::OpenAi, i).await.ok_or_else(no_connection)?;
            openai_listing(listed, official)?
        }
    };
    if filtered(app, p) {
        keep_readable(app, p, &mut answer, "data", "id").await?;
    }
    Ok(answer)
}

/// `GET /ollama/api/tags` and `GET /ollama/api/tags/{url_idx}`.
pub async fn ollama_tags(app: &App, caller: &Caller, url_idx: Option<&str>) -> AppResult<Value> {
    let (p, idx) = admit(app, caller, Kind::Ollama, url_idx).await?;
    let mut answer = match idx {
        None => {
            let models = app.upstream.models(false).await;
            let list: Vec<Value> = models
                .iter()
                .filter(|m| m.get("owned_by").and_then(Value::as_str) == Some("ollama"))
                .filter_map(|m| m.get("ollama").cloned())
                .collect();
            Value::Object(Map::from_iter([("models".to_string(), Value::Array(list))]))
        }
        Some(i) => ollama_listing(app.upstream.list_one(Kind::Ollama, i).await.ok_or_else(no_connection)?)?,
    };
    if filtered(app, p) {
        keep_readable(app, p, &mut answer, "models", "model").await?;
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_read_as_python_prints_them() {
        assert_eq!(py_str(&json!("bad key")), "bad key");
        assert_eq!(
            py_str(&json!({"message": "it's bad", "code": 401, "ok": false, "x": null, "l": [1.5, "a"]})),
            r#"{'message': "it's bad", 'code': 401, 'ok': False, 'x': None, 'l': [1.5, 'a']}"#
        );
        let e = openai_listing(
            Ok(Listing { status: 401, body: Body::Json(json!({"error": {"message": "no"}})) }),
            false,
        )
        .expect_err("refused");
        assert_eq!(
            (e.status.as_u16(), e.message()),
            (500, "Unexpected error: External Error: {'message': 'no'}".into())
        );
        let e =
            openai_listing(Ok(Listing { status: 502, body: Body::Text("x".into()) }), false).expect_err("e");
        assert_eq!(e.message(), "Unexpected error: HTTP Error: 502");
        let e = ollama_listing(Ok(Listing { status: 404, body: Body::Json(json!({"error": "gone"})) }))
            .expect_err("e");
        assert_eq!((e.status.as_u16(), e.message()), (404, "gone".into()));
        assert_eq!(
            url_index(Some("x")).expect_err("e").body()["detail"][0]["loc"],
            json!(["path", "url_idx"])
        );
        assert_eq!(url_index(Some("2")).expect("ok"), Some(2));
        assert_eq!(url_index(Some("-1")).expect("negative"), Some(usize::MAX));
        assert_eq!(url_index(None).expect("none"), None);
    }
}
