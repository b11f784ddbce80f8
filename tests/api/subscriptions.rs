//! GraphQL subscriptions over WebSocket (`GET /graphql`, `graphql-transport-ws` and the legacy
//! `graphql-ws`), driven by a small hand-written client over a real socket: a reply streamed by the
//! fake provider seen by `messageStream` and `chatEvents` with exact values, on this instance and
//! on a second one sharing Redis; the caller from the init payload or the cookie; refusals as the
//! `chat` query and REST give them; the limits of `POST /graphql`, the per-socket and per-user
//! caps and the protocol's own close codes; and a socket closed by the client ending its task.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::backend_tests;
use crate::completions::{OPENAI_MODEL, complete, setup};
use crate::helpers::{Backend, PASSWORD, TestApp, error_of, gql, redis_url, unique_prefix};

backend_tests!(
    a_streamed_reply_reaches_message_stream_and_chat_events_with_exact_values,
    a_finished_reply_is_given_at_once_and_the_subscription_completes,
    refusals_match_the_chat_query_and_rest,
    a_second_instance_sharing_redis_receives_the_events,
);

/// The longest the client waits for one message (a safety net against a hung test, not a
/// measure of speed).
const WAIT: Duration = Duration::from_secs(15);

const STREAM: &str = "subscription($c: String!, $m: String!) { messageStream(chatId: $c, messageId: $m) { kind chatId messageId delta content usage error done } }";
const EVENTS: &str = "subscription($c: String!) { chatEvents(chatId: $c) { kind type messageId active delta content done title } }";

/// What the server sent.
#[derive(Debug, PartialEq)]
enum Got {
    Json(Value),
    Closed(u16, String),
}

/// A graphql-ws client over one socket.
struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Opens `GET /graphql` as a WebSocket offering `protocol`, with extra request headers.
    async fn open(app: &TestApp, protocol: &str, headers: &[(&str, &str)]) -> Ws {
        let mut request = format!("ws://{}/graphql", app.addr).into_client_request().expect("request");
        if !protocol.is_empty() {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(protocol).expect("protocol"));
        }
        for (k, v) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("name");
            request.headers_mut().insert(name, HeaderValue::from_str(v).expect("header"));
        }
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket upgrade");
        assert_eq!(response.status(), 101);
        Ws { socket }
    }

    /// A `graphql-transport-ws` socket acknowledged for `token` (in the init payload).
    async fn signed_in(app: &TestApp, token: &str) -> Ws {
        let mut ws = Ws::open(app, "graphql-transport-ws", &[]).await;
        ws.send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        assert_eq!(ws.recv().await, Got::Json(json!({"type": "connection_ack"})));
        ws
    }

    async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.expect("send");
    }

    /// The next text message or the close frame (pings are answered by the library).
    async fn recv(&mut self) -> Got {
        loop {
            let next = tokio::time::timeout(WAIT, self.socket.next()).await.expect("a message in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Got::Json(serde_json::from_str(text.as_str()).expect("JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Got::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Got::Closed(0, e.to_string()),
                None => return Got::Closed(0, "ended".into()),
            }
        }
    }

    async fn recv_json(&mut self) -> Value {
        match self.recv().await {
            Got::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(
            json!({"type": "subscribe", "id": id, "payload": {"query": query, "variables": variables}}),
        )
        .await;
    }

    /// A ping answered: every subscription asked for before it is listening.
    async fn sync(&mut self) {
        self.send(json!({"type": "ping"})).await;
        assert_eq!(self.recv_json().await, json!({"type": "pong"}));
    }

    /// Messages until one of `id` is `complete` or `error` (returned last); others are kept in
    /// `elsewhere`.
    async fn until_end(&mut self, id: &str, elsewhere: &mut Vec<Value>) -> Vec<Value> {
        let mut mine = Vec::new();
        loop {
            let m = self.recv_json().await;
            if m["id"] == id {
                let end = m["type"] == "complete" || m["type"] == "error";
                mine.push(m);
                if end {
                    return mine;
                }
            } else {
                elsewhere.push(m);
            }
        }
    }
}

/// Stores a chat with one answered exchange (`u1` → `a1`, "4"); returns its id.
async fn stored_chat(app: &TestApp, token: &str) -> String {
    let doc = json!({"title": "Stored", "models": [OPENAI_MODEL], "history": {"currentId": "a1", "messages": {
        "u1": {"id": "u1", "parentId": null, "childrenIds": ["a1"], "role": "user", "content": "What is 2+2?", "timestamp": 1},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "4", "done": true,
               "usage": {"total_tokens": 2}, "model": OPENAI_MODEL, "timestamp": 2}
    }}});
    let a = app.post("/api/v1/chats/new", Some(token), json!({"chat": doc})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["id"].as_str().expect("id").to_string()
}

/// A turn answering `a1` with reply `a2`, streamed.
fn turn(chat_id: &str) -> Value {
    json!({"model": OPENAI_MODEL, "stream": true, "chat_id": chat_id, "id": "a2",
           "user_message": {"id": "u2", "parentId": "a1", "content": "And 3+3?"}, "messages": []})
}

async fn stored_message(app: &TestApp, token: &str, chat_id: &str, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/chats/{chat_id}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["chat"]["history"]["messages"][id].clone()
}

/// The `next` payloads' events of one subscription's messages.
fn events(messages: &[Value], field: &str) -> Vec<Value> {
    messages.iter().filter(|m| m["type"] == "next").map(|m| m["payload"]["data"][field].clone()).collect()
}

/// Checks a `messageStream` of reply `a2` answered with the fake's "Hello world!": the deltas in
/// order, each `content` the text so far, then `DONE` as stored, then `complete`.
async fn check_stream(messages: &[Value], app: &TestApp, token: &str, chat_id: &str) {
    let stream = events(messages, "messageStream");
    let (done, deltas) = stream.split_last().expect("events");
    assert_eq!(
        deltas.iter().map(|d| d["delta"].as_str().expect("delta")).collect::<Vec<_>>(),
        ["Hello", " world", "!"]
    );
    let mut text = String::new();
    for d in deltas {
        text.push_str(d["delta"].as_str().unwrap_or_default());
        assert_eq!(
            (d["kind"].as_str(), d["content"].as_str(), &d["done"]),
            (Some("DELTA"), Some(text.as_str()), &json!(false))
        );
        assert_eq!((d["chatId"].as_str(), d["messageId"].as_str()), (Some(chat_id), Some("a2")));
    }
    let stored = stored_message(app, token, chat_id, "a2").await;
    assert_eq!(stored["content"], "Hello world!");
    assert_eq!(done["kind"], "DONE");
    assert_eq!(done["content"], stored["content"], "the final content is the stored message's");
    assert_eq!(done["usage"], stored["usage"]);
    assert_eq!((&done["error"], &done["done"], &done["delta"]), (&Value::Null, &json!(true), &Value::Null));
    assert_eq!(messages.last().expect("end"), &json!({"type": "complete", "id": "m"}));
}

async fn a_streamed_reply_reaches_message_stream_and_chat_events_with_exact_values(backend: Backend) {
    let s = setup(backend, &[]).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let mut ws = Ws::signed_in(&s.app, &s.admin).await;
    ws.subscribe("m", STREAM, json!({"c": chat_id, "m": "a2"})).await;
    ws.subscribe("c", EVENTS, json!({"c": chat_id})).await;
    ws.sync().await;
    let a = complete(&s.app, &s.admin, turn(&chat_id)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    let mut chat_messages = Vec::new();
    let stream = ws.until_end("m", &mut chat_messages).await;
    check_stream(&stream, &s.app, &s.admin, &chat_id).await;
    // `chatEvents` goes on after the reply: read up to the turn's end.
    while !chat_messages.last().is_some_and(|m| m["payload"]["data"]["chatEvents"]["active"] == json!(false))
    {
        chat_messages.push(ws.recv_json().await);
    }
    let seen: Vec<(String, Value)> = events(&chat_messages, "chatEvents")
        .iter()
        .map(|e| {
            assert_eq!(e["messageId"], "a2");
            let detail = match e["kind"].as_str() {
                Some("ACTIVE") => e["active"].clone(),
                Some("DELTA") => json!([e["delta"], e["content"]]),
                Some("DONE") => json!([e["content"], e["done"]]),
                _ => e.clone(),
            };
            (e["kind"].as_str().unwrap_or_default().to_string(), detail)
        })
        .collect();
    let expected = [
        ("ACTIVE", json!(true)),
        ("DELTA", json!(["Hello", "Hello"])),
        ("DELTA", json!([" world", "Hello world"])),
        ("DELTA", json!(["!", "Hello world!"])),
        ("DONE", json!(["Hello world!", true])),
        ("ACTIVE", json!(false)),
    ];
    assert_eq!(seen, expected.map(|(k, v)| (k.to_string(), v)));
    let types: Vec<Value> = events(&chat_messages, "chatEvents").iter().map(|e| e["type"].clone()).collect();
    assert_eq!(types, ["active", "delta", "delta", "delta", "done", "active"].map(|t| json!(t)));
    // The client ends `chatEvents`; the socket stays usable.
    ws.send(json!({"type": "complete", "id": "c"})).await;
    ws.sync().await;
}

async fn a_finished_reply_is_given_at_once_and_the_subscription_completes(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (admin, _) = app.admin().await;
    let chat_id = stored_chat(&app, &admin).await;
    // Signed in by the `token` cookie of the upgrade request.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[("cookie", &format!("token={admin}"))]).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.recv().await, Got::Json(json!({"type": "connection_ack"})));
    ws.subscribe("1", STREAM, json!({"c": chat_id, "m": "a1"})).await;
    let done = json!({"kind": "DONE", "chatId": chat_id, "messageId": "a1", "delta": null, "content": "4",
                      "usage": {"total_tokens": 2}, "error": null, "done": true});
    assert_eq!(
        ws.recv_json().await,
        json!({"type": "next", "id": "1", "payload": {"data": {"messageStream": done}}})
    );
    assert_eq!(ws.recv_json().await, json!({"type": "complete", "id": "1"}));

    // The legacy `graphql-ws` protocol: `start`, `data`, `complete`, and `{"token": …}`.
    let mut legacy = Ws::open(&app, "graphql-ws", &[]).await;
    legacy.send(json!({"type": "connection_init", "payload": {"token": admin}})).await;
    assert_eq!(legacy.recv().await, Got::Json(json!({"type": "connection_ack"})));
    legacy.send(json!({"type": "start", "id": "7", "payload": {"query": STREAM, "variables": {"c": chat_id, "m": "a1"}}})).await;
    assert_eq!(
        legacy.recv_json().await,
        json!({"type": "data", "id": "7", "payload": {"data": {"messageStream": done}}})
    );
    assert_eq!(legacy.recv_json().await, json!({"type": "complete", "id": "7"}));
    legacy.send(json!({"type": "connection_terminate"})).await;
    assert_eq!(legacy.recv().await, Got::Closed(1000, "Normal Closure".into()));
}

/// The first error of a subscription's `error` message: (message, code, status).
fn refusal(m: &Value) -> (String, String, u64) {
    assert_eq!(m["type"], "error", "{m}");
    let e = &m["payload"][0];
    (
        e["message"].as_str().unwrap_or_default().to_string(),
        e["extensions"]["code"].as_str().unwrap_or_default().to_string(),
        e["extensions"]["status"].as_u64().unwrap_or_default(),
    )
}

async fn refusals_match_the_chat_query_and_rest(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (admin, _) = app.admin().await;
    let chat_id = stored_chat(&app, &admin).await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let (pending, _) = app.user(&admin, "P", "p@example.com", "pending").await;

    // No credential: the socket is closed with 4403 and the REST text.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[]).await;
    ws.send(json!({"type": "connection_init", "payload": {}})).await;
    let rest = app.get(&format!("/api/v1/chats/{chat_id}"), None).await;
    assert_eq!(rest.detail(), "Not authenticated");
    assert_eq!(ws.recv().await, Got::Closed(4403, rest.detail().to_string()));

    // A revoked token.
    let revoked =
        app.signin("u@example.com", PASSWORD).await.body["token"].as_str().expect("token").to_string();
    assert_eq!(app.post("/api/v1/auths/signout", Some(&revoked), json!({})).await.status, StatusCode::OK);
    let rest = app.get(&format!("/api/v1/chats/{chat_id}"), Some(&revoked)).await;
    assert_eq!(rest.status, StatusCode::UNAUTHORIZED);
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[]).await;
    ws.send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {revoked}")}}))
        .await;
    assert_eq!(ws.recv().await, Got::Closed(4403, rest.detail().to_string()));

    // Another user's chat: the REST refusal, which the `chat` query renders as `null`.
    let q =
        gql(&app, Some(&user), "query($id: String!) { chat(id: $id) { id } }", json!({"id": chat_id})).await;
    assert_eq!(q.body, json!({"data": {"chat": null}}));
    let rest = app.get(&format!("/api/v1/chats/{chat_id}"), Some(&user)).await;
    let mut ws = Ws::signed_in(&app, &user).await;
    for (id, query) in [("s", STREAM), ("e", EVENTS)] {
        ws.subscribe(id, query, json!({"c": chat_id, "m": "a1"})).await;
        let (message, code, status) = refusal(&ws.recv_json().await);
        assert_eq!((message.as_str(), code.as_str(), status), (rest.detail(), "NOT_FOUND", 401), "{query}");
        assert_eq!(message, "We could not find what you're looking for :/");
    }
    // After an `error` the id is free again; the socket goes on.
    ws.subscribe("s", STREAM, json!({"c": chat_id, "m": "a1"})).await;
    assert_eq!(refusal(&ws.recv_json().await).1, "NOT_FOUND");

    // A pending user: the same error as the `chat` query.
    let q = gql(&app, Some(&pending), "query($id: String!) { chat(id: $id) { id } }", json!({"id": chat_id}))
        .await;
    let (text, code) = error_of(&q);
    let mut ws = Ws::signed_in(&app, &pending).await;
    ws.subscribe("p", STREAM, json!({"c": chat_id, "m": "a1"})).await;
    let (message, got_code, _) = refusal(&ws.recv_json().await);
    assert_eq!((message, got_code), (text, code.clone()));
    assert_eq!(code, "ACCESS_PROHIBITED");

    // A token revoked after the socket was acknowledged starts nothing more.
    let token =
        app.signin("u@example.com", PASSWORD).await.body["token"].as_str().expect("token").to_string();
    let mut ws = Ws::signed_in(&app, &token).await;
    assert_eq!(app.post("/api/v1/auths/signout", Some(&token), json!({})).await.status, StatusCode::OK);
    let rest = app.get("/api/v1/auths/", Some(&token)).await;
    ws.subscribe("late", EVENTS, json!({"c": chat_id})).await;
    assert_eq!(refusal(&ws.recv_json().await).0, rest.detail());

    // Subscribing before `connection_init` is acknowledged: 4401.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[]).await;
    ws.subscribe("x", EVENTS, json!({"c": chat_id})).await;
    assert_eq!(ws.recv().await, Got::Closed(4401, "Unauthorized".into()));
}

async fn a_second_instance_sharing_redis_receives_the_events(backend: Backend) {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let s = setup(backend, &env).await;
    let b = s.app.twin_with(&env).await;
    let chat_id = stored_chat(&s.app, &s.admin).await;
    let mut ws = Ws::signed_in(&b, &s.admin).await;
    ws.subscribe("m", STREAM, json!({"c": chat_id, "m": "a2"})).await;
    ws.sync().await;
    // The turn runs on the first instance.
    let a = complete(&s.app, &s.admin, turn(&chat_id)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let stream = ws.until_end("m", &mut Vec::new()).await;
    check_stream(&stream, &b, &s.admin, &chat_id).await;
}

// ---- limits and the protocol (the database does not matter) ----

#[tokio::test]
async fn subscription_documents_pass_the_graphql_limits() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &[("GRAPHQL_MAX_DEPTH", "2")]).await else { return };
    let (admin, _) = app.admin().await;
    let mut ws = Ws::signed_in(&app, &admin).await;
    // Too deep: the text `POST /graphql` answers for the same document.
    let deep = "subscription { chatEvents(chatId: \"c\") { data { a { b } } } }";
    let post = gql(&app, Some(&admin), deep, json!({})).await;
    let (text, code) = error_of(&post);
    assert!(!text.is_empty(), "{}", post.text);
    ws.subscribe("d", deep, json!({})).await;
    let (message, got_code, _) = refusal(&ws.recv_json().await);
    assert_eq!((message, got_code), (text, code));
    // Only subscriptions, one root field each.
    ws.subscribe("q", "{ me { email } }", json!({})).await;
    assert_eq!(
        refusal(&ws.recv_json().await).0,
        "Only subscriptions are served over the WebSocket; send queries and mutations with POST /graphql."
    );
    ws.subscribe(
        "two",
        "subscription { a: chatEvents(chatId: \"c\") { kind } b: chatEvents(chatId: \"d\") { kind } }",
        json!({}),
    )
    .await;
    assert_eq!(
        refusal(&ws.recv_json().await).0,
        "Anonymous Subscription must select only one top level field."
    );
    // A document that does not parse, and an unknown field: async-graphql's own texts.
    ws.subscribe("bad", "subscription {", json!({})).await;
    assert!(refusal(&ws.recv_json().await).0.contains("expected"));
    ws.subscribe("unknown", "subscription { nope }", json!({})).await;
    assert_eq!(refusal(&ws.recv_json().await).0, "Unknown field \"nope\" on type \"Subscription\".");
    // Over HTTP a subscription is refused, and `GET /graphql` without an upgrade still answers.
    let get = app.get("/graphql?query=%7B__typename%7D", None).await;
    assert_eq!(get.body, json!({"data": {"__typename": "Query"}}));
}

#[tokio::test]
async fn the_subscriptions_of_a_socket_are_capped() {
    let env = [("GRAPHQL_WS_MAX_SUBSCRIPTIONS", "1")];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    let chat_id = stored_chat(&app, &admin).await;
    let mut ws = Ws::signed_in(&app, &admin).await;
    ws.subscribe("a", EVENTS, json!({"c": chat_id})).await;
    ws.sync().await;
    ws.subscribe("b", STREAM, json!({"c": chat_id, "m": "a1"})).await;
    let (message, code, status) = refusal(&ws.recv_json().await);
    assert_eq!(
        (message.as_str(), code.as_str(), status),
        (
            "Too many subscriptions on this socket; the limit is 1 (GRAPHQL_WS_MAX_SUBSCRIPTIONS).",
            "RATE_LIMIT_EXCEEDED",
            429
        )
    );
    // Completing one makes room.
    ws.send(json!({"type": "complete", "id": "a"})).await;
    ws.subscribe("b", STREAM, json!({"c": chat_id, "m": "a1"})).await;
    assert_eq!(ws.recv_json().await["payload"]["data"]["messageStream"]["content"], "4");
    assert_eq!(ws.recv_json().await, json!({"type": "complete", "id": "b"}));
    // An id in use closes the socket (4409).
    ws.subscribe("a", EVENTS, json!({"c": chat_id})).await;
    ws.sync().await;
    ws.subscribe("a", EVENTS, json!({"c": chat_id})).await;
    assert_eq!(ws.recv().await, Got::Closed(4409, "Subscriber for a already exists".into()));
}

#[tokio::test]
async fn the_protocol_closes_with_its_codes() {
    let env = [("GRAPHQL_WS_INIT_TIMEOUT", "0.2")];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    // No subprotocol asked for: 4406.
    let mut ws = Ws::open(&app, "", &[]).await;
    assert_eq!(ws.recv().await, Got::Closed(4406, "Subprotocol not acceptable".into()));
    // A second `connection_init`: 4429.
    let mut ws = Ws::signed_in(&app, &admin).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": admin}})).await;
    assert_eq!(ws.recv().await, Got::Closed(4429, "Too many initialisation requests".into()));
    // Not a message of the protocol: 4400.
    let mut ws = Ws::signed_in(&app, &admin).await;
    ws.send(json!({"type": "start", "id": "1"})).await;
    assert_eq!(ws.recv().await, Got::Closed(4400, "Invalid message received: unknown type \"start\"".into()));
    let mut ws = Ws::signed_in(&app, &admin).await;
    ws.socket.send(Message::Text("[1, 2".into())).await.expect("send");
    assert_eq!(ws.recv().await, Got::Closed(4400, "Invalid message received: not a JSON object".into()));
    // No `connection_init` within GRAPHQL_WS_INIT_TIMEOUT: 4408. Pings are answered meanwhile.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[]).await;
    ws.sync().await;
    assert_eq!(ws.recv().await, Got::Closed(4408, "Connection initialisation timeout".into()));
}

#[tokio::test]
async fn a_socket_closed_by_the_client_ends_its_task_and_frees_its_seat() {
    let env = [("GRAPHQL_WS_MAX_CONNECTIONS_PER_USER", "1")];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    let chat_id = stored_chat(&app, &admin).await;
    let mut first = Ws::signed_in(&app, &admin).await;
    first.subscribe("a", EVENTS, json!({"c": chat_id})).await;
    first.sync().await;
    // The user's one seat is taken.
    let mut second = Ws::open(&app, "graphql-transport-ws", &[]).await;
    second.send(json!({"type": "connection_init", "payload": {"token": admin}})).await;
    let full = Got::Closed(
        4403,
        "Too many open sockets for this user (GRAPHQL_WS_MAX_CONNECTIONS_PER_USER is 1)".into(),
    );
    assert_eq!(second.recv().await, full);
    // The client closes; the server's task ends (its subscription with it) and gives the seat
    // back, which a new socket then gets.
    first.socket.close(None).await.expect("close");
    while first.socket.next().await.is_some() {}
    let deadline = Instant::now() + WAIT;
    loop {
        let mut again = Ws::open(&app, "graphql-transport-ws", &[]).await;
        again.send(json!({"type": "connection_init", "payload": {"token": admin}})).await;
        match again.recv().await {
            Got::Json(ack) => {
                assert_eq!(ack, json!({"type": "connection_ack"}));
                break;
            }
            refused => {
                assert_eq!(refused, full);
                assert!(Instant::now() < deadline, "the closed socket's seat was never given back");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_cookie_signs_a_socket_in_only_from_an_allowed_page() {
    let env = [("CORS_ALLOW_ORIGIN", "http://app.example")];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    let cookie = format!("token={admin}");
    let same = format!("http://{}", app.addr);
    for (origin, signed_in) in
        [("http://app.example", true), (same.as_str(), true), ("http://evil.example", false)]
    {
        let mut ws = Ws::open(&app, "graphql-transport-ws", &[("cookie", &cookie), ("origin", origin)]).await;
        ws.send(json!({"type": "connection_init"})).await;
        let want = if signed_in {
            Got::Json(json!({"type": "connection_ack"}))
        } else {
            Got::Closed(4403, "Not authenticated".into())
        };
        assert_eq!(ws.recv().await, want, "{origin}");
    }
    // A token in the init payload does not depend on the page.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &[("origin", "http://evil.example")]).await;
    ws.send(json!({"type": "connection_init", "payload": {"token": admin}})).await;
    assert_eq!(ws.recv().await, Got::Json(json!({"type": "connection_ack"})));
}

/// Subscriptions have no REST twin, so `parity::every_operation_has_rows` reads only `Query` and
/// `Mutation`; their REST counterparts are the completion's SSE stream and the socket.io events.
/// A new subscription field is added to this list with its counterpart.
#[test]
fn subscription_fields_are_graphql_only_and_listed() {
    let graphql_only = [
        ("messageStream", "the SSE stream of POST /api/chat/completions; socket.io `chat:completion`"),
        ("chatEvents", "socket.io `events` of the user's room"),
    ];
    let sdl = duet::graphql::sdl();
    let body = sdl
        .split("type Subscription {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("type Subscription");
    let mut in_description = false;
    let mut fields = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with("\"\"\"") {
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || line.is_empty() {
            continue;
        }
        fields.push(line.split(['(', ':']).next().unwrap_or_default().to_string());
    }
    assert_eq!(fields, graphql_only.map(|(f, _)| f.to_string()));
}
