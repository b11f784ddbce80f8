//! `PATCH /chats/{id}/params`: the chat's model parameters (`chat.params`), merged key by key.

use serde_json::{Map, Value, json};

use super::store_document;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Loc, Source};
use crate::store;

/// The body of `PATCH /chats/{id}/params`: any JSON object (422 `dict_type` otherwise).
pub fn params_form(body: &Value) -> AppResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map.clone()),
        other => Err(Fields::error(Source::Body, |f| f.dict_type(Loc::root(), other))),
    }
}

/// `PATCH /chats/{id}/params`: the owner's chat gets `params` merged over its `chat.params`
/// (top-level keys replaced, others kept) under a row lock, without moving `updated_at`; the
/// answer is the merged params. 401 `ACCESS_PROHIBITED` for anyone else's chat or an unknown id.
pub async fn update_params(
    app: &App,
    caller: &Caller,
    id: &str,
    params: Map<String, Value>,
) -> AppResult<Map<String, Value>> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = match store::chats::get_for_update(&mut tx, id).await? {
        Some(row) if row.user_id == p.user.id => row,
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    };
    let mut doc = row.chat.0.clone();
    let mut merged = doc.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
    merged.extend(params);
    match doc.as_object_mut() {
        Some(obj) => {
            obj.insert("params".into(), Value::Object(merged.clone()));
        }
        None => doc = json!({"params": merged}),
    }
    let variables = row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({}));
    store_document(&mut tx, &row, &doc, &variables, row.updated_at).await?;
    tx.commit().await?;
    Ok(merged)
}
