//! The mixed-workload benchmark's driver: seeds `--users N` accounts, each with `--chats C`
//! chats of `--messages M` messages (a tag on each chat, two stored models every user may read),
//! then runs a closed loop of `--concurrency K` workers for `--duration S` seconds (after
//! `--warmup W` unmeasured seconds), each sending one request after another.
//!
//! Every request picks its user by a Zipf distribution over the N users (exponent `--zipf S`,
//! default 1: the k-th user is chosen with probability ∝ 1/k^S) and, where it names a chat, the
//! chat by the same law over that user's chats, newest first. Operations, 90 % reads / 10 %
//! writes:
//!
//! | operation | share | request | checked |
//! |---|---|---|---|
//! | list | 30 % | `GET /api/v1/chats/?page=1` | 200, an array of 1–60 items with `id` and `title` |
//! | open | 40 % | `GET /api/v1/chats/{id}` | 200, the chat's `id`, a `history.messages` object |
//! | sidebar | 20 % | `POST /graphql`, the 60-chat sidebar query | 200, no `errors`, `me.name` the user's, ≥ 1 edge |
//! | new | 2.5 % | `POST /api/v1/chats/new` (one message) | 200, an `id`, the title sent |
//! | append | 2.5 % | `POST /api/v1/chats/{id}` with one new message in `history` | 200, `currentId` is the new message |
//! | rename | 2.5 % | `POST /api/v1/chats/{id}` with a new `title` | 200, the title sent |
//! | pin | 2.5 % | `POST /api/v1/chats/{id}/pin` | 200, the chat's `id`, `pinned` a boolean |
//!
//! A failed check counts as an error of its operation (the first few are printed). New chats join
//! their user's chats for later requests. With several `--base` URLs each request goes to the
//! next one in turn (one server per URL, e.g. two instances on one database).
//!
//! Users are created by the admin (the first account, signed up here) through
//! `POST /api/v1/auths/add`, which answers the new account's token, so no sign-in is needed;
//! chats through `POST /api/v1/chats/import`. The server must have no accounts yet.
//!
//! Prints one line per operation (count, req/s, p50, p99, errors) and the totals; the last lines
//! are machine-readable: `OP <name> <count> <req_per_s> <p50_ms> <p99_ms> <errors>` per
//! operation, then `RESULT <req_per_s> <p50_ms> <p99_ms> <errors> <count> <driver_cpu_ms>`.
//!
//! usage: mixed --base URL [--base URL …] [--users N] [--chats C] [--messages M]
//!        [--concurrency K] [--duration S] [--warmup W] [--zipf S] [--seed-concurrency J]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const SIDEBAR: &str = "{ me { name } chats(first: 60) { edges { node { id title user { name } models { name } tags { name } } } } }";
const PASSWORD: &str = "Passw0rd!";

struct Options {
    bases: Vec<String>,
    users: usize,
    chats: usize,
    messages: usize,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    zipf: f64,
    seed_concurrency: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: mixed --base URL [--base URL ...] [--users N] [--chats C] [--messages M] \
         [--concurrency K] [--duration S] [--warmup W] [--zipf S] [--seed-concurrency J]"
    );
    std::process::exit(2);
}

fn options() -> Options {
    let mut o = Options {
        bases: Vec::new(),
        users: 1000,
        chats: 10,
        messages: 4,
        concurrency: 64,
        duration: Duration::from_secs(20),
        warmup: Duration::from_secs(2),
        zipf: 1.0,
        seed_concurrency: 8,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { usage() };
        let number = || value.parse::<usize>().unwrap_or_else(|_| usage());
        let seconds = || {
            Duration::from_secs_f64(value.trim_end_matches('s').parse::<f64>().unwrap_or_else(|_| usage()))
        };
        match flag.as_str() {
            "--base" => o.bases.push(value.trim_end_matches('/').to_string()),
            "--users" => o.users = number().max(1),
            "--chats" => o.chats = number().max(1),
            "--messages" => o.messages = number().max(1),
            "--concurrency" => o.concurrency = number().max(1),
            "--duration" => o.duration = seconds(),
            "--warmup" => o.warmup = seconds(),
            "--zipf" => o.zipf = value.parse().unwrap_or_else(|_| usage()),
            "--seed-concurrency" => o.seed_concurrency = number().max(1),
            _ => usage(),
        }
    }
    if o.bases.is_empty() {
        usage();
    }
    o
}

/// A Zipf sampler over ranks `0..n`: rank k with probability ∝ 1/(k+1)^s, by inverse CDF.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1)
    }

    /// A rank below `len` (≤ the sampler's size): resampled until it is, so the shape holds.
    fn sample_below(&self, len: usize, rng: &mut impl Rng) -> usize {
        let len = len.min(self.cdf.len());
        loop {
            let k = self.sample(rng);
            if k < len {
                return k;
            }
        }
    }
}

/// A chat as the client last saw it: its id and its current message.
#[derive(Clone)]
struct ChatRef {
    id: String,
    current: Option<String>,
}

struct User {
    token: String,
    name: String,
    /// Oldest first; new chats are pushed at the end.
    chats: Mutex<Vec<ChatRef>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    List,
    Open,
    Sidebar,
    New,
    Append,
    Rename,
    Pin,
}

/// Operations and their shares in thousandths.
const MIX: [(Op, &str, u32); 7] = [
    (Op::List, "list (GET /api/v1/chats/?page=1)", 300),
    (Op::Open, "open (GET /api/v1/chats/{id})", 400),
    (Op::Sidebar, "sidebar (POST /graphql)", 200),
    (Op::New, "new (POST /api/v1/chats/new)", 25),
    (Op::Append, "append (POST /api/v1/chats/{id})", 25),
    (Op::Rename, "rename (POST /api/v1/chats/{id})", 25),
    (Op::Pin, "pin (POST /api/v1/chats/{id}/pin)", 25),
];
const SHORT: [&str; 7] = ["list", "open", "sidebar", "new", "append", "rename", "pin"];

fn pick_op(rng: &mut impl Rng) -> usize {
    let mut x = rng.random_range(0..1000u32);
    for (i, (_, _, share)) in MIX.iter().enumerate() {
        if x < *share {
            return i;
        }
        x -= share;
    }
    0
}

struct Driver {
    http: reqwest::Client,
    bases: Vec<String>,
    next_base: AtomicUsize,
    users: Vec<User>,
    user_zipf: Zipf,
    chat_zipf: Zipf,
    counter: AtomicU64,
}

type Check = Result<(), String>;

fn message(id: &str, parent: Option<&str>, role: &str, content: String) -> Value {
    json!({"id": id, "parentId": parent, "childrenIds": [], "role": role, "content": content,
           "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())})
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

impl Driver {
    fn base(&self) -> &str {
        let i = self.next_base.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base())).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.map_err(|e| format!("{path}: send: {e}"))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| format!("{path}: body: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "{path}: HTTP {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{path}: not JSON: {e}"))
    }

    fn pick_chat(&self, user: &User, rng: &mut impl Rng) -> ChatRef {
        let chats = user.chats.lock().unwrap_or_else(|e| e.into_inner());
        let k = self.chat_zipf.sample_below(chats.len(), rng);
        chats[chats.len() - 1 - k].clone()
    }

    fn set_current(user: &User, id: &str, current: Option<String>) {
        let mut chats = user.chats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = chats.iter_mut().find(|c| c.id == id) {
            c.current = current;
        }
    }

    /// One operation for one Zipf-chosen user, checked.
    async fn run(&self, op: Op, rng: &mut impl Rng) -> Check {
        use reqwest::Method;
        let user = &self.users[self.user_zipf.sample(rng)];
        let token = user.token.as_str();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match op {
            Op::List => {
                let v = self.call(Method::GET, "/api/v1/chats/?page=1", token, None).await?;
                let items = v.as_array().ok_or("list: not an array")?;
                ensure((1..=60).contains(&items.len()), || format!("list: {} items", items.len()))?;
                ensure(items.iter().all(|c| c["id"].is_string() && c["title"].is_string()), || {
                    "list: item shape".into()
                })
            }
            Op::Open => {
                let chat = self.pick_chat(user, rng);
                let v = self.call(Method::GET, &format!("/api/v1/chats/{}", chat.id), token, None).await?;
                ensure(v["id"] == chat.id.as_str(), || format!("open: id {}", v["id"]))?;
                ensure(v["chat"]["history"]["messages"].is_object(), || "open: no history.messages".into())
            }
            Op::Sidebar => {
                let body = json!({"query": SIDEBAR});
                let v = self.call(Method::POST, "/graphql", token, Some(&body)).await?;
                ensure(v.get("errors").is_none(), || format!("sidebar: errors {}", v["errors"]))?;
                ensure(v["data"]["me"]["name"] == user.name.as_str(), || {
                    format!("sidebar: me {}", v["data"]["me"])
                })?;
                let edges = v["data"]["chats"]["edges"].as_array().map_or(0, Vec::len);
                ensure((1..=60).contains(&edges), || format!("sidebar: {edges} edges"))
            }
            Op::New => {
                let title = format!("New chat {n}");
                let mid = uuid::Uuid::new_v4().to_string();
                let body = json!({"chat": {"title": title, "models": ["llama3"], "history": {"currentId": mid,
                    "messages": {mid.clone(): message(&mid, None, "user", format!("question {n}"))}}}});
                let v = self.call(Method::POST, "/api/v1/chats/new", token, Some(&body)).await?;
                let id = v["id"].as_str().filter(|s| !s.is_empty()).ok_or("new: no id")?;
                ensure(v["title"] == title.as_str(), || format!("new: title {}", v["title"]))?;
                let mut chats = user.chats.lock().unwrap_or_else(|e| e.into_inner());
                chats.push(ChatRef { id: id.to_string(), current: Some(mid) });
                Ok(())
            }
            Op::Append => {
                let chat = self.pick_chat(user, rng);
                let mid = uuid::Uuid::new_v4().to_string();
                let role = if n.is_multiple_of(2) { "user" } else { "assistant" };
                let msg = message(
                    &mid,
                    chat.current.as_deref(),
                    role,
                    format!("message {n} {}", "lorem ipsum ".repeat(8)),
                );
                let body = json!({"chat": {"history": {"currentId": mid, "messages": {mid.clone(): msg}}}});
                let v = self
                    .call(Method::POST, &format!("/api/v1/chats/{}", chat.id), token, Some(&body))
                    .await?;
                let history = &v["chat"]["history"];
                ensure(history["currentId"] == mid.as_str(), || {
                    format!("append: currentId {}", history["currentId"])
                })?;
                ensure(history["messages"][&mid]["role"] == role, || "append: message missing".into())?;
                Self::set_current(user, &chat.id, Some(mid));
                Ok(())
            }
            Op::Rename => {
                let chat = self.pick_chat(user, rng);
                let title = format!("Renamed {n}");
                let body = json!({"chat": {"title": title}});
                let v = self
                    .call(Method::POST, &format!("/api/v1/chats/{}", chat.id), token, Some(&body))
                    .await?;
                ensure(v["title"] == title.as_str(), || format!("rename: title {}", v["title"]))
            }
            Op::Pin => {
                let chat = self.pick_chat(user, rng);
                let v =
                    self.call(Method::POST, &format!("/api/v1/chats/{}/pin", chat.id), token, None).await?;
                ensure(v["id"] == chat.id.as_str(), || format!("pin: id {}", v["id"]))?;
                ensure(v["pinned"].is_boolean(), || "pin: no pinned".into())
            }
        }
    }
}

/// A chat document of `m` alternating messages.
fn history(m: usize, prefix: &str) -> (Value, String) {
    let mut messages = serde_json::Map::new();
    let mut parent: Option<String> = None;
    for i in 0..m {
        let id = format!("{prefix}-{i}");
        let role = if i.is_multiple_of(2) { "user" } else { "assistant" };
        let mut msg = message(
            &id,
            parent.as_deref(),
            role,
            format!("message {i} {}", "lorem ipsum dolor sit amet ".repeat(8)),
        );
        if i + 1 < m {
            msg["childrenIds"] = json!([format!("{prefix}-{}", i + 1)]);
        }
        messages.insert(id.clone(), msg);
        parent = Some(id);
    }
    let current = parent.unwrap_or_default();
    (json!({"currentId": current, "messages": messages}), current)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value, String> {
    let mut request = http.post(&url).header("content-type", "application/json").body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{url}: HTTP {status}: {}", &text[..text.len().min(300)]));
    }
    serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))
}

/// Creates the admin, two models, the users and their chats; returns the users, first = rank 0.
async fn seed(http: &reqwest::Client, o: &Options) -> Result<Vec<User>, String> {
    let base = o.bases[0].clone();
    let admin = post(
        http,
        format!("{base}/api/v1/auths/signup"),
        None,
        json!({"name": "Admin", "email": "admin@example.com", "password": PASSWORD}),
    )
    .await?;
    let admin = admin["token"].as_str().ok_or("signup: no token")?.to_string();
    for m in ["llama3", "gpt-4o"] {
        post(
            http,
            format!("{base}/api/v1/models/create"),
            Some(&admin),
            json!({"id": m, "name": m.to_uppercase(),
            "base_model_id": "base", "meta": {}, "params": {},
            "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]}),
        )
        .await?;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..o.seed_concurrency {
        let (http, base, admin, next, done) =
            (http.clone(), base.clone(), admin.clone(), next.clone(), done.clone());
        let (users, chats, messages) = (o.users, o.chats, o.messages);
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= users {
                    return Ok::<_, String>(out);
                }
                let name = format!("User {i}");
                let added = post(&http, format!("{base}/api/v1/auths/add"), Some(&admin),
                    json!({"name": name, "email": format!("user{i}@example.com"), "password": PASSWORD, "role": "user"})).await?;
                let token = added["token"].as_str().ok_or("add: no token")?.to_string();
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let mut currents = Vec::new();
                let docs: Vec<Value> = (0..chats).map(|c| {
                    let (h, current) = history(messages, &format!("u{i}c{c}"));
                    currents.push(current);
                    json!({"chat": {"title": format!("Chat {c} of user {i}"), "models": [if c.is_multiple_of(2) { "llama3" } else { "gpt-4o" }],
                        "history": h}, "created_at": now - (chats - c) as u64, "updated_at": now - (chats - c) as u64})
                }).collect();
                let imported = post(&http, format!("{base}/api/v1/chats/import"), Some(&token), json!({"chats": docs})).await?;
                let imported = imported.as_array().ok_or("import: not an array")?;
                if imported.len() != chats {
                    return Err(format!("import: {} chats back, {chats} sent", imported.len()));
                }
                let mut refs = Vec::new();
                for (c, (chat, current)) in imported.iter().zip(currents).enumerate() {
                    let id = chat["id"].as_str().ok_or("import: no id")?.to_string();
                    post(&http, format!("{base}/api/v1/chats/{id}/tags"), Some(&token), json!({"name": format!("tag {}", c % 5)})).await?;
                    refs.push(ChatRef { id, current: Some(current) });
                }
                out.push((i, User { token, name, chats: Mutex::new(refs) }));
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of(200) {
                    eprintln!("  seeded {d}/{users} users");
                }
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.map_err(|e| format!("seed task: {e}"))??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, u)| u).collect())
}

/// Latencies (µs) and errors of one operation.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    errors: u64,
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// User and system CPU time of this process in ms.
fn own_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| rest.split_whitespace().nth(n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(11) + field(12)) * 10
}

#[tokio::main]
async fn main() {
    let o = options();
    let http = match reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency.max(o.seed_concurrency))
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("mixed: client: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    eprintln!(
        "seeding {} users x {} chats x {} messages through {}",
        o.users, o.chats, o.messages, o.bases[0]
    );
    let users = match seed(&http, &o).await {
        Ok(users) => users,
        Err(e) => {
            eprintln!("mixed: seeding failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let driver = Arc::new(Driver {
        http,
        bases: o.bases.clone(),
        next_base: AtomicUsize::new(0),
        user_zipf: Zipf::new(users.len(), o.zipf),
        chat_zipf: Zipf::new(64, o.zipf),
        users,
        counter: AtomicU64::new(0),
    });
    let warm_until = Instant::now() + o.warmup;
    let end = warm_until + o.duration;
    let shown = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..o.concurrency {
        let (driver, shown) = (driver.clone(), shown.clone());
        workers.spawn(async move {
            let mut tallies: Vec<Tally> = (0..MIX.len()).map(|_| Tally::default()).collect();
            let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
            loop {
                let i = pick_op(&mut rng);
                let t = Instant::now();
                if t >= end {
                    return tallies;
                }
                let result = driver.run(MIX[i].0, &mut rng).await;
                let elapsed = t.elapsed();
                if t < warm_until {
                    continue;
                }
                let tally = &mut tallies[i];
                match result {
                    Ok(()) => tally.micros.push(elapsed.as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        tally.errors += 1;
                        if shown.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("error: {e}");
                        }
                    }
                }
            }
        });
    }
    let cpu_before = own_cpu_ms();
    let mut tallies: Vec<Tally> = (0..MIX.len()).map(|_| Tally::default()).collect();
    while let Some(joined) = workers.join_next().await {
        let part = match joined {
            Ok(part) => part,
            Err(e) => {
                eprintln!("error: worker: {e}");
                continue;
            }
        };
        for (all, t) in tallies.iter_mut().zip(part) {
            all.micros.extend(t.micros);
            all.errors += t.errors;
        }
    }
    let driver_cpu = own_cpu_ms().saturating_sub(cpu_before);
    let seconds = o.duration.as_secs_f64();
    println!(
        "mixed workload: {} users, Zipf s={}, {} workers, {:.0} s measured after {:.0} s warm-up, {} server(s)",
        driver.users.len(),
        o.zipf,
        o.concurrency,
        seconds,
        o.warmup.as_secs_f64(),
        driver.bases.len()
    );
    println!(
        "{:<40} {:>8} {:>10} {:>10} {:>10} {:>7}",
        "operation", "count", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut machine = Vec::new();
    let mut every = Vec::new();
    let mut errors = 0;
    for (i, t) in tallies.iter_mut().enumerate() {
        t.micros.sort_unstable();
        let count = t.micros.len() as u64 + t.errors;
        let (p50, p99) = (percentile(&t.micros, 0.5), percentile(&t.micros, 0.99));
        println!(
            "{:<40} {:>8} {:>10.1} {:>10.3} {:>10.3} {:>7}",
            MIX[i].1,
            count,
            count as f64 / seconds,
            p50,
            p99,
            t.errors
        );
        machine.push(format!(
            "OP {} {count} {:.1} {p50:.3} {p99:.3} {}",
            SHORT[i],
            count as f64 / seconds,
            t.errors
        ));
        every.extend_from_slice(&t.micros);
        errors += t.errors;
    }
    every.sort_unstable();
    let count = every.len() as u64 + errors;
    let (p50, p99) = (percentile(&every, 0.5), percentile(&every, 0.99));
    println!(
        "{:<40} {:>8} {:>10.1} {:>10.3} {:>10.3} {:>7}",
        "all",
        count,
        count as f64 / seconds,
        p50,
        p99,
        errors
    );
    println!(
        "driver CPU {:.1} s in {:.0} s (warm-up included)",
        driver_cpu as f64 / 1000.0,
        seconds + o.warmup.as_secs_f64()
    );
    for line in machine {
        println!("{line}");
    }
    println!("RESULT {:.1} {p50:.3} {p99:.3} {errors} {count} {driver_cpu}", count as f64 / seconds);
}
