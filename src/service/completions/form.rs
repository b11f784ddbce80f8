//! The completion request as the reference reads it (`main.py` `chat_completion`): any JSON
//! object — an OpenAI chat request — plus Open WebUI's own fields (`chat_id`, `parent_id`, `id`,
//! `message_ids`, `user_message`, …), which are taken out here so that nothing of them goes
//! upstream.

use serde_json::{Map, Value};

use crate::error::AppResult;
use crate::service::form::{Fields, Loc};

/// Fields of the web app that never go upstream and that duet does not use (yet): background
/// tasks, tools, filters, skills, terminals, direct connections.
const DROPPED: &[&str] = &[
    "model_item",
    "background_tasks",
    "new_chat",
    "chat_variables",
    "tool_servers",
    "regeneration_message_id",
    "session_id",
    "filter_ids",
    "features",
    "tool_ids",
    "terminal_id",
    "skill_ids",
];

/// One reply the turn asks for: the model and the id of its assistant message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub model_id: String,
    pub message_id: Option<String>,
    /// The side-by-side column index (`modelIdx`), kept on the message as given.
    pub model_idx: Option<Value>,
}

/// What the request says about the chat it belongs to.
#[derive(Debug, Clone, Default)]
pub struct ChatFields {
    /// `chat_id` (empty = none).
    pub chat_id: Option<String>,
    /// `parent_id` sent as `null` without a `chat_id`: start a new saved chat.
    pub new_chat: bool,
    /// `message_ids` (a list of `{model_id, message_id}` or a `{model_id: message_id}` object),
    /// else one entry for the request's model and its `id`.
    pub entries: Vec<Entry>,
    /// `user_message` (or the legacy `parent_message`).
    pub user_message: Option<Map<String, Value>>,
    /// `assistant_message_id`: continue this stored reply instead of starting one.
    pub assistant_message_id: Option<String>,
    /// `folder_id` (duet has no folders yet: any value names none).
    pub folder_id: Option<Value>,
    /// `files` of the request (kept on a new chat).
    pub files: Option<Value>,
}

/// A completion request with the chat fields taken out.
#[derive(Debug, Clone)]
pub struct CompletionForm {
    /// What is left: the OpenAI request (`model`, `messages`, `stream`, `params`, …).
    pub body: Map<String, Value>,
    /// `model`, when it is a string.
    pub model: Option<String>,
    pub chat: ChatFields,
    /// `variables` (`{{NAME}}` → text) for the system prompt.
    pub variables: Map<String, Value>,
    /// `regeneration_prompt`: a user message added after the history.
    pub regeneration_prompt: Option<String>,
    /// Sent by an automation: request-side model controls are ignored.
    pub automation: bool,
}

fn opt_string(f: &mut Fields, name: &str, v: Option<Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            f.string_type(name, &other);
            None
        }
    }
}

fn entries(
    f: &mut Fields,
    message_ids: Option<Value>,
    id: Option<String>,
    model: &Option<String>,
) -> Vec<Entry> {
    match message_ids {
        Some(Value::Array(list)) => list
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let at = Loc::from("message_ids").at(i);
                let Value::Object(e) = e else {
                    f.dict_type(at, &e);
                    return None;
                };
                let model_id = match e.get("model_id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => {
                        f.string_type(at.at("model_id"), other);
                        return None;
                    }
                    None => {
                        f.missing_in(at.at("model_id"), &e);
                        return None;
                    }
                };
                let message_id = match e.get("message_id") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => {
                        f.string_type(at.at("message_id"), other);
                        return None;
                    }
                };
                Some(Entry {
                    model_id,
                    message_id,
                    model_idx: e.get("modelIdx").filter(|v| !v.is_null()).cloned(),
                })
            })
            .collect(),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(model_id, message_id)| Entry {
                model_id,
                message_id: message_id.as_str().map(str::to_string),
                model_idx: None,
            })
            .collect(),
        _ => vec![Entry { model_id: model.clone().unwrap_or_default(), message_id: id, model_idx: None }],
    }
}

impl CompletionForm {
    /// Reads a request body; a body that is not an object, or chat fields of the wrong type, are
    /// 422 in FastAPI's shape.
    pub fn read(value: Value) -> AppResult<CompletionForm> {
        let mut body = match value {
            Value::Object(map) => map,
            other => {
                return Err(Fields::error(crate::service::form::Source::Body, |f| {
                    f.dict_type(Loc::root(), &other)
                }));
            }
        };
        let mut f = Fields::body();
        let model = body.get("model").and_then(Value::as_str).map(str::to_string);
        let new_chat = matches!(body.get("parent_id"), Some(Value::Null))
            && !crate::upstream::convert::truthy(body.get("chat_id"));
        body.remove("parent_id");
        let id = body.remove("id");
        let id = opt_string(&mut f, "id", id);
        let message_ids = body.remove("message_ids");
        let entries = entries(&mut f, message_ids, id, &model);
        let mut user_message = None;
        for name in ["user_message", "parent_message"] {
            match body.remove(name) {
                Some(Value::Object(m)) if user_message.is_none() && !m.is_empty() => user_message = Some(m),
                Some(Value::Object(_)) | Some(Value::Null) | None => {}
                Some(other) => f.dict_type(name, &other),
            }
        }
        let chat_id = opt_string(&mut f, "chat_id", body.remove("chat_id")).filter(|c| !c.is_empty());
        let assistant_message_id =
            opt_string(&mut f, "assistant_message_id", body.remove("assistant_message_id"));
        let automation = body.remove("automation_id").is_some_and(|a| !a.is_null());
        let variables = match body.remove("variables") {
            Some(Value::Object(v)) => v,
            None | Some(Value::Null) => Map::new(),
            Some(other) => {
                f.dict_type("variables", &other);
                Map::new()
            }
        };
        if let Some(params) = body.get("params").filter(|p| !p.is_null() && !p.is_object()) {
            f.dict_type("params", params);
        }
        let regeneration_prompt = match body.remove("regeneration_prompt") {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let folder_id = body.remove("folder_id").filter(|v| !v.is_null());
        let files = body.remove("files");
        for name in DROPPED {
            body.remove(*name);
        }
        f.finish()?;
        Ok(CompletionForm {
            body,
            model,
            chat: ChatFields {
                chat_id,
                new_chat,
                entries,
                user_message,
                assistant_message_id,
                folder_id,
                files,
            },
            variables,
            regeneration_prompt,
            automation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_fields_are_taken_out() {
        let form = CompletionForm::read(json!({
            "model": "m", "messages": [], "parent_id": null, "id": "a1", "session_id": "s",
            "user_message": {"id": "u1", "content": "hi"}, "tool_ids": [], "variables": {"{{X}}": "y"}
        }))
        .expect("form");
        assert!(form.chat.new_chat);
        assert_eq!(
            form.chat.entries,
            vec![Entry { model_id: "m".into(), message_id: Some("a1".into()), model_idx: None }]
        );
        assert_eq!(form.chat.user_message.as_ref().and_then(|m| m.get("id")), Some(&json!("u1")));
        let keys: Vec<&String> = form.body.keys().collect();
        assert_eq!(keys, ["model", "messages"]);
        assert_eq!(form.variables["{{X}}"], "y");
    }

    #[test]
    fn message_ids_come_as_a_list_or_an_object() {
        let form = CompletionForm::read(json!({"model": "m", "chat_id": "c", "parent_id": null, "id": "x",
            "message_ids": [{"model_id": "a", "message_id": "1", "modelIdx": 0}, {"model_id": "b"}]}))
        .expect("form");
        assert!(!form.chat.new_chat);
        assert_eq!(form.chat.entries.len(), 2);
        assert_eq!(form.chat.entries[0].model_idx, Some(json!(0)));
        assert_eq!(form.chat.entries[1].message_id, None);
        let form = CompletionForm::read(json!({"model": "m", "message_ids": {"a": "1"}})).expect("form");
        assert_eq!(form.chat.entries[0].model_id, "a");
    }

    #[test]
    fn wrong_types_are_422() {
        let e = CompletionForm::read(json!([1])).expect_err("list");
        assert_eq!(e.field_errors()[0].kind, "dict_type");
        assert_eq!(e.field_errors()[0].loc, vec![json!("body")]);
        let e =
            CompletionForm::read(json!({"chat_id": 5, "params": [], "message_ids": [{"message_id": "x"}]}))
                .expect_err("types");
        let locs: Vec<Value> = e.field_errors().iter().map(|f| json!(f.loc)).collect();
        assert_eq!(
            locs,
            vec![
                json!(["body", "message_ids", 0, "model_id"]),
                json!(["body", "chat_id"]),
                json!(["body", "params"])
            ]
        );
    }
}
