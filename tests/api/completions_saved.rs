//! Saved turns of `POST /api/chat/completions`: a new chat (`parent_id: null`), a turn in a stored
//! chat (`chat_id`, the reference's `insert_chat_turn` checks and texts), the prompt rebuilt from
//! the stored branch, the reply written as it streams and finished with `done`, `usage` and any
//! error — also when the client disconnects halfway — and `POST /chats/{id}` leaving a reply that
//! is still being written alone.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{OLLAMA_MODEL, OPENAI_MODEL, complete, setup};
use crate::fake_upstream::Script;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    a_new_chat_is_saved_with_the_streamed_reply,
    a_new_chat_without_a_reply_id_gets_one,
    a_turn_in_a_stored_chat_is_answered_from_the_stored_branch,
    turn_ids_and_chats_are_checked_as_the_reference,
    a_reply_is_finished_and_stored_when_the_client_disconnects,
    the_reply_is_written_while_it_streams_and_posting_the_chat_keeps_it,
    provider_failures_are_stored_on_the_reply,
    a_reply_can_be_continued,
);

async fn chat(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/chats/{id}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["chat"].clone()
}

fn message<'a>(chat: &'a Value, id: &str) -> &'a Value {
    &chat["history"]["messages"][id]
}

/// Waits until the stored reply `id` is done; returns the chat.
async fn finished(app: &TestApp, token: &str, chat_id: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = chat(app, token, chat_id).await;
        if message(&c, id)["done"] == json!(true) || Instant::now() > deadline {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stores a chat with one answered exchange (`u1` → `a1`); returns its id.
async fn stored_chat(app: &TestApp, token: &str) -> String {
    let doc = json!({"title": "Stored", "models": [OPENAI_MODEL], "history": {"currentId": "a1", "messages": {
        "u1": {"id": "u1", "parentId": null, "childrenIds": ["a1"], "role": "user", "content": "What is 2+2?", "timestamp": 1},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "4", "done": true, "model": OPENAI_MODEL, "timestamp": 2}
    }}});
    let a = app.post("/api/v1/chats/new", Some(token), json!({"chat": doc})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["id"].as_str().expect("id").to_string()
}

async fn a_new_chat_is_saved_with_the_streamed_reply(backend: Backend) {
    let s = setup(backend, &[]).await;
    for model in [OPENAI_MODEL, OLLAMA_MODEL] {
        let body = json!({"model": model, "stream": true, "parent_id": null, "id": "a1",
                          "user_message": {"id": "u1", "parentId": null, "role": "user", "content": "Say hello", "models": [model]},
                          "messages": [{"role": "user", "content": "Say hello"}]});
        let a = complete(&s.app, &s.admin, body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let chat_id = a.headers["x-chat-id"].to_str().expect("chat id").to_string();
        let c = finished(&s.app, &s.admin, &chat_id, "a1").await;
        assert_eq!(c["title"], "New Chat");
        assert_eq!(c["models"], json!([model]));
        assert_eq!(c["history"]["currentId"], "a1");
        let u = message(&c, "u1");
        assert_eq!((u["role"].as_str(), u["content"].as_str()), (Some("user"), Some("Say hello")));
        assert_eq!(u["childrenIds"], json!(["a1"]));
        assert_eq!(u["user"]["id"].as_str(), Some(s.admin_id.as_str()));
        let r = message(&c, "a1");
        assert_eq!(r["role"], "assistant");
        assert_eq!(r["parentId"], "u1");
        assert_eq!(r["content"], "Hello world!");
        assert_eq!(r["done"], true);
        assert_eq!(r["model"], model);
        assert!(r.get("error").is_none(), "{r}");
        if model == OLLAMA_MODEL {
            assert_eq!(r["usage"]["total_tokens"], 19, "Ollama's converted usage is kept");
        }
    }
    let list = s.app.get("/api/v1/chats/", Some(&s.admin)).await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(2));
}

async fn a_new_chat_without_a_reply_id_gets_one(backend: Backend) {
    let s = setup(backend, &[]).await;
    let body = json!({"model": OPENAI_MODEL, "parent_id": null, "user_message": {"id": "u1", "content": "hi"},
                      "messages": [{"role": "user", "content": "hi"}]});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let chat_id = a.headers["x-chat-id"].to_str().expect("chat id").to_string();
    let c = chat(&s.app, &s.admin, &chat_id).await;
    let reply = c["history"]["currentId"].as_str().expect("current").to_string();
    assert_ne!(reply, "u1");
    assert_eq!(
        message(&c, &reply)["content"],
        "Hello world!",
        "the whole answer is stored before it is returned"
    );
    assert_eq!(message(&c, &reply)["done"], true);
}

async fn a_turn_in_a_stored_chat_is_answered_from_the_stored_branch(backend: Backend) {
    let s = setup(backend, &[]).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let body = json!({"model": OPENAI_MODEL, "chat_id": chat_id, "id": "a2",
                      "user_message": {"id": "u2", "parentId": "a1", "content": "And 3+3?", "models": [OPENAI_MODEL]},
                      "messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "not used"}]});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["x-chat-id"].to_str().ok(), Some(chat_id.as_str()));
    assert_eq!(
        s.openai.last_body()["messages"],
        json!([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 2+2?"},
               {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}])
    );
    let c = chat(&s.app, &s.admin, &chat_id).await;
    assert_eq!(message(&c, "a1")["childrenIds"], json!(["u2"]));
    assert_eq!(message(&c, "u2")["childrenIds"], json!(["a2"]));
    assert_eq!(message(&c, "a2")["content"], "Hello world!");
    assert_eq!(message(&c, "a2")["usage"]["total_tokens"], 6);
    assert_eq!(c["history"]["currentId"], "a2");
    assert_eq!(c["title"], "Stored");
}

async fn turn_ids_and_chats_are_checked_as_the_reference(backend: Backend) {
    let s = setup(backend, &[]).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let turn = |id: Value, user: Value| json!({"model": OPENAI_MODEL, "chat_id": chat_id, "id": id, "user_message": user, "messages": []});
    let cases = [
        (
            turn(json!("a1"), json!({"id": "u9", "parentId": "a1", "content": "x"})),
            409,
            "Message already exists or has an invalid ID.",
        ),
        (
            turn(json!("u9"), json!({"id": "u9", "parentId": "a1", "content": "x"})),
            409,
            "Message already exists or has an invalid ID.",
        ),
        (
            turn(Value::Null, json!({"id": "u9", "parentId": "a1", "content": "x"})),
            409,
            "Message already exists or has an invalid ID.",
        ),
        (turn(json!("a9"), json!({"content": "no id"})), 409, "Message already exists or has an invalid ID."),
        (
            turn(json!("a9"), json!({"id": "u9", "parentId": "gone", "content": "x"})),
            409,
            "Parent message no longer exists.",
        ),
        (
            turn(json!("a9"), json!({"id": "a1", "content": "x"})),
            403,
            "You can only regenerate replies to user messages.",
        ),
    ];
    for (body, status, detail) in cases {
        let a = complete(&s.app, &s.admin, body.clone()).await;
        assert_eq!((a.status.as_u16(), a.detail()), (status, detail), "{body}");
    }
    let (user, _) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    let g = s
        .app
        .post(
            "/api/v1/models/model/access/update",
            Some(&s.admin),
            json!({"id": OPENAI_MODEL,
        "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let a = complete(&s.app, &user, turn(json!("a9"), json!({"id": "u9", "parentId": "a1", "content": "x"})))
        .await;
    assert_eq!(
        (a.status, a.detail()),
        (StatusCode::NOT_FOUND, "We could not find what you're looking for :/")
    );
    let missing = json!({"model": OPENAI_MODEL, "chat_id": "no-such-chat", "id": "a9", "messages": []});
    assert_eq!(complete(&s.app, &s.admin, missing).await.status, StatusCode::NOT_FOUND);
    let folder = json!({"model": OPENAI_MODEL, "parent_id": null, "folder_id": "no-such-folder", "id": "a9", "messages": []});
    assert_eq!(complete(&s.app, &s.admin, folder).await.status, StatusCode::NOT_FOUND);
    // Nothing was written, and nothing reached the provider.
    let c = chat(&s.app, &s.admin, &chat_id).await;
    let mut ids: Vec<&String> = c["history"]["messages"].as_object().expect("messages").keys().collect();
    ids.sort();
    assert_eq!(ids, ["a1", "u1"]);
    assert!(s.openai.chats().is_empty());
    assert_eq!(s.app.get("/api/v1/chats/", Some(&s.admin)).await.body.as_array().map(Vec::len), Some(1));
    // A temporary chat is answered and not saved.
    let temp = json!({"model": OPENAI_MODEL, "chat_id": "local:abc", "id": "a9", "messages": []});
    let a = complete(&s.app, &s.admin, temp).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers.get("x-chat-id").is_none());
}

async fn a_reply_is_finished_and_stored_when_the_client_disconnects(backend: Backend) {
    let s = setup(backend, &[]).await;
    let words: Vec<String> = (0..30).map(|i| format!("w{i} ")).collect();
    s.openai.set(Script::Words { words: words.clone(), delay: Duration::from_millis(30) });
    let body = json!({"model": OPENAI_MODEL, "stream": true, "parent_id": null, "id": "a1",
                      "user_message": {"id": "u1", "content": "count"}, "messages": [{"role": "user", "content": "count"}]});
    let mut res = s
        .app
        .client
        .post(s.app.url("/api/chat/completions"))
        .bearer_auth(&s.admin)
        .json(&body)
        .send()
        .await
        .expect("send");
    let chat_id = res.headers()["x-chat-id"].to_str().expect("chat id").to_string();
    res.chunk().await.expect("chunk").expect("a first chunk");
    drop(res);
    let c = finished(&s.app, &s.admin, &chat_id, "a1").await;
    assert_eq!(message(&c, "a1")["content"], words.concat(), "the whole reply was stored");
    assert_eq!(message(&c, "a1")["done"], true);
    assert!(message(&c, "a1").get("error").is_none());
    assert_eq!(
        (s.openai.finished(), s.openai.closed_early()),
        (1, 0),
        "the provider's answer was read to its end"
    );
}

async fn the_reply_is_written_while_it_streams_and_posting_the_chat_keeps_it(backend: Backend) {
    let s = setup(backend, &[]).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let words: Vec<String> = (0..25).map(|i| format!("t{i} ")).collect();
    s.openai.set(Script::Words { words: words.clone(), delay: Duration::from_millis(80) });
    let body = json!({"model": OPENAI_MODEL, "stream": true, "chat_id": chat_id, "id": "a2",
                      "user_message": {"id": "u2", "parentId": "a1", "content": "go"}, "messages": []});
    let app = &s.app;
    let admin = &s.admin;
    let streaming = async { complete(app, admin, body).await };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let c = chat(app, admin, &chat_id).await;
        let partial = message(&c, "a2")["content"].as_str().unwrap_or("").to_string();
        // The web app posts its own copy of the chat while the reply streams.
        let mut doc = c.clone();
        doc["history"]["messages"]["a2"]["content"] = json!("client copy");
        doc["history"]["messages"]["a2"]["done"] = json!(true);
        doc["title"] = json!("Renamed");
        let p = app.post(&format!("/api/v1/chats/{chat_id}"), Some(admin), json!({"chat": doc})).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text);
        (partial, message(&c, "a2")["done"].clone())
    };
    let (a, (partial, done)) = tokio::join!(streaming, meanwhile);
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        !partial.is_empty() && partial.len() < words.concat().len(),
        "written while streaming: {partial:?}"
    );
    assert!(words.concat().starts_with(&partial));
    assert_eq!(done, json!(false));
    let c = finished(&s.app, &s.admin, &chat_id, "a2").await;
    assert_eq!(message(&c, "a2")["content"], words.concat(), "the server's reply, not the client's copy");
    assert_eq!(c["title"], "Renamed", "the rest of the posted chat was taken");
}

async fn provider_failures_are_stored_on_the_reply(backend: Backend) {
    let s = setup(backend, &[]).await;
    let turn = |id: &str, stream: bool| {
        json!({"model": OPENAI_MODEL, "stream": stream, "parent_id": null, "id": id,
               "user_message": {"id": format!("u-{id}"), "content": "hi"}, "messages": [{"role": "user", "content": "hi"}]})
    };
    s.openai.set(Script::Status {
        status: 401,
        headers: vec![],
        body: json!({"error": {"message": "Invalid API key"}}).to_string(),
    });
    let a = complete(&s.app, &s.admin, turn("r1", false)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let c = chat(&s.app, &s.admin, a.headers["x-chat-id"].to_str().expect("id")).await;
    assert_eq!(message(&c, "r1")["error"], json!({"content": "Invalid API key"}));
    assert_eq!(message(&c, "r1")["done"], true);
    s.openai.set(Script::CloseMidStream { chunks: 2 });
    let a = complete(&s.app, &s.admin, turn("r2", true)).await;
    let chat_id = a.headers["x-chat-id"].to_str().expect("id").to_string();
    let c = finished(&s.app, &s.admin, &chat_id, "r2").await;
    assert_eq!(message(&c, "r2")["error"], json!({"content": "Chat completion stream failed"}));
    assert_eq!(message(&c, "r2")["content"], "Hello", "what arrived before the cut is kept");
    s.openai.stop();
    let a = complete(&s.app, &s.admin, turn("r3", true)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    let c = chat(&s.app, &s.admin, a.headers["x-chat-id"].to_str().expect("id")).await;
    assert_eq!(message(&c, "r3")["error"], json!({"content": "Open WebUI: Server Connection Error"}));
    assert_eq!(message(&c, "r3")["done"], true);
}

async fn a_reply_can_be_continued(backend: Backend) {
    let s = setup(backend, &[]).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let body = json!({"model": OPENAI_MODEL, "chat_id": chat_id, "id": "a1", "assistant_message_id": "a1", "messages": []});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        s.openai.last_body()["messages"],
        json!([{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}])
    );
    let c = chat(&s.app, &s.admin, &chat_id).await;
    assert_eq!(message(&c, "a1")["content"], "4Hello world!");
    let wrong = json!({"model": OPENAI_MODEL, "chat_id": chat_id, "id": "other", "assistant_message_id": "a1", "messages": []});
    let a = complete(&s.app, &s.admin, wrong).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, "Invalid response ID."));
    let unknown = json!({"model": OPENAI_MODEL, "chat_id": chat_id, "id": "zz", "assistant_message_id": "zz", "messages": []});
    let a = complete(&s.app, &s.admin, unknown).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}
