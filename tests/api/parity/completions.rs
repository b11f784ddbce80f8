//! Parity rows of `sendMessage` against the web app's form of `POST /api/chat/completions` (a
//! `session_id` with a new chat): who may send, an unknown model, params that are not an object.
//! The fixtures have no provider, so a turn that runs is compared in `tests/api/tasks.rs`.

use serde_json::{Value, json};

use super::Input::{Invalid, Unknown, Valid};
use super::Who::*;
use super::{BASE, Ctx, Expect, Req, Row, UNKNOWN, anonymous, post, prohibited, refused, row};

const SEND: &str = "mutation($m: String!, $t: String!, $p: JSON) {
    sendMessage(model: $m, content: $t, params: $p) { chatId userMessageId assistantMessageId taskId } }";

/// The web app's request for a new chat asking `model`, with `params`.
fn web_app(model: &str, params: Value) -> Req {
    post(
        "/api/chat/completions",
        json!({"model": model, "stream": true, "session_id": "parity", "parent_id": null, "id": "a1",
               "params": params,
               "user_message": {"id": "u1", "parentId": null, "role": "user", "content": "Hi", "models": [model]},
               "messages": [{"role": "user", "content": "Hi"}]}),
    )
}

fn vars(model: &str, params: Value) -> Value {
    json!({"m": model, "t": "Hi", "p": params})
}

pub(super) fn rows() -> Vec<Row> {
    let mut t = Vec::new();
    let valid_rest = |_: &Ctx<'_>| web_app(BASE, json!({}));
    let valid_vars = |_: &Ctx<'_>| vars(BASE, json!({}));
    t.push(row("sendMessage", Anonymous, Valid, valid_rest, SEND, valid_vars, anonymous()));
    t.push(row("sendMessage", Pending, Valid, valid_rest, SEND, valid_vars, prohibited()));
    let unknown_rest = |_: &Ctx<'_>| web_app(UNKNOWN, json!({}));
    let unknown_vars = |_: &Ctx<'_>| vars(UNKNOWN, json!({}));
    let not_found = || refused(400, "MODEL_NOT_FOUND", "Model not found");
    t.push(row("sendMessage", User, Unknown, unknown_rest, SEND, unknown_vars, not_found()));
    t.push(row("sendMessage", ApiKey, Unknown, unknown_rest, SEND, unknown_vars, not_found()));
    let invalid_rest = |_: &Ctx<'_>| web_app(BASE, json!([1]));
    let invalid_vars = |_: &Ctx<'_>| vars(BASE, json!([1]));
    t.push(row("sendMessage", User, Invalid, invalid_rest, SEND, invalid_vars, Expect::Invalid));
    t
}
