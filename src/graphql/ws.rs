//! GraphQL over WebSocket at `GET /graphql` with `Upgrade: websocket`: the `graphql-transport-ws`
//! protocol (graphql-ws), and the older `graphql-ws` one (subscriptions-transport-ws).
//!
//! The caller comes from `connection_init`'s payload (`{"Authorization": "Bearer …"}` or
//! `{"token": …}`) or else from the upgrade request (the `token` cookie); a signed-in caller is
//! required to be acknowledged, and the credential is resolved again for every subscription, so a
//! token revoked meanwhile starts nothing more. Every document passes the limits of
//! `POST /graphql`, must be a subscription with one root field, and runs as a task of its own,
//! ended when the client completes it or the socket closes. The transport reads the client's next
//! message only once a new subscription is listening (or has failed), so a `pong` proves that the
//! subscriptions asked for before it will see what is published from then on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::subscription::Listening;
use super::{DuetSchema, admit, prepare, request_error};
use crate::app::AppState;
use crate::auth::Caller;
use crate::config::GraphqlWsLimits;
use crate::error::{AppError, ErrorCode};
use crate::http::cors::CorsOrigins;

/// The subprotocols served, preferred first.
const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];
/// How often the server pings an idle socket (proxies close silent ones).
const KEEPALIVE: Duration = Duration::from_secs(30);
/// The longest a message may take to be written before the socket is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages of running subscriptions waiting to be written.
const OUTGOING: usize = 64;
/// The longest close reason a WebSocket close frame carries, in bytes.
const MAX_REASON: usize = 123;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws`, the subscriptions-transport-ws protocol.
    Legacy,
}

/// Open sockets per user on this instance.
#[derive(Clone, Default)]
pub struct Sockets(Arc<Mutex<HashMap<String, usize>>>);

/// One user's place among `Sockets`, given back when the socket's task ends.
struct Seat {
    sockets: Sockets,
    user_id: String,
}

impl Sockets {
    fn take(&self, user_id: &str, max: usize) -> Option<Seat> {
        let mut open = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(user_id.to_string()).or_insert(0);
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Seat { sockets: self.clone(), user_id: user_id.to_string() })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.sockets.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// `GET /graphql`: a WebSocket upgrade, else a query in the URL or the playground page.
pub async fn get(State(state): State<AppState>, req: axum::extract::Request) -> HttpResponse {
    let upgrade = req.headers().get(header::UPGRADE).and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Handler::call(super::get_graphql, req, state).await;
    }
    let (mut parts, _) = req.into_parts();
    let (Some(schema), Some(sockets)) =
        (parts.extensions.get::<Arc<DuetSchema>>().cloned(), parts.extensions.get::<Sockets>().cloned())
    else {
        return AppError::internal("the GraphQL router lacks its schema").into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade.protocols(PROTOCOLS),
        Err(rejection) => return rejection.into_response(),
    };
    let protocol = match upgrade.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-transport-ws") => Some(Protocol::TransportWs),
        Some("graphql-ws") => Some(Protocol::Legacy),
        _ => None,
    };
    let limit = state.config.request_body_limit;
    let mut upgrade_headers = parts.headers;
    if !cookie_trusted(&state, &upgrade_headers) {
        upgrade_headers.remove(header::COOKIE);
    }
    let connection = Connection { state, schema, sockets, upgrade_headers };
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection.serve(socket, protocol))
}

/// What a socket's task works with.
struct Connection {
    state: AppState,
    schema: Arc<DuetSchema>,
    sockets: Sockets,
    upgrade_headers: HeaderMap,
}

/// What a subscription task hands to the socket.
enum Out {
    Next(String, Response),
    /// Errors before the subscription was listening (it ends with them).
    Error(String, Vec<ServerError>),
    Complete(String),
}

/// The running subscriptions of a socket by id; dropping it ends them all.
#[derive(Default)]
struct Running(HashMap<String, AbortHandle>);

impl Drop for Running {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

/// A socket's state.
struct Session {
    protocol: Protocol,
    /// Set once `connection_init` came; the credential headers once it was acknowledged.
    init_seen: bool,
    credentials: Option<HeaderMap>,
    _seat: Option<Seat>,
    running: Running,
    out: mpsc::Sender<Out>,
}

/// The end of a socket: an optional last message, then the close frame.
struct Closing {
    last: Option<String>,
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Closing {
        Closing { last: None, code, reason: reason.into() }
    }
}

impl Connection {
    async fn serve(self, mut socket: WebSocket, protocol: Option<Protocol>) {
        let Some(protocol) = protocol else {
            close(&mut socket, 4406, "Subprotocol not acceptable").await;
            return;
        };
        let limits = self.state.config.graphql_ws.clone();
        let (out, mut outgoing) = mpsc::channel(OUTGOING);
        let mut session = Session {
            protocol,
            init_seen: false,
            credentials: None,
            _seat: None,
            running: Running::default(),
            out,
        };
        let init_deadline = limits.init_timeout.map(|t| Instant::now() + t);
        let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
        loop {
            let waiting_for_init = session.credentials.is_none();
            tokio::select! {
                message = socket.recv() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text.to_string(),
                        Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    };
                    match self.handle(&mut session, &limits, &text).await {
                        Ok(replies) => {
                            for reply in replies {
                                if !send(&mut socket, reply).await {
                                    return;
                                }
                            }
                        }
                        Err(closing) => {
                            if let Some(last) = closing.last {
                                send(&mut socket, last).await;
                            }
                            close(&mut socket, closing.code, &closing.reason).await;
                            break;
                        }
                    }
                }
                Some(out) = outgoing.recv() => {
                    if let Some(text) = session.deliver(out)
                        && !send(&mut socket, text).await
                    {
                        break;
                    }
                }
                () = until(init_deadline), if waiting_for_init => {
                    close(&mut socket, 4408, "Connection initialisation timeout").await;
                    break;
                }
                _ = keepalive.tick() => {
                    let ping = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default())));
                    if !matches!(ping.await, Ok(Ok(()))) {
                        break;
                    }
                }
            }
        }
        // `session` goes here: its subscriptions are aborted and the user's seat is given back.
    }

    /// Handles one client message: the messages to send back, or the socket's end.
    async fn handle(
        &self,
        session: &mut Session,
        limits: &GraphqlWsLimits,
        text: &str,
    ) -> Result<Vec<String>, Closing> {
        let invalid = |why: &str| Closing::new(4400, format!("Invalid message received: {why}"));
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
            return Err(invalid("not a JSON object"));
        };
        let kind = message.get("type").and_then(Value::as_str).unwrap_or_default();
        let id = message.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
        let payload = message.get("payload").cloned().unwrap_or(Value::Null);
        match (session.protocol, kind) {
            (_, "connection_init") => self.init(session, limits, &payload).await,
            (Protocol::TransportWs, "ping") => Ok(vec![json!({"type": "pong"}).to_string()]),
            (Protocol::TransportWs, "pong") => Ok(vec![]),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                let Some(id) = id else { return Err(invalid("a subscription needs an id")) };
                self.subscribe(session, limits, id, payload).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                let Some(id) = id else { return Err(invalid("`complete` needs an id")) };
                if let Some(task) = session.running.0.remove(id) {
                    task.abort();
                }
                Ok(vec![])
            }
            (Protocol::Legacy, "connection_terminate") => Err(Closing::new(1000, "Normal Closure")),
            _ => Err(invalid(&format!("unknown type {kind:?}"))),
        }
    }

    async fn init(
        &self,
        session: &mut Session,
        limits: &GraphqlWsLimits,
        payload: &Value,
    ) -> Result<Vec<String>, Closing> {
        if std::mem::replace(&mut session.init_seen, true) {
            return Err(Closing::new(4429, "Too many initialisation requests"));
        }
        let credentials = credentials(&self.upgrade_headers, payload);
        let caller = resolve(&self.state, &credentials).await;
        let refusal = match caller.require_user() {
            Ok(principal) => match self.sockets.take(principal.id(), limits.max_connections_per_user) {
                Some(seat) => {
                    session._seat = Some(seat);
                    session.credentials = Some(credentials);
                    return Ok(vec![json!({"type": "connection_ack"}).to_string()]);
                }
                None => format!(
                    "Too many open sockets for this user (GRAPHQL_WS_MAX_CONNECTIONS_PER_USER is {})",
                    limits.max_connections_per_user
                ),
            },
            Err(e) => e.message(),
        };
        let mut closing = Closing::new(4403, refusal.clone());
        if session.protocol == Protocol::Legacy {
            // The legacy client reads the refusal from a message.
            closing.last =
                Some(json!({"type": "connection_error", "payload": {"message": refusal}}).to_string());
        }
        Err(closing)
    }

    async fn subscribe(
        &self,
        session: &mut Session,
        limits: &GraphqlWsLimits,
        id: &str,
        payload: Value,
    ) -> Result<Vec<String>, Closing> {
        let Some(credentials) = session.credentials.clone() else {
            return Err(Closing::new(4401, "Unauthorized"));
        };
        if session.running.0.contains_key(id) {
            return Err(Closing::new(4409, format!("Subscriber for {id} already exists")));
        }
        let request: Request = serde_json::from_value(payload)
            .map_err(|e| Closing::new(4400, format!("Invalid message received: {e}")))?;
        if limits.max_subscriptions > 0 && session.running.0.len() >= limits.max_subscriptions {
            let text = format!(
                "Too many subscriptions on this socket; the limit is {} (GRAPHQL_WS_MAX_SUBSCRIPTIONS).",
                limits.max_subscriptions
            );
            let err = AppError::with_text(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimitExceeded, text);
            return Ok(vec![session.error(id, vec![app_error(&err)])]);
        }
        let request = match admit_subscription(&self.state, request) {
            Ok(request) => request,
            Err(errors) => return Ok(vec![session.error(id, errors)]),
        };
        let (started, has_started) = oneshot::channel();
        let task = tokio::spawn(run(
            self.schema.clone(),
            self.state.clone(),
            credentials,
            request,
            id.to_string(),
            session.out.clone(),
            started,
        ));
        session.running.0.insert(id.to_string(), task.abort_handle());
        let _ = has_started.await;
        Ok(vec![])
    }
}

impl Session {
    /// The text for a subscription's message, `None` for one the client has completed.
    fn deliver(&mut self, out: Out) -> Option<String> {
        match out {
            Out::Next(id, response) => {
                let kind = if self.protocol == Protocol::Legacy { "data" } else { "next" };
                self.running
                    .0
                    .contains_key(&id)
                    .then(|| json!({"type": kind, "id": id, "payload": response}).to_string())
            }
            Out::Error(id, errors) => {
                self.running.0.remove(&id)?;
                let errors = errors.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
                Some(self.error(&id, errors))
            }
            Out::Complete(id) => {
                self.running.0.remove(&id)?;
                Some(json!({"type": "complete", "id": id}).to_string())
            }
        }
    }

    fn error(&self, id: &str, errors: Vec<Value>) -> String {
        json!({"type": "error", "id": id, "payload": errors}).to_string()
    }
}

/// Runs one subscription; tells `started` once it listens or has failed.
async fn run(
    schema: Arc<DuetSchema>,
    state: AppState,
    credentials: HeaderMap,
    request: Request,
    id: String,
    out: mpsc::Sender<Out>,
    started: oneshot::Sender<()>,
) {
    let caller = resolve(&state, &credentials).await;
    let (signal, mut heard) = Listening::new();
    let mut stream = schema.execute_stream(prepare(&state, &caller, request).data(signal));
    // Until the field listens, what comes is a refusal (limits, access) and ends the stream.
    let mut signal_gone = false;
    let first = loop {
        tokio::select! {
            biased;
            fired = &mut heard, if !signal_gone => match fired {
                Ok(()) => break None,
                Err(_) => signal_gone = true,
            },
            item = futures_util::StreamExt::next(&mut stream) => break Some(item),
        }
    };
    let _ = started.send(());
    // The field may have fired and produced its first event in the same poll.
    let listening = first.is_none() || heard.try_recv().is_ok();
    let mut first = match first {
        Some(Some(response)) if !listening => {
            let _ = out.send(Out::Error(id, response.errors)).await;
            return;
        }
        Some(None) => {
            let _ = out.send(Out::Complete(id)).await;
            return;
        }
        Some(item) => item,
        None => None,
    };
    while let Some(response) = match first.take() {
        Some(response) => Some(response),
        None => futures_util::StreamExt::next(&mut stream).await,
    } {
        if out.send(Out::Next(id.clone(), response)).await.is_err() {
            return;
        }
    }
    let _ = out.send(Out::Complete(id)).await;
}

/// The request if it passes the limits of `POST /graphql` and is a subscription with one root
/// field; else the errors to answer with.
fn admit_subscription(state: &AppState, request: Request) -> Result<Request, Vec<Value>> {
    let admitted = admit(&state.config.graphql, request).map_err(|e| vec![app_error(&e)])?;
    let mut request = admitted.request;
    let name = request.operation_name.clone();
    let doc = request.parsed_query().map_err(|e| vec![serde_json::to_value(e).unwrap_or(Value::Null)])?;
    let Some((op_name, op)) =
        doc.operations.iter().find(|(n, _)| name.as_deref().is_none_or(|w| n.map(|n| n.as_str()) == Some(w)))
    else {
        // No such operation: execution answers it.
        return Ok(request);
    };
    if op.node.ty != OperationType::Subscription {
        let text = "Only subscriptions are served over the WebSocket; send queries and mutations with POST /graphql.";
        return Err(vec![app_error(&request_error(text))]);
    }
    if root_fields(doc, &op.node.selection_set.node, 0) != 1 {
        let text = match op_name {
            Some(n) => format!("Subscription \"{n}\" must select only one top level field."),
            None => "Anonymous Subscription must select only one top level field.".to_string(),
        };
        return Err(vec![app_error(&request_error(text))]);
    }
    Ok(request)
}

/// How many fields a selection set selects at its own level, fragments expanded (a fragment
/// nested deeper than the limits allow counts as too many).
fn root_fields(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> usize {
    if depth > crate::config::MAX_GRAPHQL_NESTING {
        return usize::MAX;
    }
    set.items.iter().fold(0usize, |count, item| {
        let more = match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(f) => root_fields(doc, &f.node.selection_set.node, depth + 1),
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |f| root_fields(doc, &f.node.selection_set.node, depth + 1)),
        };
        count.saturating_add(more)
    })
}

/// An `AppError` as a GraphQL error object (`message`, `extensions.code`, `extensions.status`).
fn app_error(err: &AppError) -> Value {
    let e = async_graphql::ErrorExtensions::extend(err);
    json!({"message": e.message, "extensions": e.extensions})
}

/// The headers the caller is resolved from: a credential in the init payload (`Authorization`, or
/// `token` as a bearer token; names in any case) alone, else the upgrade request's own.
fn credentials(upgrade: &HeaderMap, payload: &Value) -> HeaderMap {
    let given = payload.as_object().and_then(|p| {
        p.iter().find_map(|(k, v)| match (k.to_ascii_lowercase().as_str(), v.as_str().map(str::trim)) {
            ("authorization", Some(v)) if !v.is_empty() => Some(v.to_string()),
            ("token", Some(t)) if !t.is_empty() => Some(format!("Bearer {t}")),
            _ => None,
        })
    });
    let mut headers = HeaderMap::new();
    match given.and_then(|v| HeaderValue::from_str(&v).ok()) {
        Some(value) => {
            headers.insert(header::AUTHORIZATION, value);
        }
        None => {
            for name in [header::AUTHORIZATION, header::COOKIE, header::HeaderName::from_static("x-api-key")]
            {
                for value in upgrade.get_all(&name) {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
    }
    headers
}

/// Whether the upgrade request's cookie may sign the socket in. Browsers send cookies with a
/// WebSocket handshake from any page and apply no CORS to it, so with a `CORS_ALLOW_ORIGIN` list
/// the page's `Origin` must be listed or be this server itself (`*`, the default, allows every
/// origin, as for REST). A request without `Origin` is not from a browser page.
fn cookie_trusted(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    match &state.config.cors_allow_origin {
        CorsOrigins::Any => true,
        CorsOrigins::List(list) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            list.iter().any(|o| o == origin) || (host.is_some() && origin_host == host)
        }
    }
}

async fn resolve(state: &AppState, credentials: &HeaderMap) -> Caller {
    crate::auth::caller::resolve(&state.db, &state.keys, state.redis.as_deref(), credentials, "/graphql")
        .await
}

/// Writes one text message; `false` once the socket is unusable.
async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame { code, reason: reason[..end].to_string().into() };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// Completes at `deadline`, never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription_error(query: &str) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        let (_, op) = doc.operations.iter().next().expect("an operation");
        let n = root_fields(&doc, &op.node.selection_set.node, 0);
        (n != 1).then(|| n.to_string())
    }

    #[test]
    fn a_subscription_selects_one_root_field_fragments_included() {
        assert_eq!(subscription_error("subscription { chatEvents(chatId: \"c\") { kind } }"), None);
        assert_eq!(
            subscription_error(
                "subscription { a: chatEvents(chatId: \"c\") { kind } b: chatEvents(chatId: \"d\") { kind } }"
            ),
            Some("2".into())
        );
        assert_eq!(
            subscription_error(
                "subscription { ...F __typename } fragment F on Subscription { chatEvents(chatId: \"c\") { kind } }"
            ),
            Some("2".into())
        );
        assert_eq!(
            subscription_error("subscription { ... on Subscription { chatEvents(chatId: \"c\") { kind } } }"),
            None
        );
        // A fragment spreading itself does not loop.
        assert_eq!(
            subscription_error("subscription { ...F } fragment F on Subscription { ...F }"),
            Some(usize::MAX.to_string())
        );
    }

    #[test]
    fn the_init_payload_credential_wins_over_the_upgrade_request() {
        let mut upgrade = HeaderMap::new();
        upgrade.insert(header::COOKIE, HeaderValue::from_static("token=cookie-token"));
        let from_cookie = credentials(&upgrade, &json!({}));
        assert_eq!(from_cookie.get(header::COOKIE).and_then(|v| v.to_str().ok()), Some("token=cookie-token"));
        let bearer = credentials(&upgrade, &json!({"Authorization": "Bearer abc"}));
        assert_eq!(bearer.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), Some("Bearer abc"));
        assert!(bearer.get(header::COOKIE).is_none());
        let token = credentials(&upgrade, &json!({"token": "xyz"}));
        assert_eq!(token.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), Some("Bearer xyz"));
        let lower = credentials(&HeaderMap::new(), &json!({"authorization": "Bearer q"}));
        assert_eq!(lower.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), Some("Bearer q"));
        assert!(credentials(&HeaderMap::new(), &json!({"token": 5})).is_empty());
    }
}
