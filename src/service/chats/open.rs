//! `GET /chats/{id}` as REST answers it. The owner's chat is rendered from its stored document as
//! read (checked to be JSON, never parsed into a tree) and kept in the chat-list cache when it is
//! small; anyone else gets `get`'s view. The reference tells a reader whether they may continue
//! the chat in `chat.share_mode`: the owner may (`"continue"`), others get `null`.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::view::ChatView;
use super::{not_found_401, view_for};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::store;

/// Chats whose answer is longer are rendered on every request rather than kept.
pub const MAX_KEPT_BYTES: usize = 32 << 10;

/// A chat as `GET /chats/{id}` answers it (`ChatResponse` JSON).
#[derive(Debug, Clone)]
pub struct OpenedChat(Bytes);

impl OpenedChat {
    pub fn json(&self) -> Bytes {
        self.0.clone()
    }
}

/// `GET /chats/{id}`: `get`'s rules, the answer rendered once per cached read for the owner.
pub async fn open(app: &App, caller: &Caller, id: &str) -> AppResult<OpenedChat> {
    let p = caller.require_verified()?;
    if let Some(kept) = store::chats::opened(&app.db, p.id(), id) {
        return Ok(OpenedChat(kept));
    }
    let ticket = store::chats::opened_ticket(&app.db);
    let row = store::chats::get_raw(&app.db, id).await?.ok_or_else(not_found_401)?;
    if row.user_id != p.user.id {
        let mut view = view_for(app, p, row.parsed()?).await?;
        if let Some(doc) = view.chat.as_object_mut() {
            doc.insert("share_mode".into(), Value::Null);
        }
        return Ok(OpenedChat(serde_json::to_vec(&view).map_err(render_error)?.into()));
    }
    let (row, doc) = row.split();
    let rendered = render(&ChatView::from(row), &doc)?;
    if let Some(ticket) = ticket
        && rendered.len() <= MAX_KEPT_BYTES
    {
        store::chats::keep_opened(&app.db, ticket, p.id(), id, rendered.clone());
    }
    Ok(OpenedChat(rendered))
}

fn render_error(e: serde_json::Error) -> AppError {
    AppError::internal(format!("rendering a chat: {e}"))
}

/// `view` (whose document is `null`) with the owner's document `doc` in place, `share_mode`
/// set to `"continue"` as `Map::insert` would set it.
fn render(view: &ChatView, doc: &RawValue) -> AppResult<Bytes> {
    let body = serde_json::to_vec(view).map_err(render_error)?;
    // Every quote inside a JSON string is escaped, so this only matches the field itself, which
    // follows `id`, `user_id` and `title`.
    const SLOT: &[u8] = b",\"chat\":null,";
    let at =
        body.windows(SLOT.len()).position(|w| w == SLOT).ok_or_else(|| AppError::internal("chat field"))?;
    let doc = owner_document(doc.get())?;
    let mut out = Vec::with_capacity(body.len() + doc.len());
    out.extend_from_slice(&body[..at + 8]);
    out.extend_from_slice(doc.as_bytes());
    out.extend_from_slice(&body[at + SLOT.len() - 1..]);
    Ok(out.into())
}

/// The owner's document text with `"share_mode": "continue"`: appended to an object that has no
/// such key, set through a parse otherwise; a document that is not an object stays as it is.
fn owner_document(text: &str) -> AppResult<Cow<'_, str>> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Ok(Cow::Borrowed(text));
    }
    if trimmed.contains("\"share_mode\"") {
        let mut doc: Value = serde_json::from_str(trimmed).map_err(render_error)?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("share_mode".into(), json!("continue"));
        }
        return Ok(Cow::Owned(doc.to_string()));
    }
    let body = trimmed[..trimmed.len() - 1].trim_end();
    let sep = if body.ends_with('{') { "" } else { "," };
    Ok(Cow::Owned(format!("{body}{sep}\"share_mode\":\"continue\"}}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_a_tree(text: &str) -> Value {
        let mut doc: Value = serde_json::from_str(text).expect("json");
        if let Some(map) = doc.as_object_mut() {
            map.insert("share_mode".into(), json!("continue"));
        }
        doc
    }

    #[test]
    fn the_owner_document_gets_share_mode_as_an_insert_would_set_it() {
        for text in [
            r#"{"title":"a","models":["x"],"history":{"messages":{}}}"#,
            "{}",
            "{ }",
            r#"{"share_mode":"old","title":"t"}"#,
            r#"{"title":"says \"share_mode\" inside"}"#,
            "[1, 2]",
            r#"{"a": {"b": "}"}}"#,
        ] {
            let got: Value = serde_json::from_str(&owner_document(text).expect("rendered")).expect("json");
            assert_eq!(got, through_a_tree(text), "{text}");
        }
        // Key order as `Map::insert` keeps it: appended unless the key exists.
        assert_eq!(owner_document(r#"{"a":1}"#).expect("rendered"), r#"{"a":1,"share_mode":"continue"}"#);
    }

    #[test]
    fn the_rendering_is_the_view_with_the_document_in_place() {
        let doc =
            RawValue::from_string(r#"{"title":"T \",\"chat\":null,","models":[]}"#.into()).expect("raw");
        let row = store::chats::ChatRow {
            id: "c1".into(),
            user_id: "u1".into(),
            title: "T \",\"chat\":null,".into(),
            chat: sqlx::types::Json(Value::Null),
            created_at: 1,
            updated_at: 2,
            share_id: None,
            archived: false,
            pinned: true,
            meta: sqlx::types::Json(json!({"tags": ["a"]})),
            variables: None,
            folder_id: None,
            current_message_id: Some("m".into()),
            last_read_at: None,
        };
        let view = ChatView::from(row);
        let rendered: Value = serde_json::from_slice(&render(&view, &doc).expect("rendered")).expect("json");
        let mut expected = serde_json::to_value(&view).expect("value");
        expected["chat"] = through_a_tree(doc.get());
        assert_eq!(rendered, expected);
    }
}
