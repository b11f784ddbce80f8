//! REST ↔ GraphQL parity, as data: one row per (operation, caller, input), each sent to the REST
//! twin and to the GraphQL field over the same fixtures. A refusal must carry the same text on
//! both interfaces (REST `detail`, GraphQL `errors[0].message`), with GraphQL's
//! `extensions.code` and `extensions.status`; a success must agree on the values the row names.
//! The one allowed difference of shape is validation: REST's 422 against GraphQL's
//! `VALIDATION_ERROR`. The documented `null` answers of nullable query fields (`chat`, `user`,
//! `model`, `sharedChat` for missing or others' ids) are rows too (`Expect::Null`), never skips.
//!
//! Every row runs, and the test fails once at the end with every divergence, named
//! `op / caller / input`.

use std::fmt;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, PASSWORD, TestApp, gql};

// One module per further resource, each adding its rows to `rows()`.
mod chats;
mod completions;
mod connections;
mod folders;
mod groups;
mod models;

backend_tests!(rest_and_graphql_agree);

const NOT_AUTHENTICATED: &str = "Not authenticated";
const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const ACTION_PROHIBITED: &str = "The requested action has been restricted as a security measure.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const DEFAULT: &str = "Something went wrong :/";
const UNAUTHORIZED: &str = "401 Unauthorized";
const HUMAN_SESSION_REQUIRED: &str = "A human session is required.";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";
const INVALID_CRED: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
const INCORRECT_PASSWORD: &str = "The password provided is incorrect. Please check for typos and try again.";
const EMAIL_TAKEN: &str = "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew.";
const INVALID_EMAIL_FORMAT: &str = "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com).";
const API_KEY_CREATION_NOT_ALLOWED: &str = "API key creation is not allowed in the environment.";
const MODEL_ID_TAKEN: &str =
    "Uh-oh! This model id is already registered. Please choose another model id string.";
const MODEL_ID_TOO_LONG: &str =
    "The model id is too long. Please make sure your model id is less than 256 characters long.";
const INVALID_TITLE: &str = "[ERROR: Invalid title]";
const TAG_NONE: &str = "[ERROR: Tag name cannot be 'None']";

/// No upstream provider is configured (nothing leaves the test machine).
const NO_UPSTREAM: &[(&str, &str)] = &[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")];

/// An id no fixture has.
const UNKNOWN: &str = "no-such-id";
/// The base model of every preset the fixtures create (upstream-only: no row).
const BASE: &str = "gpt-4o";

// ---- the table's vocabulary ----

/// Who sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Pending,
    /// The fixture user: owns the chat and the share, holds a read grant on the model.
    User,
    /// Another user: no grant, no chat.
    Other,
    /// The primary admin: owns the model.
    Admin,
    /// The admin's API key.
    ApiKey,
    /// A user account made for this row (one per interface), for rows that end its sessions.
    NewUser,
    /// An admin account made for this row (one per interface), for rows that replace its key.
    NewAdmin,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Who::Anonymous => "anonymous",
            Who::Pending => "pending",
            Who::User => "user",
            Who::Other => "other user",
            Who::Admin => "admin",
            Who::ApiKey => "API key",
            Who::NewUser => "new user",
            Who::NewAdmin => "new admin",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Valid,
    Invalid,
    /// An id that does not exist.
    Unknown,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Input::Valid => "valid",
            Input::Invalid => "invalid",
            Input::Unknown => "unknown id",
        })
    }
}

/// A resource made for the row before each interface's request (so a destructive or toggling
/// operation meets the same state on both); its id is `Ctx::fresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    None,
    /// A chat of the fixture user.
    Chat,
    /// A chat of the fixture user tagged `Keep` and `Drop`.
    TaggedChat,
    /// A preset of the admin.
    Model,
    /// A user account (role `user`).
    Account,
    /// A group of the admin's with the fixture user as its member.
    Group,
    /// A folder of the fixture user's at the root, holding one chat of theirs.
    Folder,
    /// A model of the admin's without a base model, at its second version (`Ctx::version` is
    /// the first).
    VersionedModel,
    /// A chat of the fixture user with a question `q` and its answer `a` (current).
    ChatWithMessages,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Rest,
    Graphql,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Rest => "rest",
            Side::Graphql => "gql",
        }
    }
}

/// A fixture account.
struct Account {
    token: String,
    id: String,
    name: &'static str,
    email: &'static str,
    role: &'static str,
}

impl Account {
    /// What a model's reader sees of its owner: REST's `user`, GraphQL's `UserSummary`.
    fn summary(&self) -> Value {
        json!({"id": self.id, "name": self.name, "role": self.role, "email": self.email})
    }
}

/// Made once per backend.
struct Fx {
    admin: Account,
    pending: Account,
    user: Account,
    other: Account,
    api_key: String,
    /// The user's chat, shared.
    chat: String,
    share: String,
    /// The admin's preset; the user holds a read grant.
    model: String,
    /// The preset's one (live) version.
    model_version: String,
    /// The user's folder (`folders::FOLDER_NAME`), empty.
    folder: String,
}

const CHAT_TITLE: &str = "Uma's chat";
const MODEL_NAME: &str = "Parity Model";

/// What a row's request builders see.
struct Ctx<'a> {
    fx: &'a Fx,
    side: Side,
    /// The id of the row's `Setup` resource (empty without one).
    fresh: String,
    /// The first version of a `Setup::VersionedModel` (empty otherwise).
    version: String,
}

/// A REST request.
struct Req {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn get(path: impl Into<String>) -> Req {
    Req { method: "GET", path: path.into(), body: None }
}

fn post(path: impl Into<String>, body: Value) -> Req {
    Req { method: "POST", path: path.into(), body: Some(body) }
}

/// A POST without a body (the route reads none).
fn post_empty(path: impl Into<String>) -> Req {
    Req { method: "POST", path: path.into(), body: None }
}

fn delete(path: impl Into<String>) -> Req {
    Req { method: "DELETE", path: path.into(), body: None }
}

fn delete_with(path: impl Into<String>, body: Value) -> Req {
    Req { method: "DELETE", path: path.into(), body: Some(body) }
}

/// One comparison of a success: a JSON pointer into the REST body and one into the GraphQL
/// field's value (`""` is the whole value).
enum Check {
    /// Equal on both interfaces (and not null).
    Same(&'static str, &'static str),
    /// This value on both.
    Is(&'static str, &'static str, Value),
    /// A value from the fixtures on both.
    Fixture(&'static str, &'static str, fn(&Fx) -> Value),
    /// Each interface's own `Setup` resource id.
    Fresh(&'static str, &'static str),
    /// Present and not null on both (values made per request, e.g. share ids).
    Set(&'static str, &'static str),
    /// REST's array length equals GraphQL's number (or array length).
    Count(&'static str, &'static str),
    /// Strings with this prefix on both.
    Prefix(&'static str, &'static str, &'static str),
    /// REST has the first value, GraphQL the fixture's: a difference docs/graphql.md documents.
    Documented(&'static str, Value, &'static str, fn(&Fx) -> Value),
}

enum Expect {
    /// REST answers `status` with `detail`; GraphQL's first error has `detail` as message,
    /// `code` as `extensions.code` and `status` as `extensions.status`.
    Refused { status: u16, code: &'static str, detail: &'static str },
    /// REST 422 (either shape); GraphQL `VALIDATION_ERROR`.
    Invalid,
    /// REST refuses (`status`, `detail`); GraphQL answers `null` without an error, as
    /// documented in docs/graphql.md for nullable query fields.
    Null { status: u16, detail: &'static str },
    /// REST 200, GraphQL data without errors, and the checks.
    Ok(Vec<Check>),
    /// REST refuses (`status`, `detail`) where GraphQL answers (the checks run on GraphQL's data
    /// alone): a difference docs/graphql.md documents.
    Answers { status: u16, detail: &'static str, checks: Vec<Check> },
}

fn refused(status: u16, code: &'static str, detail: &'static str) -> Expect {
    Expect::Refused { status, code, detail }
}

fn anonymous() -> Expect {
    refused(401, "NOT_AUTHENTICATED", NOT_AUTHENTICATED)
}

fn prohibited() -> Expect {
    refused(401, "ACCESS_PROHIBITED", ACCESS_PROHIBITED)
}

fn null(status: u16, detail: &'static str) -> Expect {
    Expect::Null { status, detail }
}

struct Row {
    op: &'static str,
    who: Who,
    input: Input,
    /// What the input is, when `input` alone does not say.
    case: &'static str,
    setup: Setup,
    rest: fn(&Ctx<'_>) -> Req,
    query: &'static str,
    vars: fn(&Ctx<'_>) -> Value,
    expect: Expect,
}

impl Row {
    fn name(&self) -> String {
        let mut name = format!("{} / {} / {}", self.op, self.who, self.input);
        if !self.case.is_empty() {
            name.push_str(&format!(" ({})", self.case));
        }
        name
    }

    fn with(mut self, setup: Setup) -> Row {
        self.setup = setup;
        self
    }

    fn case(mut self, case: &'static str) -> Row {
        self.case = case;
        self
    }
}

fn row(
    op: &'static str,
    who: Who,
    input: Input,
    rest: fn(&Ctx<'_>) -> Req,
    query: &'static str,
    vars: fn(&Ctx<'_>) -> Value,
    expect: Expect,
) -> Row {
    Row { op, who, input, case: "", setup: Setup::None, rest, query, vars, expect }
}

/// The GraphQL field a query selects first (the row's operation).
fn field(query: &str) -> &str {
    let after = query.split_once('{').map_or("", |(_, rest)| rest).trim_start();
    let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
    &after[..end]
}

// ---- variables ----

fn no_vars(_: &Ctx<'_>) -> Value {
    json!({})
}

fn chat_vars(c: &Ctx<'_>) -> Value {
    json!({"id": c.fx.chat})
}

fn fresh_vars(c: &Ctx<'_>) -> Value {
    json!({"id": c.fresh})
}

fn unknown_vars(_: &Ctx<'_>) -> Value {
    json!({"id": UNKNOWN})
}

fn model_vars(c: &Ctx<'_>) -> Value {
    json!({"id": c.fx.model})
}

fn long_text() -> String {
    "a".repeat(1001)
}

// ---- GraphQL documents ----

const ME: &str = "{ me { id name email role } }";
const USER: &str = "query($id: String!) { user(id: $id) { id name email role } }";
const USERS: &str = "query($q: String) { users(query: $q) { totalCount } }";
const CHAT: &str = "query($id: String!) { chat(id: $id) { id title pinned archived } }";
const CHATS: &str = "query($s: String) { chats(search: $s) { totalCount } }";
const SHARED_CHAT: &str = "query($s: String!) { sharedChat(shareId: $s) { id title } }";
const MODEL: &str =
    "query($id: String!) { model(id: $id) { id name params writeAccess user { id name role email } } }";
const MODELS: &str = "query($q: String) { models(query: $q) { totalCount edges { node { id user { id name role email } } } } }";
const SIGNUP: &str = "mutation($n: String!, $e: String!, $p: String!) { signup(name: $n, email: $e, password: $p) { tokenType user { id email role } } }";
const SIGNIN: &str = "mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { tokenType user { id email role } } }";
const SIGNOUT: &str = "mutation { signout }";
const UPDATE_PROFILE: &str = "mutation($n: String!, $u: String!) { updateProfile(name: $n, profileImageUrl: $u) { id name email role profileImageUrl } }";
const UPDATE_PASSWORD: &str =
    "mutation($p: String!, $n: String!) { updatePassword(password: $p, newPassword: $n) }";
const CREATE_API_KEY: &str = "mutation { createApiKey }";
const DELETE_API_KEY: &str = "mutation { deleteApiKey }";
const CREATE_CHAT: &str = "mutation($c: JSON!) { createChat(chat: $c) { id title } }";
const UPDATE_CHAT: &str = "mutation($id: String!, $c: JSON!) { updateChat(id: $id, chat: $c) { id title } }";
const DELETE_CHAT: &str = "mutation($id: String!) { deleteChat(id: $id) }";
const PIN_CHAT: &str = "mutation($id: String!) { pinChat(id: $id) { id pinned } }";
const ARCHIVE_CHAT: &str = "mutation($id: String!) { archiveChat(id: $id) { id archived } }";
const SHARE_CHAT: &str = "mutation($id: String!) { shareChat(id: $id) { id shareId } }";
const UNSHARE_CHAT: &str = "mutation($id: String!) { unshareChat(id: $id) }";
const CLONE_CHAT: &str = "mutation($id: String!, $t: String) { cloneChat(id: $id, title: $t) { title } }";
const ADD_CHAT_TAG: &str =
    "mutation($id: String!, $n: String!) { addChatTag(id: $id, name: $n) { id name } }";
const REMOVE_CHAT_TAG: &str =
    "mutation($id: String!, $n: String!) { removeChatTag(id: $id, name: $n) { id name } }";
const CREATE_MODEL: &str =
    "mutation($i: ModelInput!) { createModel(input: $i) { id name baseModelId isActive } }";
const UPDATE_MODEL: &str = "mutation($i: ModelInput!) { updateModel(input: $i) { id name baseModelId } }";
const DELETE_MODEL: &str = "mutation($id: String!) { deleteModel(id: $id) }";
const TOGGLE_MODEL: &str = "mutation($id: String!) { toggleModel(id: $id) { id isActive } }";
const UPDATE_USER: &str =
    "mutation($id: String!, $i: UserUpdateInput!) { updateUser(id: $id, input: $i) { id name role } }";
const DELETE_USER: &str = "mutation($id: String!) { deleteUser(id: $id) }";
const ME_SETTINGS: &str = "{ me { settings } }";
const USER_SETTINGS: &str = "query($id: String!) { user(id: $id) { settings(raw: true) } }";
const UPDATE_SETTINGS: &str = "mutation($s: JSON!) { updateSettings(settings: $s) }";

// ---- the table ----

fn rows() -> Vec<Row> {
    use Check::*;
    use Input::{Invalid, Unknown, Valid};
    use Who::*;

    let mut t = Vec::new();

    // me — GET /api/v1/auths/
    let me_rest = |_: &Ctx<'_>| get("/api/v1/auths/");
    t.push(row("me", Anonymous, Valid, me_rest, ME, no_vars, anonymous()));
    t.push(row(
        "me",
        Pending,
        Valid,
        me_rest,
        ME,
        no_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.pending.id)),
            Is("/role", "/role", json!("pending")),
            Same("/email", "/email"),
            Same("/name", "/name"),
        ]),
    ));
    t.push(row(
        "me",
        User,
        Valid,
        me_rest,
        ME,
        no_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.user.id)),
            Same("/name", "/name"),
            Same("/email", "/email"),
            Same("/role", "/role"),
        ]),
    ));
    t.push(row(
        "me",
        Admin,
        Valid,
        me_rest,
        ME,
        no_vars,
        Expect::Ok(vec![Fixture("/id", "/id", |f| json!(f.admin.id)), Is("/role", "/role", json!("admin"))]),
    ));
    t.push(row(
        "me",
        ApiKey,
        Valid,
        me_rest,
        ME,
        no_vars,
        // `GET /auths/` answers a person's session (it echoes the token); `me` answers whose the
        // credential is, for API keys too.
        Expect::Answers {
            status: 403,
            detail: HUMAN_SESSION_REQUIRED,
            checks: vec![Fixture("/id", "/id", |f| json!(f.admin.id)), Is("/role", "/role", json!("admin"))],
        },
    ));

    // user(id:) — GET /api/v1/users/{id}
    let user_rest = |c: &Ctx<'_>| get(format!("/api/v1/users/{}", c.fx.user.id));
    let user_vars = |c: &Ctx<'_>| json!({"id": c.fx.user.id});
    t.push(row("user", Anonymous, Valid, user_rest, USER, user_vars, anonymous()));
    t.push(
        row(
            "user",
            Pending,
            Valid,
            |c| get(format!("/api/v1/users/{}", c.fx.pending.id)),
            USER,
            |c| json!({"id": c.fx.pending.id}),
            prohibited(),
        )
        .case("own id"),
    );
    t.push(
        row(
            "user",
            User,
            Valid,
            user_rest,
            USER,
            user_vars,
            Expect::Ok(vec![
                Fixture("/id", "/id", |f| json!(f.user.id)),
                Same("/name", "/name"),
                Same("/email", "/email"),
                Same("/role", "/role"),
            ]),
        )
        .case("own id"),
    );
    t.push(
        row(
            "user",
            User,
            Valid,
            |c| get(format!("/api/v1/users/{}", c.fx.admin.id)),
            USER,
            |c| json!({"id": c.fx.admin.id}),
            prohibited(),
        )
        .case("another user's id"),
    );
    t.push(row(
        "user",
        Admin,
        Valid,
        user_rest,
        USER,
        user_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.user.id)),
            Same("/name", "/name"),
            Same("/email", "/email"),
            Is("/role", "/role", json!("user")),
        ]),
    ));
    t.push(row(
        "user",
        Admin,
        Unknown,
        |_| get(format!("/api/v1/users/{UNKNOWN}")),
        USER,
        unknown_vars,
        null(400, NOT_FOUND),
    ));
    t.push(row(
        "user",
        ApiKey,
        Valid,
        user_rest,
        USER,
        user_vars,
        Expect::Ok(vec![Fixture("/id", "/id", |f| json!(f.user.id)), Same("/email", "/email")]),
    ));

    // users — GET /api/v1/users/
    let users_rest = |_: &Ctx<'_>| get("/api/v1/users/");
    let users_total = || Expect::Ok(vec![Same("/total", "/totalCount")]);
    t.push(row("users", Anonymous, Valid, users_rest, USERS, no_vars, anonymous()));
    t.push(row("users", Pending, Valid, users_rest, USERS, no_vars, prohibited()));
    t.push(row("users", User, Valid, users_rest, USERS, no_vars, prohibited()));
    t.push(row("users", Admin, Valid, users_rest, USERS, no_vars, users_total()));
    t.push(row("users", ApiKey, Valid, users_rest, USERS, no_vars, users_total()));
    t.push(
        row(
            "users",
            Admin,
            Invalid,
            |_| get(format!("/api/v1/users/?query={}", long_text())),
            USERS,
            |_| json!({"q": long_text()}),
            Expect::Invalid,
        )
        .case("query over 1000 characters"),
    );

    // chat(id:) — GET /api/v1/chats/{id}
    let chat_rest = |c: &Ctx<'_>| get(format!("/api/v1/chats/{}", c.fx.chat));
    t.push(row("chat", Anonymous, Valid, chat_rest, CHAT, chat_vars, anonymous()));
    t.push(row("chat", Pending, Valid, chat_rest, CHAT, chat_vars, prohibited()));
    t.push(row(
        "chat",
        User,
        Valid,
        chat_rest,
        CHAT,
        chat_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.chat)),
            Is("/title", "/title", json!(CHAT_TITLE)),
            Same("/pinned", "/pinned"),
            Same("/archived", "/archived"),
        ]),
    ));
    t.push(
        row("chat", Other, Valid, chat_rest, CHAT, chat_vars, null(401, NOT_FOUND)).case("the user's chat"),
    );
    t.push(row(
        "chat",
        User,
        Unknown,
        |_| get(format!("/api/v1/chats/{UNKNOWN}")),
        CHAT,
        unknown_vars,
        null(401, NOT_FOUND),
    ));
    t.push(
        row(
            "chat",
            Admin,
            Valid,
            chat_rest,
            CHAT,
            chat_vars,
            Expect::Ok(vec![Fixture("/id", "/id", |f| json!(f.chat)), Same("/title", "/title")]),
        )
        .case("the user's chat"),
    );
    t.push(
        row(
            "chat",
            ApiKey,
            Valid,
            chat_rest,
            CHAT,
            chat_vars,
            Expect::Ok(vec![Fixture("/id", "/id", |f| json!(f.chat)), Same("/title", "/title")]),
        )
        .case("the user's chat"),
    );

    // chats — GET /api/v1/chats/?include_pinned=true (GraphQL lists pinned chats too), and
    // GET /api/v1/chats/search for `search`
    let chats_rest = |_: &Ctx<'_>| get("/api/v1/chats/?include_pinned=true");
    let chats_count = || Expect::Ok(vec![Count("", "/totalCount")]);
    t.push(row("chats", Anonymous, Valid, chats_rest, CHATS, no_vars, anonymous()));
    t.push(row("chats", Pending, Valid, chats_rest, CHATS, no_vars, prohibited()));
    t.push(row("chats", User, Valid, chats_rest, CHATS, no_vars, chats_count()));
    t.push(row("chats", Other, Valid, chats_rest, CHATS, no_vars, chats_count()));
    t.push(
        row(
            "chats",
            User,
            Valid,
            |_| get("/api/v1/chats/search?text=Uma"),
            CHATS,
            |_| json!({"s": "Uma"}),
            chats_count(),
        )
        .case("search"),
    );
    t.push(
        row(
            "chats",
            User,
            Invalid,
            |_| get(format!("/api/v1/chats/search?text={}", long_text())),
            CHATS,
            |_| json!({"s": long_text()}),
            Expect::Invalid,
        )
        .case("search over 1000 characters"),
    );

    // sharedChat(shareId:) — GET /api/v1/chats/share/{share_id}
    let share_rest = |c: &Ctx<'_>| get(format!("/api/v1/chats/share/{}", c.fx.share));
    let share_vars = |c: &Ctx<'_>| json!({"s": c.fx.share});
    t.push(row(
        "sharedChat",
        Anonymous,
        Valid,
        share_rest,
        SHARED_CHAT,
        share_vars,
        refused(401, "INVALID_TOKEN", INVALID_TOKEN),
    ));
    // A pending reader counts as no reader (the reference's optional verified user).
    t.push(row(
        "sharedChat",
        Pending,
        Valid,
        share_rest,
        SHARED_CHAT,
        share_vars,
        refused(401, "INVALID_TOKEN", INVALID_TOKEN),
    ));
    t.push(row(
        "sharedChat",
        User,
        Valid,
        share_rest,
        SHARED_CHAT,
        share_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.share)),
            Is("/title", "/title", json!(CHAT_TITLE)),
        ]),
    ));
    t.push(
        row("sharedChat", Other, Valid, share_rest, SHARED_CHAT, share_vars, prohibited())
            .case("the user's share"),
    );
    t.push(row(
        "sharedChat",
        User,
        Unknown,
        |_| get(format!("/api/v1/chats/share/{UNKNOWN}")),
        SHARED_CHAT,
        |_| json!({"s": UNKNOWN}),
        null(401, NOT_FOUND),
    ));
    t.push(
        row(
            "sharedChat",
            Admin,
            Valid,
            share_rest,
            SHARED_CHAT,
            share_vars,
            Expect::Ok(vec![Fixture("/id", "/id", |f| json!(f.share)), Same("/title", "/title")]),
        )
        .case("the user's share"),
    );

    // model(id:) — GET /api/v1/models/model?id=
    let model_rest = |c: &Ctx<'_>| get(format!("/api/v1/models/model?id={}", c.fx.model));
    t.push(row("model", Anonymous, Valid, model_rest, MODEL, model_vars, anonymous()));
    t.push(row("model", Pending, Valid, model_rest, MODEL, model_vars, prohibited()));
    t.push(
        row(
            "model",
            User,
            Valid,
            model_rest,
            MODEL,
            model_vars,
            Expect::Ok(vec![
                Fixture("/id", "/id", |f| json!(f.model)),
                Is("/name", "/name", json!(MODEL_NAME)),
                Is("/params", "/params", json!({})),
                Is("/write_access", "/writeAccess", json!(false)),
                // The owner, exactly `{id, name, role, email}`, on GraphQL; the single-model route
                // answers `user: null`, as the reference's does.
                Documented("/user", Value::Null, "/user", |f| f.admin.summary()),
            ]),
        )
        .case("read grant"),
    );
    t.push(
        row("model", Other, Valid, model_rest, MODEL, model_vars, null(401, ACCESS_PROHIBITED))
            .case("no grant"),
    );
    t.push(row(
        "model",
        Admin,
        Valid,
        model_rest,
        MODEL,
        model_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.model)),
            Same("/name", "/name"),
            Is("/params", "/params", json!({"temperature": 0.5})),
            Is("/write_access", "/writeAccess", json!(true)),
        ]),
    ));
    t.push(row(
        "model",
        Admin,
        Unknown,
        |_| get(format!("/api/v1/models/model?id={UNKNOWN}")),
        MODEL,
        unknown_vars,
        null(404, NOT_FOUND),
    ));

    // models — GET /api/v1/models/list
    let models_rest = |_: &Ctx<'_>| get("/api/v1/models/list");
    t.push(row("models", Anonymous, Valid, models_rest, MODELS, no_vars, anonymous()));
    t.push(row("models", Pending, Valid, models_rest, MODELS, no_vars, prohibited()));
    t.push(
        row(
            "models",
            User,
            Valid,
            models_rest,
            MODELS,
            no_vars,
            Expect::Ok(vec![
                Is("/total", "/totalCount", json!(1)),
                Fixture("/items/0/id", "/edges/0/node/id", |f| json!(f.model)),
                Fixture("/items/0/user", "/edges/0/node/user", |f| f.admin.summary()),
            ]),
        )
        .case("read grant"),
    );
    t.push(row(
        "models",
        Other,
        Valid,
        models_rest,
        MODELS,
        no_vars,
        Expect::Ok(vec![Is("/total", "/totalCount", json!(0))]),
    ));
    t.push(row(
        "models",
        Admin,
        Valid,
        models_rest,
        MODELS,
        no_vars,
        Expect::Ok(vec![Same("/total", "/totalCount"), Same("/items/0/id", "/edges/0/node/id")]),
    ));
    t.push(
        row(
            "models",
            User,
            Invalid,
            |_| get(format!("/api/v1/models/list?query={}", long_text())),
            MODELS,
            |_| json!({"q": long_text()}),
            Expect::Invalid,
        )
        .case("query over 1000 characters"),
    );

    // signup — POST /api/v1/auths/signup (sign-up is switched on for the run)
    t.push(row(
        "signup",
        Anonymous,
        Valid,
        |c| {
            post(
                "/api/v1/auths/signup",
                json!({"name": "Newcomer", "email": format!("signup-{}@example.com", c.side.tag()), "password": PASSWORD}),
            )
        },
        SIGNUP,
        |c| json!({"n": "Newcomer", "e": format!("signup-{}@example.com", c.side.tag()), "p": PASSWORD}),
        Expect::Ok(vec![Is("/role", "/user/role", json!("pending")), Same("/token_type", "/tokenType")]),
    ));
    t.push(
        row(
            "signup",
            Anonymous,
            Invalid,
            |_| {
                post(
                    "/api/v1/auths/signup",
                    json!({"name": "N", "email": "not-an-email", "password": PASSWORD}),
                )
            },
            SIGNUP,
            |_| json!({"n": "N", "e": "not-an-email", "p": PASSWORD}),
            refused(400, "INVALID_EMAIL_FORMAT", INVALID_EMAIL_FORMAT),
        )
        .case("malformed email"),
    );
    t.push(
        row(
            "signup",
            Anonymous,
            Invalid,
            |c| {
                post(
                    "/api/v1/auths/signup",
                    json!({"name": "N", "email": c.fx.user.email, "password": PASSWORD}),
                )
            },
            SIGNUP,
            |c| json!({"n": "N", "e": c.fx.user.email, "p": PASSWORD}),
            refused(400, "EMAIL_TAKEN", EMAIL_TAKEN),
        )
        .case("email taken"),
    );

    // signin — POST /api/v1/auths/signin
    t.push(row(
        "signin",
        Anonymous,
        Valid,
        |c| post("/api/v1/auths/signin", json!({"email": c.fx.user.email, "password": PASSWORD})),
        SIGNIN,
        |c| json!({"e": c.fx.user.email, "p": PASSWORD}),
        Expect::Ok(vec![
            Fixture("/id", "/user/id", |f| json!(f.user.id)),
            Same("/email", "/user/email"),
            Same("/role", "/user/role"),
            Same("/token_type", "/tokenType"),
        ]),
    ));
    t.push(
        row(
            "signin",
            Anonymous,
            Invalid,
            |c| post("/api/v1/auths/signin", json!({"email": c.fx.user.email, "password": "wrong"})),
            SIGNIN,
            |c| json!({"e": c.fx.user.email, "p": "wrong"}),
            refused(400, "INVALID_CRED", INVALID_CRED),
        )
        .case("wrong password"),
    );

    // signout — POST /api/v1/auths/signout
    let signout_rest = |_: &Ctx<'_>| post_empty("/api/v1/auths/signout");
    let signed_out = || Expect::Ok(vec![Is("/status", "", json!(true))]);
    t.push(row("signout", Anonymous, Valid, signout_rest, SIGNOUT, no_vars, signed_out()));
    t.push(row("signout", NewUser, Valid, signout_rest, SIGNOUT, no_vars, signed_out()));
    t.push(row("signout", ApiKey, Valid, signout_rest, SIGNOUT, no_vars, signed_out()));

    // updateProfile — POST /api/v1/auths/update/profile
    let profile_rest = |_: &Ctx<'_>| {
        post("/api/v1/auths/update/profile", json!({"name": "Uma", "profile_image_url": "/user.png"}))
    };
    let profile_vars = |_: &Ctx<'_>| json!({"n": "Uma", "u": "/user.png"});
    t.push(row("updateProfile", Anonymous, Valid, profile_rest, UPDATE_PROFILE, profile_vars, anonymous()));
    t.push(row("updateProfile", Pending, Valid, profile_rest, UPDATE_PROFILE, profile_vars, prohibited()));
    t.push(row(
        "updateProfile",
        User,
        Valid,
        profile_rest,
        UPDATE_PROFILE,
        profile_vars,
        Expect::Ok(vec![
            Fixture("/id", "/id", |f| json!(f.user.id)),
            Is("/name", "/name", json!("Uma")),
            Same("/email", "/email"),
            Same("/role", "/role"),
            Same("/profile_image_url", "/profileImageUrl"),
        ]),
    ));
    t.push(
        row(
            "updateProfile",
            User,
            Invalid,
            |_| {
                post(
                    "/api/v1/auths/update/profile",
                    json!({"name": "Uma", "profile_image_url": "javascript:alert(1)"}),
                )
            },
            UPDATE_PROFILE,
            |_| json!({"n": "Uma", "u": "javascript:alert(1)"}),
            Expect::Invalid,
        )
        .case("script image URL"),
    );

    // updatePassword — POST /api/v1/auths/update/password
    let password_rest = |_: &Ctx<'_>| {
        post("/api/v1/auths/update/password", json!({"password": PASSWORD, "new_password": "N3w-pass!"}))
    };
    let password_vars = |_: &Ctx<'_>| json!({"p": PASSWORD, "n": "N3w-pass!"});
    t.push(row(
        "updatePassword",
        Anonymous,
        Valid,
        password_rest,
        UPDATE_PASSWORD,
        password_vars,
        anonymous(),
    ));
    t.push(row(
        "updatePassword",
        NewUser,
        Valid,
        password_rest,
        UPDATE_PASSWORD,
        password_vars,
        Expect::Ok(vec![Is("", "", json!(true))]),
    ));
    t.push(
        row(
            "updatePassword",
            User,
            Invalid,
            |_| {
                post(
                    "/api/v1/auths/update/password",
                    json!({"password": "wrong", "new_password": "N3w-pass!"}),
                )
            },
            UPDATE_PASSWORD,
            |_| json!({"p": "wrong", "n": "N3w-pass!"}),
            refused(400, "INCORRECT_PASSWORD", INCORRECT_PASSWORD),
        )
        .case("wrong current password"),
    );
    t.push(row(
        "updatePassword",
        ApiKey,
        Valid,
        password_rest,
        UPDATE_PASSWORD,
        password_vars,
        refused(403, "HUMAN_SESSION_REQUIRED", HUMAN_SESSION_REQUIRED),
    ));

    // createApiKey — POST /api/v1/auths/api_key (keys are enabled for the run)
    let create_key_rest = |_: &Ctx<'_>| post_empty("/api/v1/auths/api_key");
    t.push(row("createApiKey", Anonymous, Valid, create_key_rest, CREATE_API_KEY, no_vars, anonymous()));
    t.push(row(
        "createApiKey",
        User,
        Valid,
        create_key_rest,
        CREATE_API_KEY,
        no_vars,
        refused(403, "API_KEY_CREATION_NOT_ALLOWED", API_KEY_CREATION_NOT_ALLOWED),
    ));
    t.push(row(
        "createApiKey",
        NewAdmin,
        Valid,
        create_key_rest,
        CREATE_API_KEY,
        no_vars,
        Expect::Ok(vec![Prefix("/api_key", "", "sk-")]),
    ));
    t.push(row(
        "createApiKey",
        ApiKey,
        Valid,
        create_key_rest,
        CREATE_API_KEY,
        no_vars,
        refused(403, "HUMAN_SESSION_REQUIRED", HUMAN_SESSION_REQUIRED),
    ));

    // deleteApiKey — DELETE /api/v1/auths/api_key
    let delete_key_rest = |_: &Ctx<'_>| delete("/api/v1/auths/api_key");
    t.push(row("deleteApiKey", Anonymous, Valid, delete_key_rest, DELETE_API_KEY, no_vars, anonymous()));
    t.push(row(
        "deleteApiKey",
        User,
        Valid,
        delete_key_rest,
        DELETE_API_KEY,
        no_vars,
        refused(403, "API_KEY_CREATION_NOT_ALLOWED", API_KEY_CREATION_NOT_ALLOWED),
    ));
    t.push(row(
        "deleteApiKey",
        NewAdmin,
        Valid,
        delete_key_rest,
        DELETE_API_KEY,
        no_vars,
        Expect::Ok(vec![Is("", "", json!(true))]),
    ));
    t.push(row(
        "deleteApiKey",
        ApiKey,
        Valid,
        delete_key_rest,
        DELETE_API_KEY,
        no_vars,
        refused(403, "HUMAN_SESSION_REQUIRED", HUMAN_SESSION_REQUIRED),
    ));

    // createChat — POST /api/v1/chats/new
    let create_chat_rest =
        |_: &Ctx<'_>| post("/api/v1/chats/new", json!({"chat": {"title": "Parity new chat"}}));
    let create_chat_vars = |_: &Ctx<'_>| json!({"c": {"title": "Parity new chat"}});
    let created_chat = || Expect::Ok(vec![Is("/title", "/title", json!("Parity new chat"))]);
    // The caller is checked before the input: the REST 401, not a validation error.
    t.push(
        row(
            "createChat",
            Anonymous,
            Invalid,
            |_| post("/api/v1/chats/new", json!({"chat": 5})),
            "mutation { createChat(chat: 5) { id } }",
            no_vars,
            anonymous(),
        )
        .case("chat: 5"),
    );
    t.push(row("createChat", Anonymous, Valid, create_chat_rest, CREATE_CHAT, create_chat_vars, anonymous()));
    t.push(row("createChat", Pending, Valid, create_chat_rest, CREATE_CHAT, create_chat_vars, prohibited()));
    t.push(row("createChat", User, Valid, create_chat_rest, CREATE_CHAT, create_chat_vars, created_chat()));
    t.push(row("createChat", ApiKey, Valid, create_chat_rest, CREATE_CHAT, create_chat_vars, created_chat()));
    t.push(
        row(
            "createChat",
            User,
            Invalid,
            |_| post("/api/v1/chats/new", json!({"chat": 5})),
            CREATE_CHAT,
            |_| json!({"c": 5}),
            Expect::Invalid,
        )
        .case("chat: 5"),
    );
    t.push(
        row(
            "createChat",
            User,
            Invalid,
            |_| post("/api/v1/chats/new", json!({"chat": {"title": "t".repeat(1001)}})),
            CREATE_CHAT,
            |_| json!({"c": {"title": "t".repeat(1001)}}),
            refused(400, "INVALID_TITLE", INVALID_TITLE),
        )
        .case("title over 1000 characters"),
    );

    // updateChat — POST /api/v1/chats/{id}
    let update_chat_rest =
        |c: &Ctx<'_>| post(format!("/api/v1/chats/{}", c.fx.chat), json!({"chat": {"title": "Taken over"}}));
    let update_chat_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "c": {"title": "Taken over"}});
    t.push(row("updateChat", Anonymous, Valid, update_chat_rest, UPDATE_CHAT, update_chat_vars, anonymous()));
    t.push(row("updateChat", Pending, Valid, update_chat_rest, UPDATE_CHAT, update_chat_vars, prohibited()));
    t.push(
        row(
            "updateChat",
            User,
            Valid,
            |c| post(format!("/api/v1/chats/{}", c.fresh), json!({"chat": {"title": "Renamed"}})),
            UPDATE_CHAT,
            |c| json!({"id": c.fresh, "c": {"title": "Renamed"}}),
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/title", "/title", json!("Renamed"))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "updateChat",
            User,
            Invalid,
            |c| post(format!("/api/v1/chats/{}", c.fx.chat), json!({"chat": 5})),
            UPDATE_CHAT,
            |c| json!({"id": c.fx.chat, "c": 5}),
            Expect::Invalid,
        )
        .case("chat: 5"),
    );
    t.push(
        row("updateChat", Other, Valid, update_chat_rest, UPDATE_CHAT, update_chat_vars, prohibited())
            .case("the user's chat"),
    );
    t.push(row(
        "updateChat",
        User,
        Unknown,
        |_| post(format!("/api/v1/chats/{UNKNOWN}"), json!({"chat": {"title": "x"}})),
        UPDATE_CHAT,
        |_| json!({"id": UNKNOWN, "c": {"title": "x"}}),
        prohibited(),
    ));

    // deleteChat — DELETE /api/v1/chats/{id}
    let delete_chat_rest = |c: &Ctx<'_>| delete(format!("/api/v1/chats/{}", c.fx.chat));
    t.push(row("deleteChat", Anonymous, Valid, delete_chat_rest, DELETE_CHAT, chat_vars, anonymous()));
    t.push(row("deleteChat", Pending, Valid, delete_chat_rest, DELETE_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "deleteChat",
            User,
            Valid,
            |c| delete(format!("/api/v1/chats/{}", c.fresh)),
            DELETE_CHAT,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "deleteChat",
            Other,
            Valid,
            delete_chat_rest,
            DELETE_CHAT,
            chat_vars,
            refused(404, "NOT_FOUND", NOT_FOUND),
        )
        .case("the user's chat"),
    );
    t.push(row(
        "deleteChat",
        User,
        Unknown,
        |_| delete(format!("/api/v1/chats/{UNKNOWN}")),
        DELETE_CHAT,
        unknown_vars,
        refused(404, "NOT_FOUND", NOT_FOUND),
    ));

    // pinChat — POST /api/v1/chats/{id}/pin
    let pin_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/chats/{}/pin", c.fx.chat));
    t.push(row("pinChat", Anonymous, Valid, pin_rest, PIN_CHAT, chat_vars, anonymous()));
    t.push(row("pinChat", Pending, Valid, pin_rest, PIN_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "pinChat",
            User,
            Valid,
            |c| post_empty(format!("/api/v1/chats/{}/pin", c.fresh)),
            PIN_CHAT,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/pinned", "/pinned", json!(true))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row("pinChat", Other, Valid, pin_rest, PIN_CHAT, chat_vars, refused(401, "DEFAULT", DEFAULT))
            .case("the user's chat"),
    );
    t.push(row(
        "pinChat",
        User,
        Unknown,
        |_| post_empty(format!("/api/v1/chats/{UNKNOWN}/pin")),
        PIN_CHAT,
        unknown_vars,
        refused(401, "DEFAULT", DEFAULT),
    ));

    // archiveChat — POST /api/v1/chats/{id}/archive
    let archive_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/chats/{}/archive", c.fx.chat));
    t.push(row("archiveChat", Anonymous, Valid, archive_rest, ARCHIVE_CHAT, chat_vars, anonymous()));
    t.push(row("archiveChat", Pending, Valid, archive_rest, ARCHIVE_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "archiveChat",
            User,
            Valid,
            |c| post_empty(format!("/api/v1/chats/{}/archive", c.fresh)),
            ARCHIVE_CHAT,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/archived", "/archived", json!(true))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "archiveChat",
            Other,
            Valid,
            archive_rest,
            ARCHIVE_CHAT,
            chat_vars,
            refused(401, "DEFAULT", DEFAULT),
        )
        .case("the user's chat"),
    );

    // shareChat — POST /api/v1/chats/{id}/share
    let share_chat_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/chats/{}/share", c.fx.chat));
    t.push(row("shareChat", Anonymous, Valid, share_chat_rest, SHARE_CHAT, chat_vars, anonymous()));
    t.push(row("shareChat", Pending, Valid, share_chat_rest, SHARE_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "shareChat",
            User,
            Valid,
            |c| post_empty(format!("/api/v1/chats/{}/share", c.fresh)),
            SHARE_CHAT,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Set("/share_id", "/shareId")]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row("shareChat", Other, Valid, share_chat_rest, SHARE_CHAT, chat_vars, prohibited())
            .case("the user's chat"),
    );

    // unshareChat — DELETE /api/v1/chats/{id}/share
    let unshare_rest = |c: &Ctx<'_>| delete(format!("/api/v1/chats/{}/share", c.fx.chat));
    t.push(row("unshareChat", Anonymous, Valid, unshare_rest, UNSHARE_CHAT, chat_vars, anonymous()));
    t.push(row("unshareChat", Pending, Valid, unshare_rest, UNSHARE_CHAT, chat_vars, prohibited()));
    t.push(
        row(
            "unshareChat",
            User,
            Valid,
            |c| delete(format!("/api/v1/chats/{}/share", c.fresh)),
            UNSHARE_CHAT,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row("unshareChat", Other, Valid, unshare_rest, UNSHARE_CHAT, chat_vars, prohibited())
            .case("the user's chat"),
    );

    // cloneChat — POST /api/v1/chats/{id}/clone
    let clone_rest = |c: &Ctx<'_>| post(format!("/api/v1/chats/{}/clone", c.fx.chat), json!({}));
    let clone_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "t": null});
    t.push(row("cloneChat", Anonymous, Valid, clone_rest, CLONE_CHAT, clone_vars, anonymous()));
    t.push(row("cloneChat", Pending, Valid, clone_rest, CLONE_CHAT, clone_vars, prohibited()));
    t.push(row(
        "cloneChat",
        User,
        Valid,
        clone_rest,
        CLONE_CHAT,
        clone_vars,
        Expect::Ok(vec![Is("/title", "/title", json!(format!("Clone of {CHAT_TITLE}")))]),
    ));
    t.push(
        row(
            "cloneChat",
            User,
            Valid,
            |c| post(format!("/api/v1/chats/{}/clone", c.fx.chat), json!({"title": "Copy"})),
            CLONE_CHAT,
            |c| json!({"id": c.fx.chat, "t": "Copy"}),
            Expect::Ok(vec![Is("/title", "/title", json!("Copy"))]),
        )
        .case("with a title"),
    );
    t.push(
        row("cloneChat", Other, Valid, clone_rest, CLONE_CHAT, clone_vars, refused(401, "DEFAULT", DEFAULT))
            .case("the user's chat"),
    );

    // addChatTag — POST /api/v1/chats/{id}/tags
    let add_tag_rest =
        |c: &Ctx<'_>| post(format!("/api/v1/chats/{}/tags", c.fx.chat), json!({"name": "Work"}));
    let add_tag_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "n": "Work"});
    t.push(row("addChatTag", Anonymous, Valid, add_tag_rest, ADD_CHAT_TAG, add_tag_vars, anonymous()));
    t.push(row("addChatTag", Pending, Valid, add_tag_rest, ADD_CHAT_TAG, add_tag_vars, prohibited()));
    t.push(
        row(
            "addChatTag",
            User,
            Valid,
            |c| post(format!("/api/v1/chats/{}/tags", c.fresh), json!({"name": "Work Stuff"})),
            ADD_CHAT_TAG,
            |c| json!({"id": c.fresh, "n": "Work Stuff"}),
            Expect::Ok(vec![
                Count("", ""),
                Is("/0/id", "/0/id", json!("work_stuff")),
                Is("/0/name", "/0/name", json!("Work Stuff")),
            ]),
        )
        .with(Setup::Chat),
    );
    t.push(
        row(
            "addChatTag",
            User,
            Invalid,
            |c| post(format!("/api/v1/chats/{}/tags", c.fresh), json!({"name": "None"})),
            ADD_CHAT_TAG,
            |c| json!({"id": c.fresh, "n": "None"}),
            refused(400, "TAG_NAME_NONE", TAG_NONE),
        )
        .with(Setup::Chat)
        .case("name None"),
    );
    t.push(
        row(
            "addChatTag",
            Other,
            Valid,
            add_tag_rest,
            ADD_CHAT_TAG,
            add_tag_vars,
            refused(401, "DEFAULT", DEFAULT),
        )
        .case("the user's chat"),
    );

    // removeChatTag — DELETE /api/v1/chats/{id}/tags
    let remove_tag_rest =
        |c: &Ctx<'_>| delete_with(format!("/api/v1/chats/{}/tags", c.fx.chat), json!({"name": "Work"}));
    let remove_tag_vars = |c: &Ctx<'_>| json!({"id": c.fx.chat, "n": "Work"});
    t.push(row(
        "removeChatTag",
        Anonymous,
        Valid,
        remove_tag_rest,
        REMOVE_CHAT_TAG,
        remove_tag_vars,
        anonymous(),
    ));
    t.push(row(
        "removeChatTag",
        Pending,
        Valid,
        remove_tag_rest,
        REMOVE_CHAT_TAG,
        remove_tag_vars,
        prohibited(),
    ));
    t.push(
        row(
            "removeChatTag",
            User,
            Valid,
            |c| delete_with(format!("/api/v1/chats/{}/tags", c.fresh), json!({"name": "drop"})),
            REMOVE_CHAT_TAG,
            |c| json!({"id": c.fresh, "n": "drop"}),
            Expect::Ok(vec![
                Count("", ""),
                Is("/0/id", "/0/id", json!("keep")),
                Is("/0/name", "/0/name", json!("Keep")),
            ]),
        )
        .with(Setup::TaggedChat),
    );
    t.push(
        row(
            "removeChatTag",
            Other,
            Valid,
            remove_tag_rest,
            REMOVE_CHAT_TAG,
            remove_tag_vars,
            refused(401, "NOT_FOUND", NOT_FOUND),
        )
        .case("the user's chat"),
    );

    // createModel — POST /api/v1/models/create
    let create_model_rest = |c: &Ctx<'_>| {
        post(
            "/api/v1/models/create",
            json!({"id": format!("created-{}", c.side.tag()), "name": "Created", "base_model_id": BASE,
                   "meta": {"description": "new"}, "params": {}}),
        )
    };
    let create_model_vars = |c: &Ctx<'_>| {
        json!({"i": {"id": format!("created-{}", c.side.tag()), "name": "Created", "baseModelId": BASE,
                     "meta": {"description": "new"}, "params": {}}})
    };
    t.push(row(
        "createModel",
        Anonymous,
        Valid,
        create_model_rest,
        CREATE_MODEL,
        create_model_vars,
        anonymous(),
    ));
    t.push(row(
        "createModel",
        Pending,
        Valid,
        create_model_rest,
        CREATE_MODEL,
        create_model_vars,
        prohibited(),
    ));
    t.push(
        row(
            "createModel",
            User,
            Valid,
            create_model_rest,
            CREATE_MODEL,
            create_model_vars,
            refused(401, "UNAUTHORIZED", UNAUTHORIZED),
        )
        .case("without workspace.models"),
    );
    t.push(row(
        "createModel",
        Admin,
        Valid,
        create_model_rest,
        CREATE_MODEL,
        create_model_vars,
        Expect::Ok(vec![
            Is("/name", "/name", json!("Created")),
            Is("/base_model_id", "/baseModelId", json!(BASE)),
            Is("/is_active", "/isActive", json!(true)),
        ]),
    ));
    t.push(
        row(
            "createModel",
            Admin,
            Invalid,
            |_| {
                post(
                    "/api/v1/models/create",
                    json!({"id": "bad-meta", "name": "B", "meta": "x", "params": {}}),
                )
            },
            CREATE_MODEL,
            |_| json!({"i": {"id": "bad-meta", "name": "B", "meta": "x", "params": {}}}),
            Expect::Invalid,
        )
        .case("meta not an object"),
    );
    t.push(
        row(
            "createModel",
            Admin,
            Invalid,
            |c| {
                post(
                    "/api/v1/models/create",
                    json!({"id": c.fx.model, "name": "Dup", "base_model_id": BASE, "meta": {}, "params": {}}),
                )
            },
            CREATE_MODEL,
            |c| json!({"i": {"id": c.fx.model, "name": "Dup", "baseModelId": BASE, "meta": {}, "params": {}}}),
            refused(401, "MODEL_ID_TAKEN", MODEL_ID_TAKEN),
        )
        .case("id taken"),
    );
    t.push(
        row(
            "createModel",
            Admin,
            Invalid,
            |_| {
                post(
                    "/api/v1/models/create",
                    json!({"id": "x".repeat(300), "name": "Long", "base_model_id": BASE, "meta": {}, "params": {}}),
                )
            },
            CREATE_MODEL,
            |_| json!({"i": {"id": "x".repeat(300), "name": "Long", "baseModelId": BASE, "meta": {}, "params": {}}}),
            refused(400, "MODEL_ID_TOO_LONG", MODEL_ID_TOO_LONG),
        )
        .case("id over 256 characters"),
    );

    // updateModel — POST /api/v1/models/model/update
    let update_model_rest = |c: &Ctx<'_>| {
        post(
            "/api/v1/models/model/update",
            json!({"id": c.fx.model, "name": "Hijacked", "meta": {}, "params": {}}),
        )
    };
    let update_model_vars =
        |c: &Ctx<'_>| json!({"i": {"id": c.fx.model, "name": "Hijacked", "meta": {}, "params": {}}});
    t.push(row(
        "updateModel",
        Anonymous,
        Valid,
        update_model_rest,
        UPDATE_MODEL,
        update_model_vars,
        anonymous(),
    ));
    t.push(row(
        "updateModel",
        Pending,
        Valid,
        update_model_rest,
        UPDATE_MODEL,
        update_model_vars,
        prohibited(),
    ));
    t.push(
        row(
            "updateModel",
            Admin,
            Valid,
            |c| {
                post(
                    "/api/v1/models/model/update",
                    json!({"id": c.fresh, "name": "Renamed model", "meta": {}, "params": {}}),
                )
            },
            UPDATE_MODEL,
            |c| json!({"i": {"id": c.fresh, "name": "Renamed model", "meta": {}, "params": {}}}),
            Expect::Ok(vec![
                Fresh("/id", "/id"),
                Is("/name", "/name", json!("Renamed model")),
                Is("/base_model_id", "/baseModelId", json!(BASE)),
            ]),
        )
        .with(Setup::Model),
    );
    t.push(
        row(
            "updateModel",
            User,
            Valid,
            update_model_rest,
            UPDATE_MODEL,
            update_model_vars,
            refused(400, "ACCESS_PROHIBITED", ACCESS_PROHIBITED),
        )
        .case("read grant"),
    );
    t.push(
        row(
            "updateModel",
            Other,
            Valid,
            update_model_rest,
            UPDATE_MODEL,
            update_model_vars,
            refused(400, "ACCESS_PROHIBITED", ACCESS_PROHIBITED),
        )
        .case("no grant"),
    );
    t.push(row(
        "updateModel",
        Admin,
        Unknown,
        |_| {
            post("/api/v1/models/model/update", json!({"id": UNKNOWN, "name": "x", "meta": {}, "params": {}}))
        },
        UPDATE_MODEL,
        |_| json!({"i": {"id": UNKNOWN, "name": "x", "meta": {}, "params": {}}}),
        refused(401, "NOT_FOUND", NOT_FOUND),
    ));
    t.push(
        row(
            "updateModel",
            Admin,
            Invalid,
            |c| {
                post(
                    "/api/v1/models/model/update",
                    json!({"id": c.fx.model, "name": "x", "meta": {}, "params": "x"}),
                )
            },
            UPDATE_MODEL,
            |c| json!({"i": {"id": c.fx.model, "name": "x", "meta": {}, "params": "x"}}),
            Expect::Invalid,
        )
        .case("params not an object"),
    );

    // deleteModel — POST /api/v1/models/model/delete
    let delete_model_rest = |c: &Ctx<'_>| post("/api/v1/models/model/delete", json!({"id": c.fx.model}));
    t.push(row("deleteModel", Anonymous, Valid, delete_model_rest, DELETE_MODEL, model_vars, anonymous()));
    t.push(row("deleteModel", Pending, Valid, delete_model_rest, DELETE_MODEL, model_vars, prohibited()));
    t.push(
        row(
            "deleteModel",
            Admin,
            Valid,
            |c| post("/api/v1/models/model/delete", json!({"id": c.fresh})),
            DELETE_MODEL,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Model),
    );
    t.push(
        row(
            "deleteModel",
            User,
            Valid,
            delete_model_rest,
            DELETE_MODEL,
            model_vars,
            refused(401, "UNAUTHORIZED", UNAUTHORIZED),
        )
        .case("read grant"),
    );
    t.push(row(
        "deleteModel",
        Admin,
        Unknown,
        |_| post("/api/v1/models/model/delete", json!({"id": UNKNOWN})),
        DELETE_MODEL,
        unknown_vars,
        refused(401, "NOT_FOUND", NOT_FOUND),
    ));

    // toggleModel — POST /api/v1/models/model/toggle?id=
    let toggle_rest = |c: &Ctx<'_>| post_empty(format!("/api/v1/models/model/toggle?id={}", c.fx.model));
    t.push(row("toggleModel", Anonymous, Valid, toggle_rest, TOGGLE_MODEL, model_vars, anonymous()));
    t.push(row("toggleModel", Pending, Valid, toggle_rest, TOGGLE_MODEL, model_vars, prohibited()));
    t.push(
        row(
            "toggleModel",
            Admin,
            Valid,
            |c| post_empty(format!("/api/v1/models/model/toggle?id={}", c.fresh)),
            TOGGLE_MODEL,
            fresh_vars,
            Expect::Ok(vec![Fresh("/id", "/id"), Is("/is_active", "/isActive", json!(false))]),
        )
        .with(Setup::Model),
    );
    t.push(
        row(
            "toggleModel",
            User,
            Valid,
            toggle_rest,
            TOGGLE_MODEL,
            model_vars,
            refused(401, "UNAUTHORIZED", UNAUTHORIZED),
        )
        .case("read grant"),
    );
    t.push(row(
        "toggleModel",
        Admin,
        Unknown,
        |_| post_empty(format!("/api/v1/models/model/toggle?id={UNKNOWN}")),
        TOGGLE_MODEL,
        unknown_vars,
        refused(401, "NOT_FOUND", NOT_FOUND),
    ));

    // updateUser — POST /api/v1/users/{id}/update
    let update_user_rest =
        |c: &Ctx<'_>| post(format!("/api/v1/users/{}/update", c.fx.other.id), json!({"name": "Renamed"}));
    let update_user_vars = |c: &Ctx<'_>| json!({"id": c.fx.other.id, "i": {"name": "Renamed"}});
    t.push(row("updateUser", Anonymous, Valid, update_user_rest, UPDATE_USER, update_user_vars, anonymous()));
    t.push(row("updateUser", Pending, Valid, update_user_rest, UPDATE_USER, update_user_vars, prohibited()));
    t.push(row("updateUser", User, Valid, update_user_rest, UPDATE_USER, update_user_vars, prohibited()));
    t.push(
        row(
            "updateUser",
            Admin,
            Valid,
            |c| post(format!("/api/v1/users/{}/update", c.fresh), json!({"name": "Renamed", "role": "user"})),
            UPDATE_USER,
            |c| json!({"id": c.fresh, "i": {"name": "Renamed", "role": "user"}}),
            Expect::Ok(vec![
                Fresh("/id", "/id"),
                Is("/name", "/name", json!("Renamed")),
                Is("/role", "/role", json!("user")),
            ]),
        )
        .with(Setup::Account),
    );
    t.push(
        row(
            "updateUser",
            Admin,
            Invalid,
            |c| post(format!("/api/v1/users/{}/update", c.fresh), json!({"role": "root"})),
            UPDATE_USER,
            |c| json!({"id": c.fresh, "i": {"role": "root"}}),
            Expect::Invalid,
        )
        .with(Setup::Account)
        .case("role root"),
    );
    t.push(row(
        "updateUser",
        Admin,
        Unknown,
        |_| post(format!("/api/v1/users/{UNKNOWN}/update"), json!({"name": "x"})),
        UPDATE_USER,
        |_| json!({"id": UNKNOWN, "i": {"name": "x"}}),
        refused(400, "NOT_FOUND", NOT_FOUND),
    ));
    t.push(
        row(
            "updateUser",
            NewAdmin,
            Valid,
            |c| post(format!("/api/v1/users/{}/update", c.fx.admin.id), json!({"name": "Deposed"})),
            UPDATE_USER,
            |c| json!({"id": c.fx.admin.id, "i": {"name": "Deposed"}}),
            refused(403, "ACTION_PROHIBITED", ACTION_PROHIBITED),
        )
        .case("the primary admin"),
    );

    // deleteUser — DELETE /api/v1/users/{id}
    let delete_user_rest = |c: &Ctx<'_>| delete(format!("/api/v1/users/{}", c.fx.other.id));
    let delete_user_vars = |c: &Ctx<'_>| json!({"id": c.fx.other.id});
    t.push(row("deleteUser", Anonymous, Valid, delete_user_rest, DELETE_USER, delete_user_vars, anonymous()));
    t.push(row("deleteUser", Pending, Valid, delete_user_rest, DELETE_USER, delete_user_vars, prohibited()));
    t.push(row("deleteUser", User, Valid, delete_user_rest, DELETE_USER, delete_user_vars, prohibited()));
    t.push(
        row(
            "deleteUser",
            Admin,
            Valid,
            |c| delete(format!("/api/v1/users/{}", c.fresh)),
            DELETE_USER,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Account),
    );
    t.push(
        row(
            "deleteUser",
            ApiKey,
            Valid,
            |c| delete(format!("/api/v1/users/{}", c.fresh)),
            DELETE_USER,
            fresh_vars,
            Expect::Ok(vec![Is("", "", json!(true))]),
        )
        .with(Setup::Account),
    );
    t.push(
        row(
            "deleteUser",
            Admin,
            Invalid,
            |c| delete(format!("/api/v1/users/{}", c.fx.admin.id)),
            DELETE_USER,
            |c| json!({"id": c.fx.admin.id}),
            refused(403, "ACTION_PROHIBITED", ACTION_PROHIBITED),
        )
        .case("own id"),
    );

    // me { settings } — GET /api/v1/users/user/settings
    let settings_rest = |_: &Ctx<'_>| get("/api/v1/users/user/settings");
    t.push(row("me", Anonymous, Valid, settings_rest, ME_SETTINGS, no_vars, anonymous()).case("settings"));
    t.push(row("me", Pending, Valid, settings_rest, ME_SETTINGS, no_vars, prohibited()).case("settings"));
    t.push(
        row(
            "me",
            User,
            Valid,
            settings_rest,
            ME_SETTINGS,
            no_vars,
            Expect::Ok(vec![Is("", "/settings", Value::Null)]),
        )
        .case("settings"),
    );
    t.push(
        row(
            "me",
            NewUser,
            Valid,
            settings_rest,
            ME_SETTINGS,
            no_vars,
            Expect::Ok(vec![Is("", "/settings", Value::Null)]),
        )
        .case("settings of a new account"),
    );

    // user(id:) { settings } — GET /api/v1/users/{id} (an admin reads another user's)
    t.push(
        row(
            "user",
            Admin,
            Valid,
            |c| get(format!("/api/v1/users/{}", c.fx.other.id)),
            USER_SETTINGS,
            |c| json!({"id": c.fx.other.id}),
            Expect::Ok(vec![Is("/settings", "/settings", Value::Null)]),
        )
        .case("settings"),
    );

    // updateSettings — POST /api/v1/users/user/settings/update
    let update_settings_rest =
        |_: &Ctx<'_>| post("/api/v1/users/user/settings/update", json!({"ui": {"theme": "dark"}}));
    let update_settings_vars = |_: &Ctx<'_>| json!({"s": {"ui": {"theme": "dark"}}});
    t.push(row(
        "updateSettings",
        Anonymous,
        Valid,
        update_settings_rest,
        UPDATE_SETTINGS,
        update_settings_vars,
        anonymous(),
    ));
    t.push(row(
        "updateSettings",
        Pending,
        Valid,
        update_settings_rest,
        UPDATE_SETTINGS,
        update_settings_vars,
        prohibited(),
    ));
    t.push(row(
        "updateSettings",
        NewUser,
        Valid,
        |_| {
            post(
                "/api/v1/users/user/settings/update",
                json!({"ui": {"theme": "dark", "gone": null}, "foo": 1}),
            )
        },
        UPDATE_SETTINGS,
        |_| json!({"s": {"ui": {"theme": "dark", "gone": null}, "foo": 1}}),
        Expect::Ok(vec![Is("", "", json!({"ui": {"theme": "dark"}, "foo": 1}))]),
    ));
    t.push(
        row(
            "updateSettings",
            NewAdmin,
            Valid,
            |_| {
                post(
                    "/api/v1/users/user/settings/update",
                    json!({"notifications": {"webhook_url": "http://hook"}}),
                )
            },
            UPDATE_SETTINGS,
            |_| json!({"s": {"notifications": {"webhook_url": "http://hook"}}}),
            Expect::Ok(vec![Is(
                "/notifications/webhook_url",
                "/notifications/webhook_url",
                json!("http://hook"),
            )]),
        )
        .case("admin keeps a webhook"),
    );
    t.push(
        row(
            "updateSettings",
            NewUser,
            Valid,
            |_| {
                post(
                    "/api/v1/users/user/settings/update",
                    json!({"notifications": {"webhook_url": "http://hook"}, "k": 1}),
                )
            },
            UPDATE_SETTINGS,
            |_| json!({"s": {"notifications": {"webhook_url": "http://hook"}, "k": 1}}),
            Expect::Ok(vec![Is("", "", json!({"ui": {}, "k": 1}))]),
        )
        .case("a webhook without features.webhooks is dropped"),
    );
    t.push(
        row(
            "updateSettings",
            User,
            Invalid,
            |_| post("/api/v1/users/user/settings/update", json!({"ui": "dark"})),
            UPDATE_SETTINGS,
            |_| json!({"s": {"ui": "dark"}}),
            Expect::Invalid,
        )
        .case("ui not an object"),
    );
    t.push(
        row(
            "updateSettings",
            User,
            Invalid,
            |_| post("/api/v1/users/user/settings/update", json!([1])),
            UPDATE_SETTINGS,
            |_| json!({"s": [1]}),
            Expect::Invalid,
        )
        .case("settings not an object"),
    );

    // The rows of further resources: one module each, `fn rows() -> Vec<Row>`.
    // (one `t.extend(<module>::rows());` line per module)
    t.extend(groups::rows());
    t.extend(models::rows());
    t.extend(folders::rows());
    t.extend(chats::rows());
    t.extend(connections::rows());
    t.extend(completions::rows());

    t
}

// ---- fixtures ----

/// Creates an account through the admin API; returns (token, id).
async fn add_account(app: &TestApp, admin: &str, role: &str, n: usize) -> (String, String) {
    let a = app
        .post(
            "/api/v1/auths/add",
            Some(admin),
            json!({"name": format!("New {n}"), "email": format!("new-{n}@example.com"), "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(a.status.as_u16(), 200, "add account: {}", a.text);
    (text_at(&a.body, "/token"), text_at(&a.body, "/id"))
}

fn text_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} in {v}")).to_string()
}

async fn new_chat(app: &TestApp, token: &str, title: &str) -> String {
    let a = app.post("/api/v1/chats/new", Some(token), json!({"chat": {"title": title}})).await;
    assert_eq!(a.status.as_u16(), 200, "new chat: {}", a.text);
    text_at(&a.body, "/id")
}

async fn fixtures(app: &TestApp) -> Fx {
    let (admin_token, admin_id) = app.admin().await;
    // API keys for the admin's key; sign-up on, so that `signup` can succeed.
    app.set_admin_config(&admin_token, json!({"ENABLE_API_KEYS": true, "ENABLE_SIGNUP": true})).await;
    let (pending_token, pending_id) = app.user(&admin_token, "Pat", "pat@example.com", "pending").await;
    let (user_token, user_id) = app.user(&admin_token, "Uma", "uma@example.com", "user").await;
    let (other_token, other_id) = app.user(&admin_token, "Oscar", "oscar@example.com", "user").await;

    let key = app.post("/api/v1/auths/api_key", Some(&admin_token), json!({})).await;
    assert_eq!(key.status.as_u16(), 200, "api key: {}", key.text);
    let api_key = text_at(&key.body, "/api_key");

    let chat = new_chat(app, &user_token, CHAT_TITLE).await;
    let share = app.send("POST", &format!("/api/v1/chats/{chat}/share"), Some(&user_token), None).await;
    assert_eq!(share.status.as_u16(), 200, "share: {}", share.text);
    let share = text_at(&share.body, "/share_id");

    let model = "parity-model".to_string();
    let m = app
        .post(
            "/api/v1/models/create",
            Some(&admin_token),
            json!({"id": model, "name": MODEL_NAME, "base_model_id": BASE,
                   "meta": {"description": "The parity fixture"}, "params": {"temperature": 0.5}}),
        )
        .await;
    assert_eq!(m.status.as_u16(), 200, "model: {}", m.text);
    let model_version = text_at(&m.body, "/version_id");
    let g = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin_token),
            json!({"id": model, "access_grants": [
                {"principal_type": "user", "principal_id": user_id, "permission": "read"}]}),
        )
        .await;
    assert_eq!(g.status.as_u16(), 200, "grant: {}", g.text);
    let f = app.post("/api/v1/folders/", Some(&user_token), json!({"name": folders::FOLDER_NAME})).await;
    assert_eq!(f.status.as_u16(), 200, "folder: {}", f.text);
    let folder = text_at(&f.body, "/id");

    Fx {
        admin: Account {
            token: admin_token,
            id: admin_id,
            name: "Admin",
            email: "admin@example.com",
            role: "admin",
        },
        pending: Account {
            token: pending_token,
            id: pending_id,
            name: "Pat",
            email: "pat@example.com",
            role: "pending",
        },
        user: Account { token: user_token, id: user_id, name: "Uma", email: "uma@example.com", role: "user" },
        other: Account {
            token: other_token,
            id: other_id,
            name: "Oscar",
            email: "oscar@example.com",
            role: "user",
        },
        api_key,
        chat,
        share,
        model,
        model_version,
        folder,
    }
}

/// Makes the row's resource and caller for one interface; returns the context and the token.
async fn prepare<'a>(
    app: &TestApp,
    fx: &'a Fx,
    row: &Row,
    side: Side,
    n: &mut usize,
) -> (Ctx<'a>, Option<String>) {
    *n += 1;
    let admin = fx.admin.token.as_str();
    let mut version = String::new();
    let fresh = match row.setup {
        Setup::None => String::new(),
        Setup::Chat => new_chat(app, &fx.user.token, "Fresh chat").await,
        Setup::TaggedChat => {
            let id = new_chat(app, &fx.user.token, "Tagged chat").await;
            for name in ["Keep", "Drop"] {
                let a = app
                    .post(&format!("/api/v1/chats/{id}/tags"), Some(&fx.user.token), json!({"name": name}))
                    .await;
                assert_eq!(a.status.as_u16(), 200, "tag: {}", a.text);
            }
            id
        }
        Setup::Model => {
            let id = format!("fresh-model-{n}");
            let a = app
                .post(
                    "/api/v1/models/create",
                    Some(admin),
                    json!({"id": id, "name": "Fresh model", "base_model_id": BASE, "meta": {}, "params": {}}),
                )
                .await;
            assert_eq!(a.status.as_u16(), 200, "fresh model: {}", a.text);
            id
        }
        Setup::Account => add_account(app, admin, "user", *n).await.1,
        Setup::ChatWithMessages => {
            let chat = json!({"chat": {"title": "Talk", "history": {"currentId": "a", "messages": {
                "q": {"id": "q", "parentId": null, "childrenIds": ["a"], "role": "user", "content": "hi"},
                "a": {"id": "a", "parentId": "q", "childrenIds": [], "role": "assistant", "content": "hello"}}}}});
            let a = app.post("/api/v1/chats/new", Some(&fx.user.token), chat).await;
            assert_eq!(a.status.as_u16(), 200, "chat with messages: {}", a.text);
            text_at(&a.body, "/id")
        }
        Setup::VersionedModel => {
            let id = format!("versioned-model-{n}");
            let body = |name: &str| json!({"id": id, "name": name, "meta": {}, "params": {}});
            let a = app.post("/api/v1/models/create", Some(admin), body("V1")).await;
            assert_eq!(a.status.as_u16(), 200, "versioned model: {}", a.text);
            version = text_at(&a.body, "/version_id");
            let u = app.post("/api/v1/models/model/update", Some(admin), body("V2")).await;
            assert_eq!(u.status.as_u16(), 200, "second version: {}", u.text);
            id
        }
        Setup::Group => {
            let a = app
                .post(
                    "/api/v1/groups/create",
                    Some(admin),
                    json!({"name": format!("Fresh group {n}"), "description": ""}),
                )
                .await;
            assert_eq!(a.status.as_u16(), 200, "fresh group: {}", a.text);
            let id = text_at(&a.body, "/id");
            let m = app
                .post(
                    &format!("/api/v1/groups/id/{id}/users/add"),
                    Some(admin),
                    json!({"user_ids": [fx.user.id]}),
                )
                .await;
            assert_eq!(m.status.as_u16(), 200, "members: {}", m.text);
            id
        }
        Setup::Folder => {
            let a = app
                .post("/api/v1/folders/", Some(&fx.user.token), json!({"name": format!("Fresh folder {n}")}))
                .await;
            assert_eq!(a.status.as_u16(), 200, "fresh folder: {}", a.text);
            let id = text_at(&a.body, "/id");
            let c = app
                .post(
                    "/api/v1/chats/new",
                    Some(&fx.user.token),
                    json!({"chat": {"title": "In a folder"}, "folder_id": id}),
                )
                .await;
            assert_eq!(c.status.as_u16(), 200, "chat in the folder: {}", c.text);
            id
        }
    };
    let token = match row.who {
        Who::Anonymous => None,
        Who::Pending => Some(fx.pending.token.clone()),
        Who::User => Some(fx.user.token.clone()),
        Who::Other => Some(fx.other.token.clone()),
        Who::Admin => Some(fx.admin.token.clone()),
        Who::ApiKey => Some(fx.api_key.clone()),
        Who::NewUser => {
            *n += 1;
            Some(add_account(app, admin, "user", *n).await.0)
        }
        Who::NewAdmin => {
            *n += 1;
            Some(add_account(app, admin, "admin", *n).await.0)
        }
    };
    (Ctx { fx, side, fresh, version }, token)
}

// ---- judging ----

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 300 { format!("{}…", s.chars().take(300).collect::<String>()) } else { s }
}

fn at<'v>(v: &'v Value, pointer: &str) -> &'v Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

/// What GraphQL answered: its first error (message, code, status) or the field's value.
struct GqlAnswer {
    error: Option<(String, String, Value)>,
    data: Value,
    raw: Value,
}

fn read_gql(a: &Answer, op: &str) -> GqlAnswer {
    let error = a.body["errors"].get(0).map(|e| {
        (
            e["message"].as_str().unwrap_or("").to_string(),
            e["extensions"]["code"].as_str().unwrap_or("").to_string(),
            e["extensions"]["status"].clone(),
        )
    });
    GqlAnswer { error, data: a.body["data"][op].clone(), raw: a.body.clone() }
}

/// The divergences of one row.
fn judge(
    row: &Row,
    fx: &Fx,
    rest: &Answer,
    rest_ctx: &Ctx<'_>,
    g: &GqlAnswer,
    gql_ctx: &Ctx<'_>,
) -> Vec<String> {
    let mut out = Vec::new();
    let rest_status = rest.status.as_u16();
    let rest_seen = || format!("{rest_status} {}", short(&rest.body));
    let gql_seen = || short(&g.raw);
    match &row.expect {
        Expect::Refused { status, code, detail } => {
            if rest_status != *status || rest.detail() != *detail {
                out.push(format!("REST: expected {status} `{detail}`, got {}", rest_seen()));
            }
            match &g.error {
                None => out.push(format!("GraphQL: expected error {code} `{detail}`, got {}", gql_seen())),
                Some((message, got_code, got_status)) => {
                    if message != detail || got_code != code {
                        out.push(format!("GraphQL: expected {code} `{detail}`, got {got_code} `{message}`"));
                    }
                    if got_status != &json!(status) {
                        out.push(format!("GraphQL: extensions.status {got_status}, REST status {status}"));
                    }
                }
            }
        }
        Expect::Invalid => {
            if rest_status != 422 {
                out.push(format!("REST: expected 422, got {}", rest_seen()));
            }
            match &g.error {
                Some((_, code, _)) if code == "VALIDATION_ERROR" => {}
                _ => out.push(format!("GraphQL: expected VALIDATION_ERROR, got {}", gql_seen())),
            }
        }
        Expect::Null { status, detail } => {
            if rest_status != *status || rest.detail() != *detail {
                out.push(format!("REST: expected {status} `{detail}`, got {}", rest_seen()));
            }
            let data_null = g.raw["data"].is_object() && g.data.is_null();
            if g.error.is_some() || !data_null {
                out.push(format!("GraphQL: expected null without errors (documented), got {}", gql_seen()));
            }
        }
        Expect::Answers { status, detail, checks } => {
            if rest_status != *status || rest.detail() != *detail {
                out.push(format!("REST: expected {status} `{detail}`, got {}", rest_seen()));
            }
            if g.error.is_some() || g.data.is_null() {
                out.push(format!("GraphQL: expected data (documented), got {}", gql_seen()));
            }
            if out.is_empty() {
                for check in checks {
                    out.extend(compare(check, fx, &g.data, gql_ctx, &g.data, gql_ctx));
                }
            }
        }
        Expect::Ok(checks) => {
            if rest_status != 200 {
                out.push(format!("REST: expected 200, got {}", rest_seen()));
            }
            if g.error.is_some() || g.data.is_null() {
                out.push(format!("GraphQL: expected data, got {}", gql_seen()));
            }
            if out.is_empty() {
                for check in checks {
                    out.extend(compare(check, fx, &rest.body, rest_ctx, &g.data, gql_ctx));
                }
            }
        }
    }
    out
}

fn compare(
    check: &Check,
    fx: &Fx,
    rest: &Value,
    rest_ctx: &Ctx<'_>,
    gql: &Value,
    gql_ctx: &Ctx<'_>,
) -> Vec<String> {
    let both = |rp: &str, gp: &str, want: &Value| {
        let mut out = Vec::new();
        if at(rest, rp) != want {
            out.push(format!("REST {rp:?} = {}, expected {}", short(at(rest, rp)), short(want)));
        }
        if at(gql, gp) != want {
            out.push(format!("GraphQL {gp:?} = {}, expected {}", short(at(gql, gp)), short(want)));
        }
        out
    };
    match check {
        Check::Same(rp, gp) => {
            let (r, g) = (at(rest, rp), at(gql, gp));
            if r != g || r.is_null() {
                vec![format!("REST {rp:?} = {} but GraphQL {gp:?} = {}", short(r), short(g))]
            } else {
                Vec::new()
            }
        }
        Check::Is(rp, gp, want) => both(rp, gp, want),
        Check::Documented(rp, rest_want, gp, gql_want) => {
            let mut out = Vec::new();
            if at(rest, rp) != rest_want {
                out.push(format!("REST {rp:?} = {}, expected {}", short(at(rest, rp)), short(rest_want)));
            }
            let gql_want = gql_want(fx);
            if at(gql, gp) != &gql_want {
                out.push(format!("GraphQL {gp:?} = {}, expected {}", short(at(gql, gp)), short(&gql_want)));
            }
            out
        }
        Check::Fixture(rp, gp, f) => both(rp, gp, &f(fx)),
        Check::Fresh(rp, gp) => {
            let mut out = Vec::new();
            if at(rest, rp) != &json!(rest_ctx.fresh) {
                out.push(format!("REST {rp:?} = {}, expected {}", short(at(rest, rp)), rest_ctx.fresh));
            }
            if at(gql, gp) != &json!(gql_ctx.fresh) {
                out.push(format!("GraphQL {gp:?} = {}, expected {}", short(at(gql, gp)), gql_ctx.fresh));
            }
            out
        }
        Check::Set(rp, gp) => {
            let (r, g) = (at(rest, rp), at(gql, gp));
            if r.is_null() || g.is_null() {
                vec![format!("expected values: REST {rp:?} = {}, GraphQL {gp:?} = {}", short(r), short(g))]
            } else {
                Vec::new()
            }
        }
        Check::Count(rp, gp) => {
            let r = at(rest, rp).as_array().map(Vec::len);
            let g = at(gql, gp);
            let g = g.as_u64().map(|n| n as usize).or_else(|| g.as_array().map(Vec::len));
            if r.is_none() || r != g {
                vec![format!("REST {rp:?} holds {r:?} items but GraphQL {gp:?} counts {g:?}")]
            } else {
                Vec::new()
            }
        }
        Check::Prefix(rp, gp, prefix) => {
            let (r, g) = (at(rest, rp), at(gql, gp));
            let ok = |v: &Value| v.as_str().is_some_and(|s| s.starts_with(prefix));
            if ok(r) && ok(g) {
                Vec::new()
            } else {
                vec![format!("expected {prefix}…: REST {rp:?} = {}, GraphQL {gp:?} = {}", short(r), short(g))]
            }
        }
    }
}

// ---- the test ----

async fn rest_and_graphql_agree(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let fx = fixtures(&app).await;
    let rows = rows();
    let mut failures: Vec<String> = Vec::new();
    let mut n = 0;
    for row in &rows {
        let (rest_ctx, token) = prepare(&app, &fx, row, Side::Rest, &mut n).await;
        let req = (row.rest)(&rest_ctx);
        let rest = app.send(req.method, &req.path, token.as_deref(), req.body).await;

        let (gql_ctx, token) = prepare(&app, &fx, row, Side::Graphql, &mut n).await;
        let answer = gql(&app, token.as_deref(), row.query, (row.vars)(&gql_ctx)).await;
        let g = read_gql(&answer, field(row.query));

        let problems = judge(row, &fx, &rest, &rest_ctx, &g, &gql_ctx);
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", row.name(), problems.join("\n    ")));
        }
    }
    let ops = operation_names(&rows).len();
    assert!(
        failures.is_empty(),
        "{} of {} rows ({ops} operations) diverge:\n  {}",
        failures.len(),
        rows.len(),
        failures.join("\n  ")
    );
}

fn operation_names(rows: &[Row]) -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = rows.iter().map(|r| r.op).collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}

/// The fields of `type <name> { … }` in the checked-in schema.
fn schema_fields(sdl: &str, name: &str) -> Vec<String> {
    let start = format!("type {name} {{");
    let Some(body) = sdl.split_once(&start).map(|(_, rest)| rest) else { return Vec::new() };
    let body = body.split_once("\n}").map_or(body, |(b, _)| b);
    let mut fields = Vec::new();
    let mut in_doc = false;
    for line in body.lines().map(str::trim) {
        if line.starts_with("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                in_doc = !in_doc;
            }
            continue;
        }
        if in_doc || line.is_empty() {
            continue;
        }
        let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(line.len());
        if end > 0 {
            fields.push(line[..end].to_string());
        }
    }
    fields
}

/// Every Query field and Mutation of schema/schema.graphql has a row, every row's document
/// selects its operation, and row names are unique. Subscription fields are GraphQL-only (their
/// REST counterparts are the completion's SSE stream and the socket.io events) and are listed in
/// `subscriptions::subscription_fields_are_graphql_only_and_listed` instead.
#[test]
fn every_operation_has_rows() {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql"))
        .expect("schema/schema.graphql");
    let rows = rows();
    let ops = operation_names(&rows);
    let mut wanted = schema_fields(&sdl, "Query");
    let mutations = schema_fields(&sdl, "Mutation");
    assert!(wanted.len() >= 8 && mutations.len() >= 23, "schema parse: {wanted:?} {mutations:?}");
    wanted.extend(mutations);
    let missing: Vec<&String> = wanted.iter().filter(|op| !ops.contains(&op.as_str())).collect();
    assert!(missing.is_empty(), "operations without a parity row: {missing:?}");
    let extra: Vec<&&str> = ops.iter().filter(|op| !wanted.iter().any(|w| w == *op)).collect();
    assert!(extra.is_empty(), "rows for operations the schema does not have: {extra:?}");
    for row in &rows {
        assert_eq!(field(row.query), row.op, "{}: the document selects another field", row.name());
    }
    let mut names: Vec<String> = rows.iter().map(Row::name).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "row names must be unique");
}
