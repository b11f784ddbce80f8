//! socket.io at `/ws/socket.io`, driven by a small Engine.IO 4 / socket.io 5 client written here
//! (`Sio`): long polling, WebSocket, and polling upgraded to WebSocket as socket.io-client does.
//! Sign-in follows the REST rules (token in the handshake's `auth`, the cookie, or `user-join`);
//! a signed-in connection receives the user's replies as the reference's `events` payloads,
//! also when another instance (sharing Redis) produced them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::backend_tests;
use crate::completions::{OLLAMA_MODEL, OPENAI_MODEL, Setup, setup};
use crate::fake_upstream::Script;
use crate::helpers::{Backend, SECRET, TestApp, required_redis_url, unique_prefix};

/// How long a test waits for a packet before it fails.
const PATIENCE: Duration = Duration::from_secs(15);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

enum Link {
    Ws(Box<Ws>),
    Polling { http: reqwest::Client, url: String },
}

/// A socket.io client on the default namespace.
pub struct Sio {
    link: Link,
    /// Engine.IO packets received and not handled yet (a polling answer holds several).
    packets: VecDeque<String>,
    /// `events` payloads received and not read yet.
    events: VecDeque<Value>,
    acks: HashMap<u64, Value>,
    next_ack: u64,
    /// The socket.io session id (from the CONNECT answer).
    pub sid: String,
    closed: bool,
}

fn base(app: &TestApp, transport: &str) -> String {
    format!("http://{}/ws/socket.io/?EIO=4&transport={transport}", app.addr)
}

fn connect_packet(auth: Option<&Value>) -> String {
    match auth {
        Some(a) => format!("40{a}"),
        None => "40".to_string(),
    }
}

impl Sio {
    /// Connects over WebSocket only, with `auth` in the CONNECT packet and extra handshake
    /// `headers` (a cookie).
    pub async fn websocket(app: &TestApp, auth: Option<Value>, headers: &[(&str, &str)]) -> Sio {
        let url = base(app, "websocket").replacen("http://", "ws://", 1);
        let mut request = url.into_client_request().expect("request");
        for (k, v) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("websocket handshake");
        let mut sio = Sio::new(Link::Ws(Box::new(ws)));
        let open = sio.packet().await;
        assert!(open.starts_with("0{"), "open packet: {open}");
        sio.send(&connect_packet(auth.as_ref())).await;
        sio.await_connect().await;
        sio
    }

    /// Connects over long polling (and stays on it).
    pub async fn polling(app: &TestApp, auth: Option<Value>) -> Sio {
        let http = reqwest::Client::new();
        let open =
            http.get(base(app, "polling")).send().await.expect("handshake").text().await.expect("body");
        assert!(open.starts_with("0{"), "open packet: {open}");
        let handshake: Value = serde_json::from_str(&open[1..]).expect("handshake json");
        assert_eq!(handshake["upgrades"], json!(["websocket"]));
        let url = format!("{}&sid={}", base(app, "polling"), handshake["sid"].as_str().expect("sid"));
        let mut sio = Sio::new(Link::Polling { http, url });
        sio.send(&connect_packet(auth.as_ref())).await;
        sio.await_connect().await;
        sio
    }

    /// Connects over long polling, then upgrades to WebSocket (`2probe`, `3probe`, `5`), as
    /// socket.io-client does by default.
    pub async fn upgraded(app: &TestApp, auth: Option<Value>) -> Sio {
        let mut sio = Sio::polling(app, auth).await;
        let Link::Polling { url, .. } = &sio.link else { unreachable!() };
        let engine_sid = url.rsplit("sid=").next().expect("sid").to_string();
        let ws_url = format!("{}&sid={engine_sid}", base(app, "websocket")).replacen("http://", "ws://", 1);
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.expect("upgrade handshake");
        ws.send(Message::text("2probe")).await.expect("probe");
        let probe = tokio::time::timeout(PATIENCE, ws.next()).await.expect("probe answer").expect("frame");
        assert_eq!(probe.expect("frame").into_text().expect("text").as_str(), "3probe");
        ws.send(Message::text("5")).await.expect("upgrade");
        sio.link = Link::Ws(Box::new(ws));
        sio
    }

    fn new(link: Link) -> Sio {
        Sio {
            link,
            packets: VecDeque::new(),
            events: VecDeque::new(),
            acks: HashMap::new(),
            next_ack: 0,
            sid: String::new(),
            closed: false,
        }
    }

    async fn send(&mut self, packet: &str) {
        match &mut self.link {
            Link::Ws(ws) => ws.send(Message::text(packet)).await.expect("send"),
            Link::Polling { http, url } => {
                let a = http.post(url.as_str()).body(packet.to_string()).send().await.expect("post");
                assert_eq!(a.status(), StatusCode::OK, "polling post");
            }
        }
    }

    /// The next Engine.IO packet (`None` once the connection is closed).
    async fn next_packet(&mut self) -> Option<String> {
        if let Some(p) = self.packets.pop_front() {
            return Some(p);
        }
        match &mut self.link {
            Link::Ws(ws) => loop {
                match tokio::time::timeout(PATIENCE, ws.next()).await.expect("a packet in time") {
                    Some(Ok(Message::Text(t))) => return Some(t.as_str().to_string()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                    Some(Ok(_)) => {}
                }
            },
            Link::Polling { http, url } => {
                let a = tokio::time::timeout(PATIENCE, http.get(url.as_str()).send())
                    .await
                    .expect("a polling answer in time")
                    .ok()?;
                if a.status() != StatusCode::OK {
                    return None;
                }
                let body = a.text().await.ok()?;
                self.packets.extend(body.split('\u{1e}').map(str::to_string));
                self.packets.pop_front()
            }
        }
    }

    async fn packet(&mut self) -> String {
        self.next_packet().await.expect("connection open")
    }

    /// Handles one packet: pings, events, acks, connect and disconnect.
    async fn pump(&mut self) {
        let Some(p) = self.next_packet().await else {
            self.closed = true;
            return;
        };
        match p.as_bytes().first() {
            Some(b'2') => self.send("3").await,
            Some(b'1') => self.closed = true,
            Some(b'4') => self.socket_packet(&p[1..]),
            _ => {}
        }
    }

    fn socket_packet(&mut self, p: &str) {
        let (kind, rest) = p.split_at(1);
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (id, body) = rest.split_at(digits);
        match kind {
            "0" => {
                let v: Value = serde_json::from_str(body).expect("connect json");
                self.sid = v["sid"].as_str().expect("sid").to_string();
            }
            "1" => self.closed = true,
            "2" => {
                let v: Value = serde_json::from_str(body).expect("event json");
                if v[0] == "events" {
                    self.events.push_back(v[1].clone());
                }
            }
            "3" => {
                self.acks.insert(id.parse().expect("ack id"), serde_json::from_str(body).expect("ack json"));
            }
            "4" => panic!("connect refused: {body}"),
            other => panic!("unexpected socket.io packet {other}{rest}"),
        }
    }

    async fn await_connect(&mut self) {
        let since = Instant::now();
        while self.sid.is_empty() {
            assert!(!self.closed, "closed before connecting");
            assert!(since.elapsed() < PATIENCE, "no CONNECT answer");
            self.pump().await;
        }
    }

    /// Emits `event` with `data`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send(&format!("42{}", json!([event, data]))).await;
    }

    /// Emits `event` with `data` and waits for its acknowledgement's values.
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(&format!("42{id}{}", json!([event, data]))).await;
        let since = Instant::now();
        loop {
            if let Some(v) = self.acks.remove(&id) {
                return v;
            }
            assert!(!self.closed, "closed before acknowledging {event}");
            assert!(since.elapsed() < PATIENCE, "no acknowledgement of {event}");
            self.pump().await;
        }
    }

    /// The next `events` payload.
    pub async fn event(&mut self) -> Value {
        let since = Instant::now();
        loop {
            if let Some(v) = self.events.pop_front() {
                return v;
            }
            assert!(!self.closed, "closed while waiting for an event");
            assert!(since.elapsed() < PATIENCE, "no event");
            self.pump().await;
        }
    }

    /// The payloads up to and including the first of type `kind`.
    pub async fn events_until(&mut self, kind: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = self.event().await;
            let last = e["data"]["type"] == kind;
            out.push(e);
            if last {
                return out;
            }
        }
    }

    /// Waits until the server closes the connection.
    pub async fn closed(&mut self) {
        let since = Instant::now();
        while !self.closed {
            assert!(since.elapsed() < Duration::from_secs(60), "the connection stays open");
            self.pump().await;
        }
    }
}

/// `{"chat_id", "message_id", "data": {"type", "data"}}`.
pub fn payload(chat_id: &str, message_id: &str, kind: &str, data: Value) -> Value {
    json!({"chat_id": chat_id, "message_id": message_id, "data": {"type": kind, "data": data}})
}

/// A completion in the web app's form: a new chat (`parent_id: null`) with user message `u1` and
/// reply `a1`, on socket session `session_id`, asking for a title.
pub fn web_app_request(model: &str, session_id: &str, text: &str) -> Value {
    json!({"model": model, "stream": true, "session_id": session_id, "parent_id": null, "id": "a1",
           "user_message": {"id": "u1", "parentId": null, "role": "user", "content": text, "models": [model]},
           "messages": [{"role": "user", "content": text}],
           "background_tasks": {"title_generation": true, "tags_generation": true, "follow_up_generation": true}})
}

/// Starts a reply in the web app's form; returns (chat id, task id).
pub async fn start(app: &TestApp, token: &str, body: Value) -> (String, String) {
    let a = app.post("/api/chat/completions", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], json!(true), "{}", a.text);
    let chat_id = a.body["chat_id"].as_str().expect("chat id").to_string();
    let tasks = a.body["task_ids"].as_array().expect("task ids");
    assert_eq!(tasks.len(), 1, "{}", a.text);
    (chat_id, tasks[0].as_str().expect("task id").to_string())
}

/// The events of the fake's deterministic reply `Hello world!` to a new chat asking "Say hello".
fn streamed_reply(chat: &str) -> Vec<Value> {
    let p = |kind: &str, data: Value| payload(chat, "a1", kind, data);
    vec![
        p("chat:list", json!({"chat_id": chat, "folder_id": null})),
        p("chat:active", json!({"active": true, "folder_id": null})),
        p("chat:completion", json!({"content": "Hello"})),
        p("chat:completion", json!({"content": "Hello world"})),
        p("chat:completion", json!({"content": "Hello world!"})),
        p("chat:completion", json!({"done": true, "content": "Hello world!", "title": "New Chat"})),
        p("chat:title", json!("Say hello")),
        p("chat:active", json!({"active": false, "folder_id": null})),
    ]
}

async fn stored_chat(app: &TestApp, token: &str, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/chats/{id}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body.clone()
}

backend_tests!(
    a_signed_in_socket_receives_a_streamed_reply_as_the_reference_events,
    the_socket_speaks_polling_websocket_and_the_upgrade,
    only_valid_session_tokens_sign_a_socket_in,
    a_failed_reply_reaches_the_socket_as_an_error,
    a_temporary_chat_streams_to_the_socket_and_stores_nothing,
    a_reader_who_joins_a_chat_hears_its_replies_until_it_leaves,
    last_read_at_marks_the_callers_chat_read_and_tells_their_sockets,
);

async fn a_signed_in_socket_receives_a_streamed_reply_as_the_reference_events(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, &[]).await;
    for model in [OPENAI_MODEL, OLLAMA_MODEL] {
        let mut sio = Sio::upgraded(&app, Some(json!({"token": admin}))).await;
        let (chat, _) = start(&app, &admin, web_app_request(model, &sio.sid, "Say hello")).await;
        assert_eq!(sio.events_until("chat:active").await.len(), 2);
        let events = sio.events_until("chat:active").await;
        let mut expected = streamed_reply(&chat);
        expected.drain(..2);
        // Ollama's answer ends with its counters: the reply's `usage`.
        if model == OLLAMA_MODEL {
            let usage = &events[events.len() - 3]["data"]["data"]["usage"];
            assert_eq!(usage["prompt_tokens"], json!(12), "{usage}");
            assert_eq!(usage["completion_tokens"], json!(7), "{usage}");
            expected[3]["data"]["data"]["usage"] = usage.clone();
        }
        assert_eq!(events, expected, "{model}");
        let stored = stored_chat(&app, &admin, &chat).await;
        assert_eq!(stored["title"], "Say hello");
        let reply = &stored["chat"]["history"]["messages"]["a1"];
        assert_eq!((reply["content"].as_str(), reply["done"].as_bool()), (Some("Hello world!"), Some(true)));
    }
}

async fn the_socket_speaks_polling_websocket_and_the_upgrade(b: Backend) {
    let Setup { app, admin, admin_id, openai: _openai, ollama: _ollama } = setup(b, &[]).await;
    let cookie = format!("token={admin}");
    for transport in ["polling", "websocket", "cookie", "upgrade"] {
        let mut sio = match transport {
            "polling" => Sio::polling(&app, Some(json!({"token": admin}))).await,
            "websocket" => Sio::websocket(&app, Some(json!({"token": admin})), &[]).await,
            // The handshake's cookie signs in when `auth` has no token.
            "cookie" => Sio::websocket(&app, None, &[("cookie", &cookie)]).await,
            _ => Sio::upgraded(&app, Some(json!({"token": admin}))).await,
        };
        // The web app's first messages are answered.
        assert_eq!(sio.call("heartbeat", json!({})).await, json!([]), "{transport}");
        let joined = sio.call("user-join", json!({"auth": {"token": admin}})).await;
        assert_eq!(joined, json!([{"id": admin_id, "name": "Admin"}]), "{transport}");
        let (chat, _) = start(&app, &admin, web_app_request(OPENAI_MODEL, &sio.sid, "Say hello")).await;
        let events = sio.events_until("chat:title").await;
        assert_eq!(events.len(), 7, "{transport}: {events:?}");
        assert_eq!(
            events[5]["data"],
            json!({"type": "chat:completion", "data": {"done": true, "content": "Hello world!", "title": "New Chat"}})
        );
        // Following the chat needs the right to read it.
        assert_eq!(
            sio.call("events:chat", json!({"chat_id": chat, "data": {"type": "join"}})).await,
            json!([true])
        );
        assert_eq!(
            sio.call("events:chat", json!({"chat_id": "no-such-chat", "data": {"type": "join"}})).await,
            json!([false])
        );
        assert_eq!(sio.call("join-note", json!({"auth": {"token": admin}, "note_id": "n"})).await, json!([]));
    }
}

/// A session token of a verified user signs a socket in; no credential, garbage, an expired,
/// revoked or forged token, an API key and a pending user's token do not (the connection stays,
/// hears nothing, and `user-join` answers no user).
async fn only_valid_session_tokens_sign_a_socket_in(b: Backend) {
    let Setup { app, admin, admin_id, openai: _openai, ollama: _ollama } = setup(b, &[]).await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let signed_out = app.signin("admin@example.com", crate::helpers::PASSWORD).await.body["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(app.post("/api/v1/auths/signout", Some(&signed_out), json!({})).await.status, StatusCode::OK);
    let stamp =
        app.scalar_text("select session_stamp from auths where id = $1", &admin_id).await.expect("stamp");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let mint = |secret: &str, exp: i64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"id": admin_id, "typ": "session", "session_stamp": stamp, "exp": exp, "jti": format!("j{exp}")}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    };
    let expired = mint(SECRET, now - 10);
    let forged = mint("another-secret", now + 100);
    let refused: Vec<(&str, Option<String>)> = vec![
        ("none", None),
        ("garbage", Some("not-a-jwt".into())),
        ("expired", Some(expired)),
        ("forged", Some(forged)),
        ("signed out", Some(signed_out)),
        ("API key", Some(key)),
        ("pending", Some(pending)),
    ];
    let mut sockets = Vec::new();
    for (what, token) in refused {
        let auth = token.as_ref().map(|t| json!({"token": t}));
        let mut sio = Sio::websocket(&app, auth, &[]).await;
        let join = json!({"auth": {"token": token.clone().unwrap_or_default()}});
        assert_eq!(sio.call("user-join", join).await, json!([]), "{what}");
        sockets.push((what, sio));
    }
    // A reply while they are connected: only the signed-in socket hears it.
    let mut good = Sio::websocket(&app, Some(json!({"token": admin})), &[]).await;
    let (first, _) = start(&app, &admin, web_app_request(OPENAI_MODEL, &good.sid, "One")).await;
    assert_eq!(good.events_until("chat:title").await.len(), 7);
    assert_eq!(good.event().await["data"]["data"]["active"], json!(false));
    // Signed in now, each hears the next reply from its start: nothing of the first reached it.
    for (what, sio) in &mut sockets {
        let joined = sio.call("user-join", json!({"auth": {"token": admin}})).await;
        assert_eq!(joined[0]["id"].as_str(), Some(admin_id.as_str()), "{what}");
    }
    let (second, _) = start(&app, &admin, web_app_request(OPENAI_MODEL, &good.sid, "Two")).await;
    assert_ne!(first, second);
    for (what, sio) in &mut sockets {
        let e = sio.event().await;
        assert_eq!(
            (e["chat_id"].as_str(), &e["data"]["type"]),
            (Some(second.as_str()), &json!("chat:list")),
            "{what}"
        );
    }
    // A token revoked while its socket is open: the next heartbeat ends the connection.
    let session = app.signin("admin@example.com", crate::helpers::PASSWORD).await.body["token"]
        .as_str()
        .expect("token")
        .to_string();
    let mut revoked = Sio::websocket(&app, Some(json!({"token": session})), &[]).await;
    assert_eq!(revoked.call("heartbeat", json!({})).await, json!([]));
    assert_eq!(app.post("/api/v1/auths/signout", Some(&session), json!({})).await.status, StatusCode::OK);
    revoked.emit("heartbeat", json!({})).await;
    revoked.closed().await;
}

async fn a_failed_reply_reaches_the_socket_as_an_error(b: Backend) {
    let s = setup(b, &[]).await;
    let body = r#"{"error": {"message": "Rate limit reached", "type": "rate_limit"}}"#;
    s.openai.set(Script::Status { status: 429, headers: vec![], body: body.into() });
    let mut sio = Sio::websocket(&s.app, Some(json!({"token": s.admin})), &[]).await;
    let (chat, _) = start(&s.app, &s.admin, web_app_request(OPENAI_MODEL, &sio.sid, "Say hello")).await;
    let events = sio.events_until("chat:active").await;
    assert_eq!(events.len(), 2);
    let events = sio.events_until("chat:active").await;
    assert_eq!(
        events,
        vec![
            payload(
                &chat,
                "a1",
                "chat:message:error",
                json!({"error": {"content": "Rate limit reached"}, "done": true})
            ),
            payload(
                &chat,
                "a1",
                "chat:completion",
                json!({"done": true, "content": "", "title": "New Chat"})
            ),
            payload(&chat, "a1", "chat:active", json!({"active": false, "folder_id": null})),
        ]
    );
    let stored = stored_chat(&s.app, &s.admin, &chat).await;
    // A failed first exchange does not name the chat.
    assert_eq!(stored["title"], "New Chat");
    let reply = &stored["chat"]["history"]["messages"]["a1"];
    assert_eq!(reply["error"], json!({"content": "Rate limit reached"}));
    assert_eq!(reply["done"], json!(true));
}

async fn a_temporary_chat_streams_to_the_socket_and_stores_nothing(b: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } = setup(b, &[]).await;
    let mut sio = Sio::websocket(&app, Some(json!({"token": admin})), &[]).await;
    let chat = format!("local:{}", sio.sid);
    let body = json!({"model": OPENAI_MODEL, "stream": true, "session_id": sio.sid, "chat_id": chat, "id": "a1",
                      "messages": [{"role": "user", "content": "Say hello"}]});
    let (answered, _) = start(&app, &admin, body).await;
    assert_eq!(answered, chat);
    let events = sio.events_until("chat:active").await;
    // No chat list entry for a chat that is not stored.
    assert_eq!(events, vec![payload(&chat, "a1", "chat:active", json!({"active": true, "folder_id": null}))]);
    let events = sio.events_until("chat:active").await;
    assert_eq!(events[events.len() - 2]["data"]["data"]["content"], "Hello world!");
    let list = app.get("/api/v1/chats/", Some(&admin)).await;
    assert_eq!(list.body, json!([]));
}

/// The next reply in the web app's form in `chat`, answering its message `a{n-1}` with `a{n}`.
fn next_turn(model: &str, session_id: &str, chat: &str, n: u32) -> Value {
    let mut body = web_app_request(model, session_id, "Say hello");
    let parent = json!(format!("a{}", n - 1));
    body["chat_id"] = json!(chat);
    body["parent_id"] = parent.clone();
    body["id"] = json!(format!("a{n}"));
    body["user_message"]["id"] = json!(format!("u{n}"));
    body["user_message"]["parentId"] = parent;
    body
}

/// The shared copy of a payload, as a chat's room hears another user's reply.
fn shared(user_id: &str, mut p: Value) -> Value {
    p["user_id"] = json!(user_id);
    p["shared"] = json!(true);
    p
}

/// `events:chat` `join` needs the right to read the chat (`GET /chats/{id}`); a joined
/// connection hears the replies another user runs in the chat as shared copies, its own
/// connections nothing twice, and nothing more once it leaves.
async fn a_reader_who_joins_a_chat_hears_its_replies_until_it_leaves(b: Backend) {
    let s = setup(b, &[("BYPASS_MODEL_ACCESS_CONTROL", "true")]).await;
    let (bo, bo_id) = s.app.user(&s.admin, "Bo", "bo@example.com", "user").await;
    let (cy, _) = s.app.user(&s.admin, "Cy", "cy@example.com", "user").await;
    let mut bo_sio = Sio::websocket(&s.app, Some(json!({"token": bo})), &[]).await;
    let (chat, _) = start(&s.app, &bo, web_app_request(OPENAI_MODEL, &bo_sio.sid, "Say hello")).await;
    assert_eq!(bo_sio.events_until("chat:title").await.len(), 7);
    assert_eq!(bo_sio.event().await["data"]["data"]["active"], json!(false));

    let join = |id: &str| json!({"chat_id": id, "data": {"type": "join"}});
    let mut admin = Sio::websocket(&s.app, Some(json!({"token": s.admin})), &[]).await;
    let mut other = Sio::websocket(&s.app, Some(json!({"token": cy})), &[]).await;
    let mut nobody = Sio::websocket(&s.app, None, &[]).await;
    // An admin reads users' chats (ENABLE_ADMIN_CHAT_ACCESS); another user does not.
    assert_eq!(admin.call("events:chat", join(&chat)).await, json!([true]));
    assert_eq!(other.call("events:chat", join(&chat)).await, json!([false]));
    assert_eq!(nobody.call("events:chat", join(&chat)).await, json!([]));
    for id in ["no-such-chat", "local:abc", ""] {
        assert_eq!(admin.call("events:chat", join(id)).await, json!([false]), "{id:?}");
    }
    assert_eq!(admin.call("events:chat", json!({"data": {"type": "join"}})).await, json!([false]));
    // The owner's own connection follows too, and hears its reply once.
    assert_eq!(bo_sio.call("events:chat", join(&chat)).await, json!([true]));

    let (again, _) = start(&s.app, &bo, next_turn(OPENAI_MODEL, &bo_sio.sid, &chat, 2)).await;
    assert_eq!(again, chat);
    let p = |kind: &str, data: Value| shared(&bo_id, payload(&chat, "a2", kind, data));
    assert_eq!(
        admin.events_until("chat:active").await,
        vec![p("chat:active", json!({"active": true, "folder_id": null}))]
    );
    assert_eq!(
        admin.events_until("chat:active").await,
        vec![
            p("chat:completion", json!({"content": "Hello"})),
            p("chat:completion", json!({"content": "Hello world"})),
            p("chat:completion", json!({"content": "Hello world!"})),
            p("chat:completion", json!({"done": true, "content": "Hello world!"})),
            p("chat:active", json!({"active": false, "folder_id": null})),
        ]
    );
    let own = bo_sio.events_until("chat:active").await;
    assert_eq!(own.len(), 2, "{own:?}");
    let own = bo_sio.events_until("chat:active").await;
    assert_eq!(own.len(), 5, "{own:?}");
    assert!(own.iter().all(|e| e.get("shared").is_none()), "{own:?}");

    // Left: the next reply reaches the owner only.
    let leave = json!({"chat_id": chat, "data": {"type": "leave"}});
    assert_eq!(admin.call("events:chat", leave).await, json!([true]));
    start(&s.app, &bo, next_turn(OPENAI_MODEL, &bo_sio.sid, &chat, 3)).await;
    assert_eq!(bo_sio.events_until("chat:active").await.len(), 2);
    assert_eq!(bo_sio.events_until("chat:active").await.len(), 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (who, sio) in [("admin", &mut admin), ("other", &mut other), ("nobody", &mut nobody)] {
        assert_eq!(sio.call("heartbeat", json!({})).await, json!([]), "{who}");
        assert!(sio.events.is_empty(), "{who} heard {:?}", sio.events);
    }
}

/// The caller's first chat's `last_read_at` as the chat list shows it.
async fn last_read(app: &TestApp, token: &str) -> Value {
    let list = app.get("/api/v1/chats/", Some(token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body[0]["last_read_at"].clone()
}

/// `events:chat` `last_read_at` marks the caller's own chat read (as the REST read-state routes
/// keep it) and sends `chat:list` with the time to the caller's connections; with the unread
/// counts per folder when the chat was unread. Others' chats are left alone.
async fn last_read_at_marks_the_callers_chat_read_and_tells_their_sockets(b: Backend) {
    let s = setup(b, &[("BYPASS_MODEL_ACCESS_CONTROL", "true")]).await;
    let (bo, _) = s.app.user(&s.admin, "Bo", "bo@example.com", "user").await;
    let mut bo_sio = Sio::websocket(&s.app, Some(json!({"token": bo})), &[]).await;
    let mut bo_tab = Sio::polling(&s.app, Some(json!({"token": bo}))).await;
    let (chat, _) = start(&s.app, &bo, web_app_request(OPENAI_MODEL, &bo_sio.sid, "Say hello")).await;
    assert_eq!(bo_sio.events_until("chat:title").await.len(), 7);
    assert_eq!(bo_sio.event().await["data"]["data"]["active"], json!(false));
    assert_eq!(bo_tab.events_until("chat:title").await.len(), 7);
    assert_eq!(bo_tab.event().await["data"]["data"]["active"], json!(false));
    let unread = s.app.post(&format!("/api/v1/chats/{chat}/unread"), Some(&bo), json!({})).await;
    assert_eq!(unread.status, StatusCode::OK, "{}", unread.text);
    assert_eq!(last_read(&s.app, &bo).await, json!(0));

    let read = json!({"chat_id": chat, "data": {"type": "last_read_at"}});
    // Someone else's chat: nothing is written or sent.
    let mut admin = Sio::websocket(&s.app, Some(json!({"token": s.admin})), &[]).await;
    assert_eq!(admin.call("events:chat", read.clone()).await, json!([]));
    assert_eq!(last_read(&s.app, &bo).await, json!(0));

    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert_eq!(bo_sio.call("events:chat", read.clone()).await, json!([]));
    let stored = last_read(&s.app, &bo).await;
    let at = stored.as_u64().expect("a time");
    assert!(at >= before && at <= before + 5, "{stored}");
    let told = json!({"chat_id": chat, "data": {"type": "chat:list",
                      "data": {"chat_id": chat, "last_read_at": at, "folder_unread_counts": {}}}});
    assert_eq!(bo_sio.event().await, told);
    assert_eq!(bo_tab.event().await, told);
    // Read already: no counts.
    assert_eq!(bo_tab.call("events:chat", read).await, json!([]));
    let again = bo_tab.event().await;
    assert_eq!(again["data"]["data"].get("folder_unread_counts"), None, "{again}");
    assert_eq!(again["data"]["data"]["chat_id"], json!(chat));
    assert_eq!(bo_sio.event().await, again);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(admin.call("heartbeat", json!({})).await, json!([]));
    assert!(admin.events.is_empty(), "{:?}", admin.events);
}

/// With Redis shared, a socket on instance B hears a reply that instance A produces, lists it
/// while it runs, and stops it through B: the stop reaches A over the bus, and A stores the text
/// so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn a_socket_on_another_instance_hears_and_stops_a_reply() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("BYPASS_MODEL_ACCESS_CONTROL", "true"),
    ];
    let s = setup(Backend::Postgres, &env).await;
    let openai_url = s.openai.url();
    let ollama_url = s.ollama.url();
    let b = s
        .app
        .separate_instance(&[
            env[0],
            env[1],
            env[2],
            ("OPENAI_API_BASE_URLS", &openai_url),
            ("OPENAI_API_KEYS", crate::completions::KEY),
            ("OLLAMA_BASE_URLS", &ollama_url),
        ])
        .await;
    let mut on_b = Sio::upgraded(&b, Some(json!({"token": s.admin}))).await;

    // A whole reply, produced on A, heard on B.
    let (chat, _) = start(&s.app, &s.admin, web_app_request(OPENAI_MODEL, &on_b.sid, "Say hello")).await;
    assert_eq!(on_b.events_until("chat:active").await.len(), 2);
    let mut events = on_b.events_until("chat:active").await;
    events.drain(..3);
    assert_eq!(events, streamed_reply(&chat)[5..].to_vec());

    // A reply that streams slowly: B lists it, and stops it.
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    s.openai.set(Script::Words { words, delay: Duration::from_millis(100) });
    let mut body = web_app_request(OPENAI_MODEL, &on_b.sid, "Count");
    body["id"] = json!("a2");
    body["user_message"]["id"] = json!("u2");
    let (chat2, task) = start(&s.app, &s.admin, body).await;
    let first = on_b.events_until("chat:completion").await;
    assert_eq!(first.last().expect("delta")["data"]["data"]["content"], "w0 ");
    let listed = b.get(&format!("/api/tasks/chat/{chat2}"), Some(&s.admin)).await;
    assert_eq!(listed.body, json!({"task_ids": [task]}));
    let stopped = b.post(&format!("/api/tasks/chat/{chat2}/stop"), Some(&s.admin), json!({})).await;
    assert_eq!(
        stopped.body,
        json!({"status": true, "message": format!("Task {task} stopped.")}),
        "{}",
        stopped.text
    );
    let rest = on_b.events_until("chat:tasks:cancel").await;
    let last_text = rest
        .iter()
        .chain(first.iter())
        .filter(|e| e["data"]["type"] == "chat:completion")
        .map(|e| e["data"]["data"]["content"].as_str().expect("text").to_string())
        .max_by_key(String::len)
        .expect("text");
    assert_eq!(
        on_b.event().await,
        payload(&chat2, "a2", "chat:active", json!({"active": false, "folder_id": null}))
    );
    let deadline = Instant::now() + PATIENCE;
    let reply = loop {
        let stored = stored_chat(&b, &s.admin, &chat2).await;
        let reply = stored["chat"]["history"]["messages"]["a2"].clone();
        if reply["done"] == json!(true) || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reply["done"], json!(true));
    assert_eq!(reply["content"].as_str(), Some(last_text.as_str()));
    assert!(reply.get("error").is_none_or(Value::is_null), "{reply}");
    assert_eq!(
        b.get(&format!("/api/tasks/chat/{chat2}"), Some(&s.admin)).await.body,
        json!({"task_ids": []})
    );
    assert_eq!(s.app.get("/api/tasks", Some(&s.admin)).await.body, json!({"tasks": []}));

    // A chat followed on B hears another user's reply run on A.
    s.openai.set(Script::Answer { delay: Duration::from_millis(0) });
    let (bo, bo_id) = s.app.user(&s.admin, "Bo", "bo@example.com", "user").await;
    let mut bo_on_a = Sio::websocket(&s.app, Some(json!({"token": bo})), &[]).await;
    let (chat3, _) = start(&s.app, &bo, web_app_request(OPENAI_MODEL, &bo_on_a.sid, "Say hello")).await;
    assert_eq!(bo_on_a.events_until("chat:title").await.len(), 7);
    assert_eq!(bo_on_a.event().await["data"]["data"]["active"], json!(false));
    let join = json!({"chat_id": chat3, "data": {"type": "join"}});
    assert_eq!(on_b.call("events:chat", join).await, json!([true]));
    start(&s.app, &bo, next_turn(OPENAI_MODEL, &bo_on_a.sid, &chat3, 2)).await;
    // The end of the first reply may reach B after the join (it crosses Redis): skipped.
    let mut heard = Vec::new();
    while heard.last().is_none_or(|e: &Value| e["data"]["data"]["active"] != json!(false)) {
        let e = on_b.event().await;
        if e["message_id"] == "a2" {
            heard.push(e);
        }
    }
    let p = |kind: &str, data: Value| shared(&bo_id, payload(&chat3, "a2", kind, data));
    assert_eq!(heard[0], p("chat:active", json!({"active": true, "folder_id": null})));
    assert_eq!(
        heard[heard.len() - 2],
        p("chat:completion", json!({"done": true, "content": "Hello world!"}))
    );
}
