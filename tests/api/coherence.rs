//! Cache coherence: a randomized, concurrent, model-based run of chat and account writes through
//! REST and GraphQL on two instances sharing PostgreSQL and Redis (and on one instance on SQLite),
//! with readers on every instance comparing each answer against the database; and instances whose
//! Redis subscription is missing or broken serving nothing cached.
//!
//! The rule every read is held to: it reflects every write that completed before it started on
//! the same instance, and every write that completed at least `CROSS_INSTANCE_BOUND` before it
//! started on another instance (the documented bound: the Redis delivery latency, with margin for
//! a loaded machine; the caches' TTL is a minute here, so a missed invalidation shows as a stale
//! answer for far longer). A read may reflect a write that completed after it started. Each user
//! has one writer (its state is a sequence of database snapshots, one after each write) and any
//! number of readers, so "the states a read may show" is a window of that sequence, per cache
//! (account, chats).
//!
//! The seed is printed on failure; `COHERENCE_SEED=<n>` replays the same choices (not the same
//! interleaving).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duet::run;
use duet::store::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, gql, required_redis_url, unique_prefix};

/// How long a write on one instance may take to reach another's caches (see the module comment).
const CROSS_INSTANCE_BOUND: Duration = Duration::from_millis(500);
/// Caches that would keep a stale entry far longer than any run.
const CACHES_FOR_A_MINUTE: [(&str, &str); 2] =
    [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000")];
const TOKEN_REVOKED: &str = "Invalid token";
const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const TAG: &str = "work";
const MAX_CHATS: usize = 10;

// ---- the model: what the database holds for one user ----

#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    role: String,
    name: String,
    /// `jti`s of the user's signed-out tokens.
    revoked: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ChatState {
    title: String,
    pinned: bool,
    archived: bool,
    folder: Option<String>,
    updated_at: i64,
    tags: BTreeSet<String>,
}

type Chats = BTreeMap<String, ChatState>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    account: Account,
    chats: Chats,
}

/// Reads one user's rows straight from the database (no cache in between).
async fn snapshot(db: &Db, user: &str) -> Snapshot {
    let rows: Vec<(String, String, bool, bool, Option<String>, i64)> = run!(db, e => sqlx::query_as(
        "select id, title, pinned, archived, folder_id, updated_at from chats where user_id = $1"
    )
    .bind(user)
    .fetch_all(e)
    .await)
    .expect("chats");
    let tags: Vec<(String, String)> =
        run!(db, e => sqlx::query_as("select chat_id, tag_id from chat_tags where user_id = $1")
            .bind(user)
            .fetch_all(e)
            .await)
        .expect("tags");
    let (role, name): (String, String) =
        run!(db, e => sqlx::query_as("select role, name from users where id = $1").bind(user).fetch_one(e).await)
            .expect("user");
    let revoked: Vec<String> =
        run!(db, e => sqlx::query_scalar("select jti from revoked_tokens where user_id = $1")
            .bind(user)
            .fetch_all(e)
            .await)
        .expect("revoked");
    let mut chats: Chats = rows
        .into_iter()
        .map(|(id, title, pinned, archived, folder, updated_at)| {
            (id, ChatState { title, pinned, archived, folder, updated_at, tags: BTreeSet::new() })
        })
        .collect();
    for (chat, tag) in tags {
        if let Some(c) = chats.get_mut(&chat) {
            c.tags.insert(tag);
        }
    }
    Snapshot { account: Account { role, name, revoked: revoked.into_iter().collect() }, chats }
}

// ---- reads and what each should answer ----

#[derive(Debug, Clone)]
enum Read {
    RestList,
    RestPinned,
    RestArchived,
    RestTagged,
    RestChat(String),
    RestAuths,
    GqlList { pinned: Option<bool>, archived: bool, tag: bool },
    GqlChat(String),
    GqlMe,
}

impl Read {
    /// Parts compared separately, since each is read by a statement of its own and so may be of
    /// a different moment: a GraphQL list's rows (the cached page) and its `totalCount`; a
    /// GraphQL chat and its tags.
    fn parts(&self) -> usize {
        if matches!(self, Read::GqlList { .. } | Read::GqlChat(_)) { 2 } else { 1 }
    }

    fn uses_account_only(&self) -> bool {
        matches!(self, Read::RestAuths | Read::GqlMe)
    }
}

fn denied(text: &str, parts: usize) -> Vec<Value> {
    vec![json!({ "denied": text }); parts]
}

fn rest_rows(chats: &Chats, keep: impl Fn(&ChatState) -> bool) -> Value {
    Value::Array(
        chats.iter().filter(|(_, c)| keep(c)).map(|(id, c)| json!([id, c.title, c.updated_at])).collect(),
    )
}

fn chat_view(c: &ChatState) -> Value {
    json!({"title": c.title, "pinned": c.pinned, "archived": c.archived, "folder": c.folder, "tags": c.tags})
}

/// What `read` with the token `jti` answers when the user's account is `account` and their chats
/// are `chats`.
fn expected(read: &Read, account: &Account, chats: &Chats, jti: &str) -> Vec<Value> {
    let parts = read.parts();
    if account.revoked.contains(jti) {
        return denied(TOKEN_REVOKED, parts);
    }
    if read.uses_account_only() {
        return vec![json!({"role": account.role, "name": account.name})];
    }
    if account.role == "pending" {
        return denied(ACCESS_PROHIBITED, parts);
    }
    match read {
        Read::RestList => vec![rest_rows(chats, |c| !c.archived && !c.pinned && c.folder.is_none())],
        Read::RestPinned => vec![rest_rows(chats, |c| !c.archived && c.pinned)],
        Read::RestArchived => vec![rest_rows(chats, |c| c.archived)],
        Read::RestTagged => vec![rest_rows(chats, |c| !c.archived && c.tags.contains(TAG))],
        Read::RestChat(id) => match chats.get(id) {
            Some(c) => vec![chat_view(c)],
            None => denied(NOT_FOUND, 1),
        },
        Read::GqlList { pinned, archived, tag } => {
            let rows: Vec<Value> = chats
                .iter()
                .filter(|(_, c)| {
                    c.archived == *archived
                        && pinned.is_none_or(|p| c.pinned == p)
                        && (!tag || c.tags.contains(TAG))
                })
                .map(|(id, c)| json!([id, c.title, c.updated_at, c.pinned, c.archived, c.folder]))
                .collect();
            let count = rows.len();
            vec![Value::Array(rows), json!(count)]
        }
        Read::GqlChat(id) => match chats.get(id) {
            Some(c) => {
                let mut view = chat_view(c);
                let tags = view["tags"].take();
                vec![view, tags]
            }
            None => vec![Value::Null, Value::Null],
        },
        Read::RestAuths | Read::GqlMe => unreachable!("answered above"),
    }
}

const GQL_LIST: &str = "query($p: Boolean, $a: Boolean, $t: String) { chats(first: 100, pinned: $p, archived: $a, tag: $t) { totalCount edges { node { id title updatedAt pinned archived folderId } } } }";
const GQL_CHAT: &str = "query($id: String!) { chat(id: $id) { title pinned archived folderId tags { id } } }";
const GQL_ME: &str = "{ me { role name } }";

fn sorted_rows(mut rows: Vec<Value>) -> Value {
    rows.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    Value::Array(rows)
}

fn sorted_strings(v: &Value, field: Option<&str>) -> Value {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| match field {
                    Some(f) => t[f].as_str(),
                    None => t.as_str(),
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    json!(out)
}

/// Sends `read` to `app` and brings the answer to the shape of `expected`.
async fn perform(app: &TestApp, token: &str, read: &Read) -> Vec<Value> {
    let parts = read.parts();
    let rest = |a: &Answer, parse: &dyn Fn(&Value) -> Value| {
        if a.status == StatusCode::OK { vec![parse(&a.body)] } else { denied(a.detail(), parts) }
    };
    let titles = |b: &Value| {
        sorted_rows(
            b.as_array()
                .map(|a| a.iter().map(|c| json!([c["id"], c["title"], c["updated_at"]])).collect())
                .unwrap_or_default(),
        )
    };
    match read {
        Read::RestList => rest(&app.get("/api/v1/chats/", Some(token)).await, &titles),
        Read::RestPinned => rest(&app.get("/api/v1/chats/pinned", Some(token)).await, &titles),
        Read::RestArchived => rest(&app.get("/api/v1/chats/archived", Some(token)).await, &titles),
        Read::RestTagged => {
            rest(&app.post("/api/v1/chats/tags", Some(token), json!({"name": TAG})).await, &titles)
        }
        Read::RestAuths => rest(
            &app.get("/api/v1/auths/", Some(token)).await,
            &|b| json!({"role": b["role"], "name": b["name"]}),
        ),
        Read::RestChat(id) => rest(&app.get(&format!("/api/v1/chats/{id}"), Some(token)).await, &|b| {
            json!({
                "title": b["title"], "pinned": b["pinned"], "archived": b["archived"],
                "folder": b["folder_id"], "tags": sorted_strings(&b["meta"]["tags"], None),
            })
        }),
        Read::GqlList { pinned, archived, tag } => {
            let vars = json!({"p": pinned, "a": archived, "t": tag.then_some(TAG)});
            let a = gql(app, Some(token), GQL_LIST, vars).await;
            gql_answer(&a, parts, |d| {
                let list = &d["chats"];
                let rows = list["edges"]
                    .as_array()
                    .map(|edges| {
                        edges
                            .iter()
                            .map(|e| {
                                let n = &e["node"];
                                json!([
                                    n["id"],
                                    n["title"],
                                    n["updatedAt"],
                                    n["pinned"],
                                    n["archived"],
                                    n["folderId"]
                                ])
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                vec![sorted_rows(rows), list["totalCount"].clone()]
            })
        }
        Read::GqlChat(id) => {
            let a = gql(app, Some(token), GQL_CHAT, json!({"id": id})).await;
            gql_answer(&a, parts, |d| {
                let c = &d["chat"];
                if c.is_null() {
                    return vec![Value::Null, Value::Null];
                }
                vec![
                    json!({
                        "title": c["title"], "pinned": c["pinned"], "archived": c["archived"],
                        "folder": c["folderId"], "tags": null,
                    }),
                    sorted_strings(&c["tags"], Some("id")),
                ]
            })
        }
        Read::GqlMe => {
            let a = gql(app, Some(token), GQL_ME, json!({})).await;
            gql_answer(&a, parts, |d| vec![json!({"role": d["me"]["role"], "name": d["me"]["name"]})])
        }
    }
}

fn gql_answer(a: &Answer, parts: usize, data: impl Fn(&Value) -> Vec<Value>) -> Vec<Value> {
    if let Some(message) = a.body["errors"][0]["message"].as_str() {
        return denied(message, parts);
    }
    if a.status != StatusCode::OK {
        return denied(a.detail(), parts);
    }
    data(&a.body["data"])
}

// ---- the shared record of each user's writes ----

struct Written {
    start: Instant,
    end: Instant,
    instance: usize,
    snap: Arc<Snapshot>,
    account_changed: bool,
    chats_changed: bool,
}

struct UserLog {
    id: String,
    email: String,
    /// Every token the user was given, with its `jti`.
    tokens: Vec<(String, String)>,
    /// Every chat id the user ever had.
    chat_ids: Vec<String>,
    folders: Vec<String>,
    written: Vec<Written>,
    /// When the write in progress started.
    pending: Option<Instant>,
}

struct World {
    apps: Vec<TestApp>,
    admin: String,
    users: Vec<Mutex<UserLog>>,
    /// The first findings, and how many there were.
    failures: Mutex<Vec<String>>,
    failed: std::sync::atomic::AtomicU64,
    started: Instant,
    deadline: Instant,
    reads: std::sync::atomic::AtomicU64,
    exact_reads: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

impl World {
    fn allowance(&self, writer: usize, reader: usize) -> Duration {
        if writer == reader { Duration::ZERO } else { CROSS_INSTANCE_BOUND }
    }

    fn at(&self, t: Instant) -> String {
        format!("{:.3}s", t.saturating_duration_since(self.started).as_secs_f64())
    }

    fn fail(&self, what: String) {
        self.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() < 20 {
            f.push(what);
        }
    }
}

fn jti_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("jwt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    v["jti"].as_str().expect("jti").to_string()
}

// ---- readers ----

async fn reader(world: Arc<World>, instance: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < world.deadline {
        let u = rng.random_range(0..world.users.len());
        let (token, jti, chat) = {
            let log = world.users[u].lock().unwrap_or_else(|e| e.into_inner());
            let recent = log.tokens.len().saturating_sub(3);
            let (t, j) = log.tokens[rng.random_range(recent..log.tokens.len())].clone();
            let chat = (!log.chat_ids.is_empty())
                .then(|| log.chat_ids[rng.random_range(0..log.chat_ids.len())].clone());
            (t, j, chat)
        };
        let read = match rng.random_range(0..12) {
            0 => Read::RestList,
            1 => Read::RestPinned,
            2 => Read::RestArchived,
            3 => Read::RestTagged,
            4 => Read::RestAuths,
            5 => Read::GqlMe,
            6 => Read::GqlList { pinned: None, archived: false, tag: false },
            7 => Read::GqlList { pinned: Some(true), archived: false, tag: false },
            8 => Read::GqlList { pinned: None, archived: true, tag: false },
            9 => Read::GqlList { pinned: None, archived: false, tag: true },
            10 => chat.map(Read::RestChat).unwrap_or(Read::RestList),
            _ => chat.map(Read::GqlChat).unwrap_or(Read::GqlMe),
        };
        let start = Instant::now();
        let got = perform(&world.apps[instance], &token, &read).await;
        let end = Instant::now();
        check(&world, u, instance, &read, &jti, start, end, got).await;
    }
}

/// Compares one answer with the states the user's data went through that the read may show.
#[allow(clippy::too_many_arguments)]
async fn check(
    world: &World,
    u: usize,
    instance: usize,
    read: &Read,
    jti: &str,
    start: Instant,
    end: Instant,
    got: Vec<Value>,
) {
    // A write that began before the read ended may be what it shows: wait for its snapshot.
    let waited = Instant::now();
    loop {
        let pending = world.users[u].lock().unwrap_or_else(|e| e.into_inner()).pending;
        match pending {
            Some(p) if p < end => {
                assert!(waited.elapsed() < Duration::from_secs(30), "a write never finished");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            _ => break,
        }
    }
    let log = world.users[u].lock().unwrap_or_else(|e| e.into_inner());
    // The last write of each kind the read must reflect, and the last it may reflect.
    let mut floor_account = 0;
    let mut floor_chats = 0;
    let mut ceiling = 0;
    for (i, w) in log.written.iter().enumerate() {
        if w.end + world.allowance(w.instance, instance) <= start {
            if w.account_changed {
                floor_account = i;
            }
            if w.chats_changed {
                floor_chats = i;
            }
        }
        if w.start < end {
            ceiling = i;
        }
    }
    let accounts: Vec<&Account> =
        distinct(log.written[floor_account..=ceiling].iter().map(|w| &w.snap.account));
    let chat_states: Vec<&Chats> = distinct(log.written[floor_chats..=ceiling].iter().map(|w| &w.snap.chats));
    let mut options: Vec<Vec<Value>> = Vec::new();
    for a in &accounts {
        for c in &chat_states {
            let e = expected(read, a, c, jti);
            // A GraphQL chat read just before its deletion and its tags just after: the tags
            // of a chat that is gone read as an empty list.
            if matches!(read, Read::GqlChat(_)) && e.first() == Some(&Value::Null) {
                let gone = vec![Value::Null, json!([])];
                if !options.contains(&gone) {
                    options.push(gone);
                }
            }
            if !options.contains(&e) {
                options.push(e);
            }
        }
    }
    world.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if options.len() == 1 {
        world.exact_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let ok = (0..read.parts()).all(|p| options.iter().any(|o| o.get(p) == got.get(p)));
    if !ok {
        let writes: Vec<String> = log.written[floor_account.min(floor_chats).saturating_sub(2)..]
            .iter()
            .map(|w| format!("[{}..{} on {}]", world.at(w.start), world.at(w.end), w.instance))
            .collect();
        world.fail(format!(
            "stale or wrong answer: user {} read {read:?} on instance {instance} during {}..{}\n  got:      {}\n  expected one of: {}\n  writes: {}",
            log.email,
            world.at(start),
            world.at(end),
            serde_json::to_string(&got).unwrap_or_default(),
            serde_json::to_string(&options).unwrap_or_default(),
            writes.join(" "),
        ));
    }
}

fn distinct<'a, T: PartialEq>(items: impl Iterator<Item = &'a T>) -> Vec<&'a T> {
    let mut out: Vec<&T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

// ---- writers: one per user, so each user's states form a sequence ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Rename,
    Pin,
    Archive,
    Clone,
    Import,
    Tag,
    Untag,
    Move,
    Delete,
    SignOut,
    Role,
}

fn choose(rng: &mut StdRng, chats: usize, pending: bool) -> Op {
    if pending {
        return Op::Role;
    }
    if chats == 0 {
        return if rng.random_bool(0.5) { Op::Create } else { Op::Import };
    }
    if chats >= MAX_CHATS && rng.random_bool(0.5) {
        return Op::Delete;
    }
    const OPS: [(Op, u32); 12] = [
        (Op::Create, 3),
        (Op::Rename, 4),
        (Op::Pin, 4),
        (Op::Archive, 3),
        (Op::Clone, 2),
        (Op::Import, 1),
        (Op::Tag, 3),
        (Op::Untag, 2),
        (Op::Move, 3),
        (Op::Delete, 2),
        (Op::SignOut, 1),
        (Op::Role, 1),
    ];
    let total: u32 = OPS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (op, w) in OPS {
        if pick < w {
            return op;
        }
        pick -= w;
    }
    Op::Rename
}

fn document(title: &str) -> Value {
    json!({"title": title, "models": [], "history": {"currentId": null, "messages": {}}, "messages": []})
}

struct Writer {
    world: Arc<World>,
    u: usize,
    rng: StdRng,
    model: Snapshot,
    step: usize,
    /// Where its writes go at the moment.
    instance: usize,
    /// The end of the last account write and where it ran: another instance is given the bound
    /// before the writer relies on it (a request refused for a stale role is the readers' check).
    last_account_write: Option<(Instant, usize)>,
}

impl Writer {
    async fn run(mut self) {
        while Instant::now() < self.world.deadline {
            self.step += 1;
            let pending = self.model.account.role == "pending";
            let op = choose(&mut self.rng, self.model.chats.len(), pending);
            // Each writer stays on an instance for a while, so that another instance's copies
            // would stay stale long enough to be seen, and moves now and then.
            if self.rng.random_bool(0.25) {
                self.instance = self.rng.random_range(0..self.world.apps.len());
            }
            let instance = self.instance;
            if let Some((end, at)) = self.last_account_write
                && at != instance
            {
                tokio::time::sleep_until((end + CROSS_INSTANCE_BOUND).into()).await;
            }
            let rest = self.rng.random_bool(0.5);
            let start = Instant::now();
            self.world.users[self.u].lock().unwrap_or_else(|e| e.into_inner()).pending = Some(start);
            let expected = self.apply(op, instance, rest).await;
            let end = Instant::now();
            let (id, email) = {
                let log = self.world.users[self.u].lock().unwrap_or_else(|e| e.into_inner());
                (log.id.clone(), log.email.clone())
            };
            let snap = snapshot(&self.world.apps[0].db, &id).await;
            if let Some(mut expected) = expected {
                // Times are the database's to choose.
                for (id, c) in expected.chats.iter_mut() {
                    if let Some(s) = snap.chats.get(id) {
                        c.updated_at = s.updated_at;
                    }
                }
                if expected != snap {
                    self.world.fail(format!(
                        "write {op:?} ({}, instance {instance}) by {email} did not do what it should:\n  model:    {expected:?}\n  database: {snap:?}",
                        if rest { "REST" } else { "GraphQL" }
                    ));
                }
            }
            if matches!(op, Op::Role | Op::SignOut) {
                self.last_account_write = Some((end, instance));
            }
            {
                let mut log = self.world.users[self.u].lock().unwrap_or_else(|e| e.into_inner());
                let prev = &log.written.last().expect("initial state").snap;
                let account_changed = prev.account != snap.account;
                let chats_changed = prev.chats != snap.chats;
                for id in snap.chats.keys() {
                    if !log.chat_ids.contains(id) {
                        log.chat_ids.push(id.clone());
                    }
                }
                log.written.push(Written {
                    start,
                    end,
                    instance,
                    snap: Arc::new(snap.clone()),
                    account_changed,
                    chats_changed,
                });
                log.pending = None;
            }
            self.world.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.model = snap;
            // Mostly bursts; now and then a quiet spell longer than the bound, in which a stale
            // copy anywhere would be caught.
            let pause = if self.rng.random_bool(0.3) {
                CROSS_INSTANCE_BOUND + Duration::from_millis(self.rng.random_range(100..900))
            } else {
                Duration::from_millis(self.rng.random_range(0..20))
            };
            tokio::time::sleep(pause).await;
        }
    }

    fn token(&self) -> String {
        self.world.users[self.u]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tokens
            .last()
            .expect("token")
            .0
            .clone()
    }

    fn some_chat(&mut self) -> String {
        let ids: Vec<&String> = self.model.chats.keys().collect();
        ids[self.rng.random_range(0..ids.len())].clone()
    }

    fn title(&self, what: &str) -> String {
        format!("{what} {} of user {}", self.step, self.u)
    }

    /// Runs `op`; the model after it (updated_at aside), `None` when it cannot be predicted.
    async fn apply(&mut self, op: Op, instance: usize, rest: bool) -> Option<Snapshot> {
        let world = self.world.clone();
        let app = &world.apps[instance];
        let token = self.token();
        let t = Some(token.as_str());
        let mut model = self.model.clone();
        // A refused write is a finding too (e.g. a stale role on the instance it went to).
        let ok = |a: &Answer, what: &str| {
            let done = a.status == StatusCode::OK && a.body["errors"].is_null();
            if !done {
                world.fail(format!("write {what} on instance {instance} refused: {} {}", a.status, a.text));
            }
            done
        };
        match op {
            Op::Create => {
                let title = self.title("Created");
                let id = if rest {
                    let a = app.post("/api/v1/chats/new", t, json!({"chat": document(&title)})).await;
                    if !ok(&a, "create") {
                        return None;
                    }
                    a.body["id"].as_str().expect("id").to_string()
                } else {
                    let a = gql(
                        app,
                        t,
                        "mutation($c: JSON!) { createChat(chat: $c) { id } }",
                        json!({"c": document(&title)}),
                    )
                    .await;
                    if !ok(&a, "createChat") {
                        return None;
                    }
                    a.body["data"]["createChat"]["id"].as_str().expect("id").to_string()
                };
                model.chats.insert(id, fresh(&title));
            }
            Op::Rename => {
                let id = self.some_chat();
                let title = self.title("Renamed");
                let a = if rest {
                    app.post(&format!("/api/v1/chats/{id}"), t, json!({"chat": {"title": title}})).await
                } else {
                    gql(
                        app,
                        t,
                        "mutation($id: String!, $c: JSON!) { updateChat(id: $id, chat: $c) { id } }",
                        json!({"id": id, "c": {"title": title}}),
                    )
                    .await
                };
                if !ok(&a, "rename") {
                    return None;
                }
                model.chats.get_mut(&id).expect("chat").title = title;
            }
            Op::Pin => {
                let id = self.some_chat();
                let a = if rest {
                    app.post(&format!("/api/v1/chats/{id}/pin"), t, json!({})).await
                } else {
                    gql(app, t, "mutation($id: String!) { pinChat(id: $id) { id } }", json!({"id": id})).await
                };
                if !ok(&a, "pin") {
                    return None;
                }
                let c = model.chats.get_mut(&id).expect("chat");
                c.pinned = !c.pinned;
            }
            Op::Archive => {
                let id = self.some_chat();
                let a = if rest {
                    app.post(&format!("/api/v1/chats/{id}/archive"), t, json!({})).await
                } else {
                    gql(app, t, "mutation($id: String!) { archiveChat(id: $id) { id } }", json!({"id": id}))
                        .await
                };
                if !ok(&a, "archive") {
                    return None;
                }
                let c = model.chats.get_mut(&id).expect("chat");
                c.archived = !c.archived;
                c.folder = None;
            }
            Op::Clone => {
                let id = self.some_chat();
                let named = self.rng.random_bool(0.5).then(|| self.title("Cloned"));
                let new_id = if rest {
                    let body = match &named {
                        Some(n) => json!({"title": n}),
                        None => json!({}),
                    };
                    let a = app.post(&format!("/api/v1/chats/{id}/clone"), t, body).await;
                    if !ok(&a, "clone") {
                        return None;
                    }
                    a.body["id"].as_str().expect("id").to_string()
                } else {
                    let a = gql(
                        app,
                        t,
                        "mutation($id: String!, $t: String) { cloneChat(id: $id, title: $t) { id } }",
                        json!({"id": id, "t": named}),
                    )
                    .await;
                    if !ok(&a, "cloneChat") {
                        return None;
                    }
                    a.body["data"]["cloneChat"]["id"].as_str().expect("id").to_string()
                };
                let source = model.chats[&id].clone();
                let title = named.unwrap_or_else(|| format!("Clone of {}", source.title));
                model.chats.insert(new_id, ChatState { title, archived: false, ..source });
            }
            Op::Import => {
                let folders = world.users[self.u].lock().unwrap_or_else(|e| e.into_inner()).folders.clone();
                let n = self.rng.random_range(1..=2);
                let mut items = Vec::new();
                let mut states = Vec::new();
                for k in 0..n {
                    let title = self.title(&format!("Imported {k}"));
                    let pinned = self.rng.random_bool(0.3);
                    let archived = self.rng.random_bool(0.2);
                    let folder = self
                        .rng
                        .random_bool(0.3)
                        .then(|| folders[self.rng.random_range(0..folders.len())].clone());
                    items.push(json!({"chat": document(&title), "pinned": pinned, "archived": archived, "folder_id": folder, "meta": {}}));
                    states.push(ChatState {
                        title,
                        pinned,
                        archived,
                        folder,
                        updated_at: 0,
                        tags: BTreeSet::new(),
                    });
                }
                let a = app.post("/api/v1/chats/import", t, json!({"chats": items})).await;
                if !ok(&a, "import") {
                    return None;
                }
                let made = a.body.as_array().expect("list");
                assert_eq!(made.len(), n, "import answers every chat");
                for (view, state) in made.iter().zip(states) {
                    model.chats.insert(view["id"].as_str().expect("id").to_string(), state);
                }
            }
            Op::Tag | Op::Untag => {
                let id = self.some_chat();
                let name = if self.rng.random_bool(0.6) { TAG } else { "home" };
                let adding = op == Op::Tag;
                let a =
                    match (rest, adding) {
                        (true, true) => {
                            app.post(&format!("/api/v1/chats/{id}/tags"), t, json!({"name": name})).await
                        }
                        (true, false) => {
                            app.send(
                                "DELETE",
                                &format!("/api/v1/chats/{id}/tags"),
                                t,
                                Some(json!({"name": name})),
                            )
                            .await
                        }
                        (false, true) => gql(
                            app,
                            t,
                            "mutation($id: String!, $n: String!) { addChatTag(id: $id, name: $n) { id } }",
                            json!({"id": id, "n": name}),
                        )
                        .await,
                        (false, false) => gql(
                            app,
                            t,
                            "mutation($id: String!, $n: String!) { removeChatTag(id: $id, name: $n) { id } }",
                            json!({"id": id, "n": name}),
                        )
                        .await,
                    };
                if !ok(&a, if adding { "tag" } else { "untag" }) {
                    return None;
                }
                let c = model.chats.get_mut(&id).expect("chat");
                if adding {
                    c.tags.insert(name.to_string());
                } else {
                    c.tags.remove(name);
                }
            }
            Op::Move => {
                let id = self.some_chat();
                let folders = world.users[self.u].lock().unwrap_or_else(|e| e.into_inner()).folders.clone();
                let folder = self
                    .rng
                    .random_bool(0.7)
                    .then(|| folders[self.rng.random_range(0..folders.len())].clone());
                let a = if rest {
                    app.post(&format!("/api/v1/chats/{id}/folder"), t, json!({"folder_id": folder})).await
                } else {
                    gql(
                        app,
                        t,
                        "mutation($id: String!, $f: String) { moveChat(id: $id, folderId: $f) { id } }",
                        json!({"id": id, "f": folder}),
                    )
                    .await
                };
                if !ok(&a, "move") {
                    return None;
                }
                let c = model.chats.get_mut(&id).expect("chat");
                c.pinned = false;
                if folder.is_some() {
                    c.archived = false;
                }
                c.folder = folder;
            }
            Op::Delete => {
                let id = self.some_chat();
                let a = if rest {
                    app.delete(&format!("/api/v1/chats/{id}"), t).await
                } else {
                    gql(app, t, "mutation($id: String!) { deleteChat(id: $id) }", json!({"id": id})).await
                };
                if !ok(&a, "delete") {
                    return None;
                }
                model.chats.remove(&id);
            }
            Op::SignOut => {
                let a = if rest {
                    app.post("/api/v1/auths/signout", t, json!({})).await
                } else {
                    gql(app, t, "mutation { signout }", json!({})).await
                };
                if !ok(&a, "signout") {
                    return None;
                }
                model.account.revoked.insert(jti_of(&token));
                let email = world.users[self.u].lock().unwrap_or_else(|e| e.into_inner()).email.clone();
                let s = app.signin(&email, PASSWORD).await;
                if !ok(&s, "signin") {
                    return None;
                }
                let fresh = s.body["token"].as_str().expect("token").to_string();
                let jti = jti_of(&fresh);
                world.users[self.u].lock().unwrap_or_else(|e| e.into_inner()).tokens.push((fresh, jti));
            }
            Op::Role => {
                let (id, email) = {
                    let log = world.users[self.u].lock().unwrap_or_else(|e| e.into_inner());
                    (log.id.clone(), log.email.clone())
                };
                let role = if model.account.role == "pending" {
                    if self.rng.random_bool(0.5) { "user" } else { "admin" }
                } else {
                    ["user", "admin", "pending"][self.rng.random_range(0..3)]
                };
                let name = self.title("Name");
                let admin = Some(world.admin.as_str());
                let a = if rest {
                    app.post(
                        &format!("/api/v1/users/{id}/update"),
                        admin,
                        json!({"role": role, "name": name, "email": email, "profile_image_url": "/user.png"}),
                    )
                    .await
                } else {
                    gql(
                        app,
                        admin,
                        "mutation($id: String!, $r: String!, $n: String!) { updateUser(id: $id, input: {role: $r, name: $n}) { id } }",
                        json!({"id": id, "r": role, "n": name}),
                    )
                    .await
                };
                if !ok(&a, "role") {
                    return None;
                }
                model.account.role = role.to_string();
                model.account.name = name;
            }
        }
        Some(model)
    }
}

fn fresh(title: &str) -> ChatState {
    ChatState {
        title: title.to_string(),
        pinned: false,
        archived: false,
        folder: None,
        updated_at: 0,
        tags: BTreeSet::new(),
    }
}

// ---- the run ----

fn seed() -> u64 {
    std::env::var("COHERENCE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random)
}

async fn wait_until_serving(apps: &[TestApp]) {
    let since = Instant::now();
    while !apps.iter().all(|a| a.db.read_caches_serving()) {
        assert!(since.elapsed() < Duration::from_secs(10), "the caches never came on");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs writers (one per user) and `readers` readers per instance for `duration`, then fails
/// with every stale answer found.
async fn coherence_run(apps: Vec<TestApp>, users: usize, readers: usize, duration: Duration) {
    let seed = seed();
    wait_until_serving(&apps).await;
    let (admin, _) = apps[0].admin().await;
    let mut logs = Vec::new();
    for u in 0..users {
        let email = format!("user{u}@example.com");
        let (token, id) = apps[0].user(&admin, &format!("User {u}"), &email, "user").await;
        let mut folders = Vec::new();
        for f in 0..2 {
            let a =
                apps[0].post("/api/v1/folders/", Some(&token), json!({"name": format!("Folder {f}")})).await;
            assert_eq!(a.status, StatusCode::OK, "folder: {}", a.text);
            folders.push(a.body["id"].as_str().expect("id").to_string());
        }
        for c in 0..2 {
            let a = apps[0]
                .post("/api/v1/chats/new", Some(&token), json!({"chat": document(&format!("First {c}"))}))
                .await;
            assert_eq!(a.status, StatusCode::OK, "chat: {}", a.text);
        }
        let snap = snapshot(&apps[0].db, &id).await;
        let now = Instant::now();
        let jti = jti_of(&token);
        logs.push(Mutex::new(UserLog {
            id,
            email,
            tokens: vec![(token, jti)],
            chat_ids: snap.chats.keys().cloned().collect(),
            folders,
            written: vec![Written {
                start: now,
                end: now,
                instance: 0,
                snap: Arc::new(snap),
                account_changed: true,
                chats_changed: true,
            }],
            pending: None,
        }));
    }
    let started = Instant::now();
    let world = Arc::new(World {
        apps,
        admin,
        users: logs,
        failures: Mutex::default(),
        failed: Default::default(),
        started,
        deadline: started + duration,
        reads: Default::default(),
        exact_reads: Default::default(),
        writes: Default::default(),
    });
    let mut tasks = Vec::new();
    for u in 0..users {
        let model = world.users[u].lock().unwrap_or_else(|e| e.into_inner()).written[0].snap.as_ref().clone();
        let writer = Writer {
            world: world.clone(),
            u,
            rng: StdRng::seed_from_u64(seed ^ (u as u64 + 1)),
            model,
            step: 0,
            instance: u % world.apps.len(),
            last_account_write: None,
        };
        tasks.push(tokio::spawn(writer.run()));
    }
    for instance in 0..world.apps.len() {
        for r in 0..readers {
            let seed = seed.rotate_left(17) ^ ((instance * 100 + r) as u64 + 1);
            tasks.push(tokio::spawn(reader(world.clone(), instance, seed)));
        }
    }
    for task in tasks {
        if let Err(e) = task.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let failures = world.failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let reads = world.reads.load(std::sync::atomic::Ordering::Relaxed);
    let exact = world.exact_reads.load(std::sync::atomic::Ordering::Relaxed);
    let writes = world.writes.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "coherence (seed {seed}): {writes} writes, {reads} reads ({exact} with exactly one right answer)"
    );
    assert!(
        failures.is_empty(),
        "{} incoherent answers (seed {seed}; rerun with COHERENCE_SEED={seed}); the first {}:\n{}",
        world.failed.load(std::sync::atomic::Ordering::Relaxed),
        failures.len(),
        failures.join("\n")
    );
    // A run that checked too little proves nothing.
    assert!(writes >= 40 && exact >= 100, "too little was checked: {writes} writes, {exact} exact reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_on_sqlite_never_serves_a_stale_read() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &CACHES_FOR_A_MINUTE).await else { return };
    coherence_run(vec![app], 5, 4, Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn two_instances_on_postgres_and_redis_stay_within_the_bound() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHES_FOR_A_MINUTE);
    crate::helpers::required_postgres_url();
    let Some(a) = TestApp::spawn_with(Backend::Postgres, &env).await else { return };
    let b = a.separate_instance(&env).await;
    coherence_run(vec![a, b], 6, 3, Duration::from_secs(25)).await;
}

// ---- instances that cannot hear the others ----

/// Changes a chat's title behind every instance's back (no invalidation anywhere).
async fn rename_behind_the_back(db: &Db, chat: &str, title: &str) {
    run!(db, e => sqlx::query("update chats set title = $2 where id = $1")
        .bind(chat)
        .bind(title)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))
    .expect("update");
}

async fn listed_titles(app: &TestApp, token: &str) -> Vec<String> {
    let a = app.get("/api/v1/chats/", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body.as_array().expect("list").iter().map(|c| c["title"].as_str().expect("title").to_string()).collect()
}

async fn redis_cmd(url: &str, args: &[&str]) -> redis::Value {
    let mut c =
        redis::Client::open(url).expect("url").get_multiplexed_async_connection().await.expect("redis");
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut c).await.expect("redis command")
}

/// A Redis user of one test, deleted when the test ends (also when it fails).
struct RedisUser {
    url: String,
    name: String,
}

impl RedisUser {
    async fn create(url: &str, rules: &[&str]) -> RedisUser {
        let name = format!("duet-test-{}", uuid::Uuid::new_v4().simple());
        let password = format!(">{PASSWORD}");
        let mut args = vec!["ACL", "SETUSER", name.as_str(), "on", password.as_str()];
        args.extend(rules);
        redis_cmd(url, &args).await;
        RedisUser { url: url.to_string(), name }
    }
}

impl Drop for RedisUser {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop cannot await: a runtime of its own on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
            rt.block_on(async move {
                if let Ok(mut c) =
                    redis::Client::open(url.as_str()).expect("url").get_multiplexed_async_connection().await
                {
                    let _: redis::RedisResult<i64> =
                        redis::cmd("ACL").arg("DELUSER").arg(&name).query_async(&mut c).await;
                }
            });
        })
        .join();
    }
}

/// `redis://user:password@host…` for a Redis user of this test.
fn url_as(url: &str, user: &str) -> String {
    url.replacen("redis://", &format!("redis://{user}:{PASSWORD}@"), 1)
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let since = Instant::now();
    while !check().await {
        assert!(since.elapsed() < Duration::from_secs(10), "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL with Redis: the caches default to on; without Redis they stay off.
#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn postgres_caches_default_to_on_with_redis_and_off_without() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let Some(alone) = TestApp::spawn(Backend::Postgres).await else { return };
    assert!(!alone.db.read_caches_serving(), "no Redis: off");
    let linked =
        alone.separate_instance(&[("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())]).await;
    until("linked", async || linked.db.read_caches_serving()).await;
}

/// An instance whose Redis cannot be reached, or whose Redis user may not subscribe to the
/// invalidation channel, never serves a cached read; a linked one beside it does (so the check
/// below would see a cached answer).
#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn an_instance_that_cannot_subscribe_serves_nothing_cached() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    // Everything but the invalidation channel.
    let events = format!("&{prefix}:events");
    let user = RedisUser::create(&url, &["~*", "+@all", "resetchannels", &events]).await;
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHES_FOR_A_MINUTE);
    let Some(linked) = TestApp::spawn_with(Backend::Postgres, &env).await else { return };
    let refused_url = url_as(&url, &user.name);
    let mut refused_env = env.clone();
    refused_env[0].1 = refused_url.as_str();
    let refused = linked.separate_instance(&refused_env).await;
    let mut unreachable_env = env.clone();
    unreachable_env[0].1 = "redis://127.0.0.1:1";
    let unreachable = linked.separate_instance(&unreachable_env).await;
    until("the linked instance serves", async || linked.db.read_caches_serving()).await;

    let (admin, _) = linked.admin().await;
    let (alice, _) = linked.user(&admin, "Alice", "alice@example.com", "user").await;
    let a = linked.post("/api/v1/chats/new", Some(&alice), json!({"chat": document("One")})).await;
    let chat = a.body["id"].as_str().expect("id").to_string();
    for app in [&linked, &refused, &unreachable] {
        assert_eq!(listed_titles(app, &alice).await, ["One"]);
    }
    rename_behind_the_back(&linked.db, &chat, "Two").await;
    assert_eq!(listed_titles(&linked, &alice).await, ["One"], "the linked instance serves its copy");
    for (app, which) in [(&refused, "refused"), (&unreachable, "unreachable")] {
        assert_eq!(listed_titles(app, &alice).await, ["Two"], "{which}: no copy is kept without the link");
        let before = app.db.statement_count();
        assert_eq!(app.get("/api/v1/auths/", Some(&alice)).await.status, StatusCode::OK);
        assert!(app.db.statement_count() > before, "{which}: the session is read from the database");
        assert!(!app.db.read_caches_serving(), "{which}: caches off");
    }
}

/// An instance whose subscription is killed turns its caches off while it cannot subscribe again,
/// then starts over from empty once it can (a write made elsewhere meanwhile shows at once).
#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn a_broken_subscription_turns_the_caches_off_until_it_is_back() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let user = RedisUser::create(&url, &["~*", "&*", "+@all"]).await;
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHES_FOR_A_MINUTE);
    let Some(a) = TestApp::spawn_with(Backend::Postgres, &env).await else { return };
    let b_url = url_as(&url, &user.name);
    let mut b_env = env.clone();
    b_env[0].1 = b_url.as_str();
    let b = a.separate_instance(&b_env).await;
    until("both serve", async || a.db.read_caches_serving() && b.db.read_caches_serving()).await;

    let (admin, _) = a.admin().await;
    let (alice, _) = a.user(&admin, "Alice", "alice@example.com", "user").await;
    let made = a.post("/api/v1/chats/new", Some(&alice), json!({"chat": document("One")})).await;
    let chat = made.body["id"].as_str().expect("id").to_string();
    // A write on A reaches B's copy.
    assert_eq!(listed_titles(&b, &alice).await, ["One"]);
    let renamed =
        a.post(&format!("/api/v1/chats/{chat}"), Some(&alice), json!({"chat": {"title": "Two"}})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    until("B hears A", async || listed_titles(&b, &alice).await == ["Two"]).await;
    // B keeps a copy: a change behind its back does not show.
    rename_behind_the_back(&a.db, &chat, "Three").await;
    assert_eq!(listed_titles(&b, &alice).await, ["Two"]);

    // B may no longer subscribe, and its subscription is killed.
    redis_cmd(&url, &["ACL", "SETUSER", &user.name, "resetchannels", &format!("&{prefix}:events")]).await;
    redis_cmd(&url, &["CLIENT", "KILL", "USER", &user.name, "TYPE", "pubsub"]).await;
    until("B drops its copies", async || listed_titles(&b, &alice).await == ["Three"]).await;
    // While B cannot hear A, every read goes to the database.
    for title in ["Four", "Five"] {
        rename_behind_the_back(&a.db, &chat, title).await;
        assert_eq!(listed_titles(&b, &alice).await, [title], "no copy is kept without the link");
    }
    assert!(!b.db.read_caches_serving());
    // A write on A that B cannot hear.
    let missed =
        a.post(&format!("/api/v1/chats/{chat}"), Some(&alice), json!({"chat": {"title": "Six"}})).await;
    assert_eq!(missed.status, StatusCode::OK, "{}", missed.text);

    // Allowed again: B subscribes, starts from empty and caches again.
    redis_cmd(&url, &["ACL", "SETUSER", &user.name, "allchannels"]).await;
    until("B serves again", async || b.db.read_caches_serving()).await;
    assert_eq!(listed_titles(&b, &alice).await, ["Six"]);
    rename_behind_the_back(&a.db, &chat, "Seven").await;
    assert_eq!(listed_titles(&b, &alice).await, ["Six"], "caching again");
}

// ---- a read racing a write ----

/// A list read that misses the cache races a rename of one of its chats (started together, with
/// a random offset either way); the next list read shows the new title: at once on the instance
/// that renamed, within `CROSS_INSTANCE_BOUND` on another (`apps[1]`, when given). A racing read
/// that took its rows before the rename's commit and kept them after the invalidation would keep
/// showing the old one.
async fn racing_reads_never_outlive_a_write(apps: Vec<TestApp>) {
    wait_until_serving(&apps).await;
    let (app, reader) = (&apps[0], apps.last().expect("an instance"));
    let within = if apps.len() > 1 { CROSS_INSTANCE_BOUND } else { Duration::ZERO };
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let made = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": document("v0")})).await;
    let chat = made.body["id"].as_str().expect("id").to_string();
    let other = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": document("other 0")})).await;
    let other = other.body["id"].as_str().expect("id").to_string();
    // A longer list: the longer a read takes from its statement to its store, the likelier a
    // rename lands in between.
    let more: Vec<Value> = (0..if within.is_zero() { 100 } else { 400 })
        .map(|i| json!({"chat": document(&format!("more {i}"))}))
        .collect();
    let imported = app.post("/api/v1/chats/import", Some(&alice), json!({"chats": more})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
    let rename = async |id: &str, title: &str| {
        let a =
            app.post(&format!("/api/v1/chats/{id}"), Some(&alice), json!({"chat": {"title": title}})).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        Instant::now()
    };
    // The list at `path` as `reader` shows it once `within` has passed since `done` (polled until
    // then).
    let settled = async |path: &str, done: Instant, title: &str| -> Vec<String> {
        loop {
            let a = reader.get(path, Some(&alice)).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            let seen: Vec<String> = a
                .body
                .as_array()
                .expect("list")
                .iter()
                .map(|c| c["title"].as_str().expect("title").to_string())
                .collect();
            if seen.iter().any(|t| t == title) || done.elapsed() > within {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut rounds = 0;
    let mut stale = Vec::new();
    while Instant::now() < deadline {
        rounds += 1;
        // Another chat's rename empties the list's cache entry.
        let other_title = format!("other {rounds}");
        let done = rename(&other, &other_title).await;
        // Waited for on another list (another cache entry), so that the racing read misses.
        settled("/api/v1/chats/?include_pinned=true", done, &other_title).await;
        let title = format!("v{rounds}");
        // From another instance the rename is heard a few milliseconds after it is done: the
        // racing read may start later there.
        let (read_after, write_after) = if rng.random_bool(0.5) {
            (
                Duration::from_millis(rng.random_range(0..if within.is_zero() { 3 } else { 12 })),
                Duration::ZERO,
            )
        } else {
            (Duration::ZERO, Duration::from_millis(rng.random_range(0..3)))
        };
        let (_, done) = tokio::join!(
            async {
                tokio::time::sleep(read_after).await;
                listed_titles(reader, &alice).await
            },
            async {
                tokio::time::sleep(write_after).await;
                rename(&chat, &title).await
            }
        );
        let seen = settled("/api/v1/chats/", done, &title).await;
        if !seen.contains(&title) {
            let shown: Vec<&String> = seen.iter().filter(|t| t.starts_with('v')).collect();
            stale.push(format!("after {title}: {shown:?}"));
        }
    }
    eprintln!("racing reads (seed {seed}): {rounds} rounds, {} stale", stale.len());
    assert!(
        stale.is_empty(),
        "{} of {rounds} reads after a rename were stale (seed {seed}): {stale:?}",
        stale.len()
    );
    assert!(rounds >= 10, "only {rounds} rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_racing_reads_never_outlive_a_write() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &CACHES_FOR_A_MINUTE).await else { return };
    racing_reads_never_outlive_a_write(vec![app]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
async fn postgres_racing_reads_never_outlive_a_write() {
    crate::helpers::required_postgres_url();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, &CACHES_FOR_A_MINUTE).await else { return };
    racing_reads_never_outlive_a_write(vec![app]).await;
}

/// The same race with the rename on one instance and the reads on another: the invalidation
/// arrives over Redis while the read is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn racing_reads_on_another_instance_never_outlive_a_write() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHES_FOR_A_MINUTE);
    crate::helpers::required_postgres_url();
    let Some(a) = TestApp::spawn_with(Backend::Postgres, &env).await else { return };
    let b = a.separate_instance(&env).await;
    racing_reads_never_outlive_a_write(vec![a, b]).await;
}
