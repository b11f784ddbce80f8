//! socket.io for the reference's web app at `/ws/socket.io` (socketioxide; Engine.IO 4, long
//! polling and WebSocket with the upgrade between them), as `socket/main.py` serves it.
//!
//! Every connection is accepted (the reference's `always_connect`); one that signs in — with
//! `auth: {token}` at connect (or the `token` cookie), or later with `user-join` — joins the room
//! `user:{id}` and receives the user's chat events (`service::events::user_events`) as the
//! reference's `events` payloads (`payload`), whichever instance produced them. Tokens follow the
//! REST rules for session tokens (`service::webapp::socket::authenticate`); a connection whose
//! token stops being valid (revoked, expired, password changed) is disconnected within
//! `RECHECK_INTERVAL`. `events:chat` follows chats and marks them read (`rooms`). `heartbeat`,
//! `join-channels`, `join-note`, `usage`, `events:channel` are answered harmlessly (duet has no
//! channels or notes).

mod payload;
mod rooms;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::socket::DisconnectReason;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::auth::Principal;
use crate::service::events::{self, UserEvents};
use crate::service::webapp::socket as svc;
use payload::Payloads;
use rooms::Rooms;

/// Where the web app connects (`path: "/ws/socket.io"`).
pub const PATH: &str = "/ws/socket.io";

/// How often a signed-in connection's token is checked again (the reference's 30 s).
const RECHECK_INTERVAL: Duration = Duration::from_secs(30);

/// Packets queued for one connection before a reply's text is dropped (a later one carries the
/// whole text) and other events wait.
const BUFFER: usize = 1024;

/// How long an event that must not be lost waits for room in a full queue.
const FULL_WAIT: Duration = Duration::from_secs(5);

/// `router` with socket.io in front of it: requests under `PATH` are the socket's, the others
/// go on to `router`.
pub fn attach(router: Router, state: &AppState) -> Router {
    let (layer, io) = SocketIo::builder().req_path(PATH).max_buffer_size(BUFFER).build_layer();
    let connect_state = state.clone();
    // The handlers are set up (and the token checked) in the middleware, which runs before the
    // client hears that it is connected, so that nothing it sends first is missed.
    let handler = async || {};
    io.ns(
        "/",
        socketioxide::handler::ConnectHandler::with(
            handler,
            move |socket: SocketRef, TryData(auth): TryData<Value>| {
                let state = connect_state.clone();
                async move {
                    connect(state, socket, auth.ok()).await;
                    Ok::<(), std::convert::Infallible>(())
                }
            },
        ),
    );
    Router::new().fallback_service(router).layer(layer)
}

/// What one connection knows: its signed-in user and the task forwarding their events.
struct Session {
    state: AppState,
    joined: Mutex<Option<Joined>>,
    /// The chats it follows (`events:chat` `join`).
    rooms: Rooms,
}

struct Joined {
    user_id: String,
    /// The token the connection signed in with (checked again every `RECHECK_INTERVAL`).
    token: watch::Sender<String>,
    forward: JoinHandle<()>,
}

impl Session {
    fn joined(&self) -> std::sync::MutexGuard<'_, Option<Joined>> {
        self.joined.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn user_id(&self) -> Option<String> {
        self.joined().as_ref().map(|j| j.user_id.clone())
    }

    /// Signs the connection in with `token`: joins `user:{id}` and starts forwarding the user's
    /// events (a connection signed in as another user leaves that user's room first). `None` for
    /// a token that signs no verified user in.
    async fn sign_in(&self, socket: &SocketRef, token: &str) -> Option<Principal> {
        let p = svc::authenticate(&self.state, token).await.ok()?;
        let mut joined = self.joined();
        if let Some(j) = joined.as_ref()
            && j.user_id == p.id()
        {
            let _ = j.token.send(token.to_string());
            return Some(p);
        }
        if let Some(old) = joined.take() {
            old.forward.abort();
            socket.leave(room(&old.user_id));
            self.rooms.leave_all(socket);
        }
        socket.join(room(p.id()));
        // Subscribed here, before the client can ask for anything, so that no event is missed.
        let events = events::user_events(&self.state, p.id());
        let (token_tx, token_rx) = watch::channel(token.to_string());
        let forward = tokio::spawn(forward(self.state.clone(), socket.clone(), events, token_rx));
        *joined = Some(Joined { user_id: p.id().to_string(), token: token_tx, forward });
        Some(p)
    }

    /// The signed-in user, checked again now (a revoked token no longer counts).
    async fn principal(&self) -> Option<Principal> {
        let token = self.joined().as_ref().map(|j| j.token.borrow().clone())?;
        svc::authenticate(&self.state, &token).await.ok()
    }

    fn leave(&self, socket: &SocketRef) {
        if let Some(joined) = self.joined().take() {
            joined.forward.abort();
        }
        self.rooms.leave_all(socket);
    }
}

fn room(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// The token of a message's `auth: {token}` (`user-join`, `join-channels`, `join-note`).
fn auth_token(data: &Value) -> Option<&str> {
    data.get("auth").and_then(|a| a.get("token")).and_then(Value::as_str).filter(|t| !t.is_empty())
}

/// A new connection: its handlers, then its sign-in with the handshake's token (or cookie).
async fn connect(state: AppState, socket: SocketRef, auth: Option<Value>) {
    let session = Arc::new(Session { state, joined: Mutex::default(), rooms: Rooms::default() });
    register(&socket, &session);
    let token = auth
        .as_ref()
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| {
            crate::auth::caller::cookie(&socket.req_parts().headers, "token").filter(|t| !t.is_empty())
        });
    if let Some(token) = token {
        session.sign_in(&socket, &token).await;
    }
}

/// Sends `ack` without values (the reference's handlers that return nothing).
fn ack_nothing(ack: AckSender) {
    let _ = ack.send(&[(); 0]);
}

fn register(socket: &SocketRef, session: &Arc<Session>) {
    let s = session.clone();
    socket.on("user-join", move |socket: SocketRef, TryData(data): TryData<Value>, ack: AckSender| {
        let s = s.clone();
        async move {
            let data = data.unwrap_or_default();
            let user = match auth_token(&data) {
                Some(token) => s.sign_in(&socket, token).await,
                None => None,
            };
            match user {
                Some(p) => {
                    let _ = ack.send(&serde_json::json!({"id": p.user.id, "name": p.user.name}));
                }
                None => ack_nothing(ack),
            }
        }
    });
    let s = session.clone();
    socket.on("heartbeat", move |socket: SocketRef, ack: AckSender| {
        let s = s.clone();
        async move {
            // The check refreshes the user's last activity; a token no longer valid ends the
            // connection, as the reference does.
            if s.user_id().is_some() && s.principal().await.is_none() {
                s.leave(&socket);
                let _ = socket.disconnect();
                return;
            }
            ack_nothing(ack);
        }
    });
    let s = session.clone();
    socket.on("events:chat", move |socket: SocketRef, TryData(data): TryData<Value>, ack: AckSender| {
        let s = s.clone();
        async move {
            let data = data.unwrap_or_default();
            // A connection that is not signed in is answered without a value, as the reference.
            let answer = match s.principal().await {
                Some(p) => rooms::chat_event(&s.state, &s.rooms, &socket, &p, &data).await,
                None => None,
            };
            match answer {
                Some(value) => {
                    let _ = ack.send(&value);
                }
                None => ack_nothing(ack),
            }
        }
    });
    // Channels, notes and the usage pool are not duet features: answered, nothing more.
    for event in ["join-channels", "join-note", "usage", "events:channel"] {
        socket.on(event, async |ack: AckSender| ack_nothing(ack));
    }
    let s = session.clone();
    socket.on_disconnect(move |socket: SocketRef, _: DisconnectReason| {
        let s = s.clone();
        async move { s.leave(&socket) }
    });
}

/// Sends the user's events to the connection until it closes, checking its token every
/// `RECHECK_INTERVAL`.
async fn forward(state: AppState, socket: SocketRef, mut events: UserEvents, token: watch::Receiver<String>) {
    let mut payloads = Payloads::default();
    let mut recheck = tokio::time::interval(RECHECK_INTERVAL);
    recheck.tick().await;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { return };
                for payload in payloads.of(&event) {
                    if !send(&socket, &payload.value, payload.replaceable).await {
                        return;
                    }
                }
            }
            _ = recheck.tick() => {
                let current = token.borrow().clone();
                if svc::authenticate(&state, &current).await.is_err() {
                    tracing::debug!(sid = %socket.id, "a socket's token is no longer valid; disconnecting");
                    let _ = socket.clone().disconnect();
                    return;
                }
            }
        }
    }
}

/// Emits one `events` payload; `false` once the connection is gone. A full queue drops a
/// replaceable payload and makes any other wait (up to `FULL_WAIT`).
async fn send(socket: &SocketRef, value: &Value, replaceable: bool) -> bool {
    use socketioxide::{SendError, SocketError};
    let deadline = tokio::time::Instant::now() + FULL_WAIT;
    loop {
        match socket.emit("events", value) {
            Ok(()) => return true,
            Err(SendError::Socket(SocketError::InternalChannelFull)) if replaceable => return true,
            Err(SendError::Socket(SocketError::InternalChannelFull))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                tracing::warn!(sid = %socket.id, "a socket does not read its events; one was dropped");
                return true;
            }
            Err(SendError::Socket(SocketError::Closed)) => return false,
            Err(e) => {
                tracing::warn!(sid = %socket.id, error = %e, "an event could not be sent on a socket");
                return true;
            }
        }
    }
}
