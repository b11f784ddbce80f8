//! Replies run as tasks (the web app's form of `POST /api/chat/completions`, GraphQL's
//! `sendMessage`): answered at once with the task ids, listed while they run
//! (`/api/tasks/chat/{id}`, `/api/tasks`), stopped with the text so far stored
//! (`/api/tasks/chat/{id}/stop`, `/api/tasks/stop/{id}`), replies left unfinished finished by a
//! chat's stop, one task per model of a side-by-side turn, and a new chat named after its first
//! exchange.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{OLLAMA_MODEL, OPENAI_MODEL, Setup, setup};
use crate::fake_upstream::Script;
use crate::helpers::{Backend, TestApp, gql};
use crate::socket::{Sio, payload, start, web_app_request};

const NOT_FOUND: &str = "We could not find what you're looking for :/";
const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";

backend_tests!(
    a_running_reply_is_listed_and_stopping_it_stores_the_text_so_far,
    an_admin_stops_a_task_by_its_id,
    stopping_a_chat_without_tasks_finishes_its_unfinished_replies,
    a_new_chat_is_named_after_its_first_exchange_only,
    each_model_of_a_side_by_side_turn_runs_as_a_task,
    send_message_starts_the_turn_the_web_app_starts,
);

async fn chat(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/chats/{id}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body.clone()
}

fn message<'a>(chat: &'a Value, id: &str) -> &'a Value {
    &chat["chat"]["history"]["messages"][id]
}

/// Waits until reply `id` of the chat is stored done and its task has left the registry.
async fn finished(app: &TestApp, token: &str, chat_id: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // Idle first: a task leaves the registry once everything it writes is stored.
        let idle =
            app.get(&format!("/api/tasks/chat/{chat_id}"), Some(token)).await.body == json!({"task_ids": []});
        let c = chat(app, token, chat_id).await;
        if message(&c, id)["done"] == json!(true) && idle {
            return c;
        }
        assert!(Instant::now() < deadline, "reply {id} not finished: {c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A slow stream of numbered words.
fn slow_words() -> Script {
    Script::Words { words: (0..200).map(|i| format!("w{i} ")).collect(), delay: Duration::from_millis(100) }
}

/// Regular users may use the fakes' models.
const OPEN_MODELS: &[(&str, &str)] = &[("BYPASS_MODEL_ACCESS_CONTROL", "true")];

async fn a_running_reply_is_listed_and_stopping_it_stores_the_text_so_far(b: Backend) {
    let s = setup(b, OPEN_MODELS).await;
    let (user, _) = s.app.user(&s.admin, "Uma", "uma@example.com", "user").await;
    s.openai.set(slow_words());
    let mut sio = Sio::websocket(&s.app, Some(json!({"token": user})), &[]).await;
    let (chat_id, task) = start(&s.app, &user, web_app_request(OPENAI_MODEL, &sio.sid, "Count")).await;
    let seen = sio.events_until("chat:completion").await;
    assert_eq!(seen.last().expect("delta")["data"]["data"], json!({"content": "w0 "}));

    // Listed for the user who runs it (and for admins in the list of all tasks), not for others.
    let path = format!("/api/tasks/chat/{chat_id}");
    assert_eq!(s.app.get(&path, Some(&user)).await.body, json!({"task_ids": [task]}));
    assert_eq!(s.app.get(&path, Some(&s.admin)).await.body, json!({"task_ids": []}));
    assert_eq!(s.app.get("/api/tasks", Some(&s.admin)).await.body, json!({"tasks": [task]}));
    let all = s.app.get("/api/tasks", Some(&user)).await;
    assert_eq!((all.status, all.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // Another user cannot stop it: the chat is not theirs to continue.
    let other = s.app.post(&format!("{path}/stop"), Some(&s.admin), json!({})).await;
    assert_eq!((other.status, other.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));

    let stopped = s.app.post(&format!("{path}/stop"), Some(&user), json!({})).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text);
    assert_eq!(
        stopped.body,
        json!({"status": true, "message": format!("Task {task} successfully stopped.")})
    );
    // The reply is stored when the stop answers: its text so far, finished, without an error.
    let c = chat(&s.app, &user, &chat_id).await;
    let reply = message(&c, "a1");
    assert_eq!(reply["done"], json!(true), "{reply}");
    assert!(reply.get("error").is_none_or(Value::is_null), "{reply}");
    let text = reply["content"].as_str().expect("content").to_string();
    assert!(text.starts_with("w0 ") && text.len() < 200 * 4, "{text}");
    // The socket heard the text up to the stop, then the stop and the end of the turn.
    let rest = sio.events_until("chat:tasks:cancel").await;
    let heard = rest.iter().rev().find(|e| e["data"]["type"] == "chat:completion").unwrap_or(&seen[2]);
    assert_eq!(heard["data"]["data"]["content"].as_str(), Some(text.as_str()));
    assert_eq!(
        sio.event().await,
        payload(&chat_id, "a1", "chat:active", json!({"active": false, "folder_id": null}))
    );
    assert_eq!(s.app.get(&path, Some(&user)).await.body, json!({"task_ids": []}));
    // A stopped first exchange does not name the chat; the provider's connection was dropped.
    assert_eq!(c["title"], "New Chat");
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.openai.closed_early() == 0 {
        assert!(Instant::now() < deadline, "the provider's stream was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stopping again finds nothing running and nothing unfinished.
    let again = s.app.post(&format!("{path}/stop"), Some(&user), json!({})).await;
    assert_eq!(again.body, json!({"status": true, "message": "No tasks found."}));
}

async fn an_admin_stops_a_task_by_its_id(b: Backend) {
    let s = setup(b, &[]).await;
    let (user, _) = s.app.user(&s.admin, "Uma", "uma@example.com", "user").await;
    s.openai.set(Script::Stall);
    let (chat_id, task) = start(&s.app, &s.admin, web_app_request(OPENAI_MODEL, "s1", "Wait")).await;
    let path = format!("/api/tasks/stop/{task}");
    let refused = s.app.post(&path, Some(&user), json!({})).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let stopped = s.app.post(&path, Some(&s.admin), json!({})).await;
    assert_eq!(
        stopped.body,
        json!({"status": true, "message": format!("Task {task} successfully stopped.")})
    );
    let c = chat(&s.app, &s.admin, &chat_id).await;
    assert_eq!(
        (message(&c, "a1")["done"].as_bool(), message(&c, "a1")["content"].as_str()),
        (Some(true), Some(""))
    );
    let again = s.app.post(&path, Some(&s.admin), json!({})).await;
    assert_eq!(again.body, json!({"status": false, "message": format!("Task with ID {task} not found.")}));
}

async fn stopping_a_chat_without_tasks_finishes_its_unfinished_replies(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, &[]).await;
    let (user, _) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    // A reply an instance left unfinished.
    let doc = json!({"title": "Stuck", "history": {"currentId": "a1", "messages": {
        "u1": {"id": "u1", "parentId": null, "childrenIds": ["a1"], "role": "user", "content": "Hi", "timestamp": 1},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "Half", "done": false, "timestamp": 2}
    }}});
    let created = app.post("/api/v1/chats/new", Some(&user), json!({"chat": doc})).await;
    let chat_id = created.body["id"].as_str().expect("id").to_string();
    let path = format!("/api/tasks/chat/{chat_id}/stop");

    let mut sio = Sio::websocket(&app, Some(json!({"token": user})), &[]).await;
    for (token, status, detail) in [
        (None, StatusCode::UNAUTHORIZED, "Not authenticated"),
        (Some(&pending), StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED),
        (Some(&admin), StatusCode::NOT_FOUND, NOT_FOUND),
    ] {
        let a = app.send("POST", &path, token.map(String::as_str), None).await;
        assert_eq!((a.status, a.detail()), (status, detail), "{}", a.text);
    }
    let unknown = app.send("POST", "/api/tasks/chat/no-such-chat/stop", Some(&user), None).await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
    let a = app.send("POST", &path, Some(&user), None).await;
    assert_eq!(
        a.body,
        json!({"status": true, "message": "Finalized pending approval message."}),
        "{}",
        a.text
    );
    let c = chat(&app, &user, &chat_id).await;
    assert_eq!(
        (message(&c, "a1")["done"].as_bool(), message(&c, "a1")["content"].as_str()),
        (Some(true), Some("Half"))
    );
    assert_eq!(
        vec![sio.event().await, sio.event().await],
        vec![
            payload(&chat_id, "a1", "chat:completion", json!({"done": true, "content": "Half", "title": ""})),
            payload(&chat_id, "a1", "chat:tasks:cancel", json!({})),
        ]
    );
    let again = app.send("POST", &path, Some(&user), None).await;
    assert_eq!(again.body, json!({"status": true, "message": "No tasks found."}));
    // A POST on the listing path itself is not a route.
    let wrong = app.send("POST", &format!("/api/tasks/chat/{chat_id}"), Some(&user), None).await;
    assert_eq!((wrong.status, wrong.detail()), (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
}

async fn a_new_chat_is_named_after_its_first_exchange_only(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, &[]).await;
    let (chat_id, _) = start(&app, &admin, web_app_request(OPENAI_MODEL, "s1", "  What is 2+2?\n")).await;
    let c = finished(&app, &admin, &chat_id, "a1").await;
    assert_eq!(c["title"], "What is 2+2?");
    assert_eq!(c["chat"]["title"], "What is 2+2?");
    // The next exchange leaves the title alone.
    let next = json!({"model": OPENAI_MODEL, "stream": true, "session_id": "s1", "chat_id": chat_id, "id": "a2",
                      "user_message": {"id": "u2", "parentId": "a1", "role": "user", "content": "And 3+3?"},
                      "messages": [{"role": "user", "content": "And 3+3?"}],
                      "background_tasks": {"title_generation": true}});
    start(&app, &admin, next).await;
    let c = finished(&app, &admin, &chat_id, "a2").await;
    assert_eq!(c["title"], "What is 2+2?");
    assert_eq!(message(&c, "a2")["content"], "Hello world!");
    // Without the web app's `background_tasks`, a chat keeps "New Chat", as the reference's.
    let mut plain = web_app_request(OPENAI_MODEL, "s1", "Say hello");
    plain.as_object_mut().expect("object").remove("background_tasks");
    let (plain_id, _) = start(&app, &admin, plain).await;
    assert_eq!(finished(&app, &admin, &plain_id, "a1").await["title"], "New Chat");
}

async fn each_model_of_a_side_by_side_turn_runs_as_a_task(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, &[]).await;
    let mut body = web_app_request(OPENAI_MODEL, "s1", "Say hello");
    body["message_ids"] = json!([{"model_id": OPENAI_MODEL, "message_id": "a1", "modelIdx": 0},
                                 {"model_id": OLLAMA_MODEL, "message_id": "a2", "modelIdx": 1}]);
    let a = app.post("/api/chat/completions", Some(&admin), body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let chat_id = a.body["chat_id"].as_str().expect("chat").to_string();
    assert_eq!(a.body["task_ids"].as_array().map(Vec::len), Some(2), "{}", a.text);
    finished(&app, &admin, &chat_id, "a1").await;
    let c = finished(&app, &admin, &chat_id, "a2").await;
    for (id, model) in [("a1", OPENAI_MODEL), ("a2", OLLAMA_MODEL)] {
        let m = message(&c, id);
        assert_eq!((m["content"].as_str(), m["model"].as_str()), (Some("Hello world!"), Some(model)), "{m}");
    }
    // Three messages: not a first exchange of two, so no title.
    assert_eq!(c["title"], "New Chat");
}

const SEND: &str = "mutation($c: String, $p: String, $m: String!, $t: String!) {
    sendMessage(chatId: $c, parentId: $p, model: $m, content: $t) { chatId userMessageId assistantMessageId taskId } }";

async fn send_message_starts_the_turn_the_web_app_starts(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, OPEN_MODELS).await;
    let (user, _) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    let a = gql(&app, Some(&user), SEND, json!({"m": OPENAI_MODEL, "t": "Say hello"})).await;
    assert!(a.body["errors"].is_null(), "{}", a.text);
    let sent = a.body["data"]["sendMessage"].clone();
    let (chat_id, user_id, reply_id) = (
        sent["chatId"].as_str().expect("chat").to_string(),
        sent["userMessageId"].as_str().expect("user message").to_string(),
        sent["assistantMessageId"].as_str().expect("reply").to_string(),
    );
    assert!(sent["taskId"].is_string(), "{sent}");
    let by_gql = finished(&app, &user, &chat_id, &reply_id).await;
    let (rest_chat, _) = start(&app, &user, web_app_request(OPENAI_MODEL, "s1", "Say hello")).await;
    let by_rest = finished(&app, &user, &rest_chat, "a1").await;
    // The same turn: title, models, the user message and the stored reply.
    assert_eq!(by_gql["title"], by_rest["title"]);
    assert_eq!(by_gql["title"], "Say hello");
    assert_eq!(by_gql["chat"]["models"], by_rest["chat"]["models"]);
    let (ug, ur) = (message(&by_gql, &user_id), message(&by_rest, "u1"));
    for key in ["role", "content", "parentId", "models"] {
        assert_eq!(ug[key], ur[key], "user message {key}");
    }
    assert_eq!(ug["childrenIds"], json!([reply_id]));
    let (rg, rr) = (message(&by_gql, &reply_id), message(&by_rest, "a1"));
    for key in ["role", "content", "done", "model"] {
        assert_eq!(rg[key], rr[key], "reply {key}");
    }
    assert_eq!(rg["parentId"], json!(user_id));

    // In the chat, without a parent: the answer to the chat's current message.
    let a = gql(&app, Some(&user), SEND, json!({"c": chat_id, "m": OPENAI_MODEL, "t": "Again"})).await;
    assert!(a.body["errors"].is_null(), "{}", a.text);
    let next = a.body["data"]["sendMessage"].clone();
    assert_eq!(next["chatId"].as_str(), Some(chat_id.as_str()));
    let next_reply = next["assistantMessageId"].as_str().expect("reply").to_string();
    let c = finished(&app, &user, &chat_id, &next_reply).await;
    let next_user = message(&c, next["userMessageId"].as_str().expect("user message"));
    assert_eq!(next_user["parentId"].as_str(), Some(reply_id.as_str()));
    assert_eq!(c["title"], "Say hello");

    // Refusals are the REST ones.
    let unknown = gql(&app, Some(&user), SEND, json!({"m": "no-such-model", "t": "Hi"})).await;
    assert_eq!(crate::helpers::error_of(&unknown), ("Model not found".into(), "MODEL_NOT_FOUND".into()));
    let rest =
        app.post("/api/chat/completions", Some(&user), web_app_request("no-such-model", "s1", "Hi")).await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::BAD_REQUEST, "Model not found"));
    let theirs = gql(&app, Some(&admin), SEND, json!({"c": chat_id, "m": OPENAI_MODEL, "t": "Hi"})).await;
    assert_eq!(crate::helpers::error_of(&theirs), (NOT_FOUND.into(), "NOT_FOUND".into()));
    let mut body = web_app_request(OPENAI_MODEL, "s1", "Hi");
    body["chat_id"] = json!(chat_id);
    body["parent_id"] = json!(next_reply);
    let rest = app.post("/api/chat/completions", Some(&admin), body).await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
}
