//! What a GraphQL request would otherwise redo every time: documents parsed once per text (one
//! bounded cache for the process — parsing does not depend on the schema), validation remembered
//! per schema by text, operation and variables (`Twin`), and automatic
//! persisted queries (Apollo's `persistedQuery` extension: a text registered under its SHA-256,
//! later sent as the hash alone).
//!
//! Nothing here skips a limit: `limits::check_text` and `limits::check_document` run on every
//! request, on the cached document; async-graphql's complexity and depth limits run on every
//! request too, and its other rules are skipped only for the same text, operation and variables
//! that passed them before — what those rules read — so they would pass again. Failed validations
//! are not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ObjectType, Request, Response, Schema, SchemaBuilder, ServerError, SubscriptionType, ValidationMode,
    ValidationResult, Value,
};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use crate::error::{AppError, ErrorCode};

/// Documents kept at most, and the most query text they may hold together.
pub const DOCUMENTS: usize = 512;
pub const DOCUMENT_BYTES: usize = 2 << 20;
/// Validation results kept per schema, and the most bytes their keys may hold together.
pub const VALIDATIONS: usize = 1024;
pub const VALIDATION_BYTES: usize = 4 << 20;
/// Longer variables (as JSON) are validated every time rather than kept as part of a key.
pub const MAX_KEYED_VARIABLES: usize = 4 << 10;

/// A bounded map that drops its least recently used entries first, bounded by entries and by the
/// bytes of its keys (and of what the caller counts of each value).
struct Lru<V> {
    map: HashMap<Arc<str>, Slot<V>>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

struct Slot<V> {
    value: V,
    used: u64,
    bytes: usize,
}

impl<V: Clone> Lru<V> {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        Lru { map: HashMap::new(), tick: 0, bytes: 0, max_entries, max_bytes }
    }

    fn get(&mut self, key: &str) -> Option<V> {
        self.tick += 1;
        let slot = self.map.get_mut(key)?;
        slot.used = self.tick;
        Some(slot.value.clone())
    }

    /// Keeps `value` under `key`, dropping the least recently used entries until both bounds hold.
    /// An entry larger than the byte bound is not kept.
    fn put(&mut self, key: Arc<str>, value: V, bytes: usize) {
        if bytes > self.max_bytes || self.max_entries == 0 {
            return;
        }
        self.tick += 1;
        if let Some(old) = self.map.insert(key, Slot { value, used: self.tick, bytes }) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        while self.map.len() > self.max_entries || self.bytes > self.max_bytes {
            // A linear scan, on inserts past the bound only: a miss has just paid for a parse
            // (or a validation), which costs more than looking at every key.
            let Some(oldest) = self.map.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(gone) = self.map.remove(&oldest) {
                self.bytes -= gone.bytes;
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parsed documents by query text, and persisted query texts by their SHA-256 (hex).
pub struct DocumentCache {
    documents: Mutex<Lru<Arc<ExecutableDocument>>>,
    persisted: Mutex<Lru<Arc<str>>>,
    parses: AtomicU64,
}

impl DocumentCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        DocumentCache {
            documents: Mutex::new(Lru::new(max_entries, max_bytes)),
            persisted: Mutex::new(Lru::new(max_entries, max_bytes)),
            parses: AtomicU64::new(0),
        }
    }

    /// The document `text` parses to (parsed on the first request for it), or `None` when it
    /// does not parse (async-graphql answers the syntax error).
    pub fn parsed(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        if let Some(doc) = lock(&self.documents).get(text) {
            return Some(doc);
        }
        self.parses.fetch_add(1, Ordering::Relaxed);
        let doc = Arc::new(async_graphql::parser::parse_query(text).ok()?);
        // The text counts twice: once as the key, about once more for the tree it became.
        lock(&self.documents).put(Arc::from(text), doc.clone(), text.len().saturating_mul(2));
        Some(doc)
    }

    /// How many texts were parsed (not found in the cache) so far.
    pub fn parses(&self) -> u64 {
        self.parses.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        lock(&self.documents).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn persisted_text(&self, hash: &str) -> Option<Arc<str>> {
        lock(&self.persisted).get(hash)
    }

    fn persist(&self, hash: String, text: &str) {
        let bytes = hash.len() + text.len();
        lock(&self.persisted).put(Arc::from(hash), Arc::from(text), bytes);
    }
}

/// The process's document cache.
pub fn documents() -> &'static DocumentCache {
    static DOCS: LazyLock<DocumentCache> = LazyLock::new(|| DocumentCache::new(DOCUMENTS, DOCUMENT_BYTES));
    &DOCS
}

/// What a request's `persistedQuery` extension asks for (Apollo's automatic persisted queries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persisted {
    /// No `persistedQuery` extension.
    No,
    /// The text came with its hash: keep it under that hash once it is admitted.
    Register(String),
}

fn refuse(text: impl Into<String>) -> AppError {
    AppError::with_text(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, text.into())
}

/// Resolves the `persistedQuery` extension of `request` against `cache`, with the texts of
/// async-graphql's own extension: a request with the hash alone gets the registered text (or
/// `PersistedQueryNotFound`, which tells the client to send the text along); a text with a hash
/// must match it. The extension is removed from the request either way.
pub fn resolve_persisted(cache: &DocumentCache, request: &mut Request) -> Result<Persisted, AppError> {
    let Some(value) = request.extensions.remove("persistedQuery") else { return Ok(Persisted::No) };
    let (version, hash) = match &value {
        Value::Object(fields) => (fields.get("version"), fields.get("sha256Hash")),
        _ => (None, None),
    };
    let (Some(Value::Number(version)), Some(Value::String(hash))) = (version, hash) else {
        return Err(refuse("Invalid \"PersistedQuery\" extension configuration."));
    };
    if version.as_i64() != Some(1) {
        return Err(refuse(format!(
            "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{version}\"."
        )));
    }
    if request.query.is_empty() {
        let Some(text) = cache.persisted_text(hash) else {
            return Err(AppError::new(StatusCode::OK, ErrorCode::PersistedQueryNotFound));
        };
        request.query = text.to_string();
        return Ok(Persisted::No);
    }
    let actual = hex(&Sha256::digest(request.query.as_bytes()));
    if &actual != hash {
        return Err(refuse("provided sha does not match query"));
    }
    Ok(Persisted::Register(actual))
}

/// Keeps an admitted text under its hash (see `resolve_persisted`).
pub fn register(cache: &DocumentCache, persisted: Persisted, text: &str) {
    if let Persisted::Register(hash) = persisted {
        cache.persist(hash, text);
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Which requests passed validation on one schema, by text, operation and variables.
#[derive(Clone)]
pub struct ValidationCache(Arc<Validations>);

struct Validations {
    passed: Mutex<Lru<()>>,
    runs: AtomicU64,
}

impl ValidationCache {
    pub fn new(max_entries: usize) -> Self {
        ValidationCache(Arc::new(Validations {
            passed: Mutex::new(Lru::new(max_entries, VALIDATION_BYTES)),
            runs: AtomicU64::new(0),
        }))
    }

    /// How many requests were validated in full (not found in the cache) so far.
    pub fn runs(&self) -> u64 {
        self.0.runs.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        lock(&self.0.passed).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn passed(&self, key: &str) -> bool {
        lock(&self.0.passed).get(key).is_some()
    }
}

/// A schema and its twin in async-graphql's `Fast` validation mode, which leaves out the rules
/// that only find errors (unknown fields, wrong argument types, …) but still computes cache
/// control, complexity and depth and enforces their limits. A request whose text, operation and
/// variables passed the full rules once runs on the twin: the rules would pass again.
///
/// The twin has no extensions, so its fields resolve without the extension chain async-graphql
/// wraps around every field of a schema that has one; the full schema records what passed with
/// an extension (`ValidationCache`).
pub struct Twin<Q, M, S> {
    fast: Schema<Q, M, S>,
    validations: ValidationCache,
}

/// Builds a schema from `builder` (called twice: the full schema and its twin).
pub fn schema_with_twin<Q, M, S>(builder: impl Fn() -> SchemaBuilder<Q, M, S>) -> Schema<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let validations = ValidationCache::new(VALIDATIONS);
    let fast = builder().validation_mode(ValidationMode::Fast).finish();
    builder().extension(validations.clone()).data(Twin { fast, validations }).finish()
}

/// Executes `request` on `schema`, or on its twin when the same text, operation and variables
/// passed validation before (see `Twin`).
pub async fn execute<Q, M, S>(schema: &Schema<Q, M, S>, request: Request) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let Some(twin) = schema.data::<Twin<Q, M, S>>() else { return schema.execute(request).await };
    let Some(key) = validation_key(&request) else { return schema.execute(request).await };
    if twin.validations.passed(&key) {
        return twin.fast.execute(request).await;
    }
    schema.execute(request.data(ValidationKey(key))).await
}

/// The key of what validation reads: the operation name, the variables and the text. `None` when
/// there is no text (async-graphql answers that) or the variables are too long to keep.
fn validation_key(request: &Request) -> Option<Arc<str>> {
    if request.query.is_empty() {
        return None;
    }
    let variables = serde_json::to_string(&request.variables).ok()?;
    if variables.len() > MAX_KEYED_VARIABLES {
        return None;
    }
    let op = request.operation_name.as_deref().unwrap_or("");
    // NUL cannot occur in an operation name, and the variables are JSON: the parts stay apart.
    Some(Arc::from(format!("{op}\u{0}{variables}\u{0}{}", request.query)))
}

/// A request's validation key, in its data (see `execute`).
struct ValidationKey(Arc<str>);

impl ExtensionFactory for ValidationCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ValidationCache {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.0.runs.fetch_add(1, Ordering::Relaxed);
        let result = next.run(ctx).await?;
        if let Some(ValidationKey(key)) = ctx.data_opt::<ValidationKey>() {
            lock(&self.0.passed).put(key.clone(), (), key.len());
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, Variables};
    use serde_json::json;

    use super::*;
    use crate::config::GraphqlLimits;

    struct Root;

    #[Object]
    impl Root {
        async fn echo(&self, text: String) -> String {
            text
        }
        #[graphql(complexity = "first.max(0) as usize * child_complexity")]
        async fn items(&self, first: i32) -> Vec<Item> {
            (0..first.clamp(0, 3)).map(Item).collect()
        }
    }

    struct Item(i32);

    #[Object]
    impl Item {
        async fn n(&self) -> i32 {
            self.0
        }
    }

    type TestSchema = Schema<Root, EmptyMutation, EmptySubscription>;

    fn schema(complexity: usize) -> (TestSchema, ValidationCache) {
        let s = schema_with_twin(|| {
            Schema::build(Root, EmptyMutation, EmptySubscription).limit_complexity(complexity)
        });
        let validations =
            s.data::<Twin<Root, EmptyMutation, EmptySubscription>>().expect("twin").validations.clone();
        (s, validations)
    }

    /// A request as `graphql::admit` hands it on: parsed through `cache`.
    fn request(cache: &DocumentCache, text: &str, variables: serde_json::Value) -> Request {
        let mut r = Request::new(text).variables(Variables::from_json(variables));
        if let Some(doc) = cache.parsed(text) {
            r.set_parsed_query(ExecutableDocument::clone(&doc));
        }
        r
    }

    fn limits() -> GraphqlLimits {
        GraphqlLimits {
            max_depth: 12,
            max_complexity: 5000,
            max_query_bytes: 1 << 20,
            max_nesting: 64,
            max_batch: 20,
            introspection: true,
            playground: false,
        }
    }

    #[test]
    fn a_text_is_parsed_once_and_other_texts_miss() {
        let cache = DocumentCache::new(8, 1 << 20);
        let a = cache.parsed("{ echo(text: \"a\") }").expect("parses");
        let again = cache.parsed("{ echo(text: \"a\") }").expect("parses");
        assert!(Arc::ptr_eq(&a, &again), "the second request reuses the parsed document");
        assert_eq!(cache.parses(), 1);
        let b = cache.parsed("{ echo(text: \"b\") }").expect("parses");
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!((cache.parses(), cache.len()), (2, 2));
        assert!(cache.parsed("{ echo(").is_none(), "a syntax error is left to async-graphql");
        assert_eq!(cache.len(), 2, "nothing is kept for a text that does not parse");
    }

    #[test]
    fn the_cache_keeps_its_bounds_dropping_the_least_recently_used() {
        let cache = DocumentCache::new(3, 1 << 20);
        for t in ["a", "b", "c"] {
            cache.parsed(&format!("{{ {t}: echo(text: \"x\") }}"));
        }
        cache.parsed("{ a: echo(text: \"x\") }"); // `a` is used again, so `b` is the oldest
        cache.parsed("{ d: echo(text: \"x\") }");
        assert_eq!(cache.len(), 3);
        let parses = cache.parses();
        cache.parsed("{ a: echo(text: \"x\") }");
        cache.parsed("{ c: echo(text: \"x\") }");
        assert_eq!(cache.parses(), parses, "`a` and `c` stayed");
        cache.parsed("{ b: echo(text: \"x\") }");
        assert_eq!(cache.parses(), parses + 1, "`b` was dropped");

        let small = DocumentCache::new(100, 200);
        for i in 0..20 {
            small.parsed(&format!("{{ f{i}: echo(text: \"{i:0>20}\") }}"));
        }
        assert!(small.len() < 20 && !small.is_empty(), "{} kept", small.len());
        let long = format!("{{ echo(text: \"{}\") }}", "x".repeat(300));
        assert!(small.parsed(&long).is_some(), "a text over the byte bound still parses");
        let parses = small.parses();
        small.parsed(&long);
        assert_eq!(small.parses(), parses + 1, "but it is not kept");
    }

    #[tokio::test]
    async fn validation_runs_once_per_text_operation_and_variables() {
        let docs = DocumentCache::new(8, 1 << 20);
        let (s, validations) = schema(100);
        let q = "query($t: String!) { echo(text: $t) }";
        for _ in 0..3 {
            let r = execute(&s, request(&docs, q, json!({"t": "hi"}))).await;
            assert_eq!(r.data.into_json().expect("json"), json!({"echo": "hi"}));
        }
        assert_eq!(validations.runs(), 1, "validated in full once");
        let r = execute(&s, request(&docs, q, json!({"t": "other"}))).await;
        assert_eq!(r.data.into_json().expect("json"), json!({"echo": "other"}));
        assert_eq!(validations.runs(), 2, "other variables are validated again");
        assert_eq!(docs.parses(), 1, "and parsed once");
    }

    #[tokio::test]
    async fn a_document_that_fails_validation_is_not_kept_as_valid() {
        let docs = DocumentCache::new(8, 1 << 20);
        let (s, validations) = schema(100);
        for _ in 0..2 {
            let r = execute(&s, request(&docs, "{ nope }", json!({}))).await;
            assert!(r.errors[0].message.contains("Unknown field \"nope\""), "{:?}", r.errors);
        }
        // A variable of the wrong type fails the same way every time.
        let q = "query($t: String!) { echo(text: $t) }";
        for _ in 0..2 {
            let r = execute(&s, request(&docs, q, json!({"t": 5}))).await;
            assert!(r.errors[0].message.starts_with("Invalid value for argument"), "{:?}", r.errors);
        }
        assert_eq!((validations.runs(), validations.len()), (4, 0));
        let r = execute(&s, request(&docs, q, json!({"t": "ok"}))).await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(validations.len(), 1);
    }

    #[tokio::test]
    async fn the_complexity_limit_holds_on_a_cached_document() {
        let docs = DocumentCache::new(8, 1 << 20);
        let (s, _) = schema(10);
        let q = "query($n: Int!) { items(first: $n) { n } }";
        let r = execute(&s, request(&docs, q, json!({"n": 2}))).await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        for _ in 0..2 {
            let r = execute(&s, request(&docs, q, json!({"n": 50}))).await;
            assert_eq!(r.errors[0].message, "Query is too complex.");
        }
        assert_eq!(docs.parses(), 1);
        // The twin that serves validated requests enforces the same limit.
        let twin = s.data::<Twin<Root, EmptyMutation, EmptySubscription>>().expect("twin");
        let r = twin.fast.execute(request(&docs, q, json!({"n": 50}))).await;
        assert_eq!(r.errors[0].message, "Query is too complex.");
    }

    #[test]
    fn the_limits_run_on_every_request_for_a_cached_text() {
        let text = "{ me { chats { edges { node { user { name } } } } } }";
        let loose = limits();
        assert!(super::super::admit(&loose, Request::new(text)).is_ok());
        assert!(documents().parsed(text).is_some(), "the text is cached");
        let tight = GraphqlLimits { max_depth: 4, ..limits() };
        let err = super::super::admit(&tight, Request::new(text)).err().expect("refused");
        assert_eq!(err.message(), "The query is nested 6 fields deep; the limit is 4 (GRAPHQL_MAX_DEPTH).");
        let nul = Request::new("query($id: String!) { chat(id: $id) { id } }")
            .variables(Variables::from_json(json!({"id": "a\u{0}b"})));
        assert!(super::super::admit(&loose, nul).is_err(), "variables are checked every time");
    }

    #[test]
    fn persisted_queries_register_by_hash_and_answer_the_hash_alone() {
        let cache = DocumentCache::new(8, 1 << 20);
        let text = "{ echo(text: \"apq\") }";
        let hash = hex(&Sha256::digest(text.as_bytes()));
        let with = |query: &str, hash: &str| {
            let mut r = Request::new(query);
            r.extensions.insert(
                "persistedQuery".into(),
                Value::from_json(json!({"version": 1, "sha256Hash": hash})).expect("value"),
            );
            r
        };
        let mut unknown = with("", &hash);
        let err = resolve_persisted(&cache, &mut unknown).expect_err("not registered yet");
        assert_eq!((err.status, err.message()), (StatusCode::OK, "PersistedQueryNotFound".to_string()));
        let mut wrong = with(text, &"0".repeat(64));
        assert_eq!(
            resolve_persisted(&cache, &mut wrong).expect_err("mismatch").message(),
            "provided sha does not match query"
        );
        let mut first = with(text, &hash);
        let persisted = resolve_persisted(&cache, &mut first).expect("registers");
        assert_eq!(persisted, Persisted::Register(hash.clone()));
        assert!(first.extensions.is_empty());
        register(&cache, persisted, &first.query);
        let mut later = with("", &hash);
        assert_eq!(resolve_persisted(&cache, &mut later).expect("found"), Persisted::No);
        assert_eq!(later.query, text);
        let mut bad = Request::new("");
        bad.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(json!({"version": 2, "sha256Hash": hash})).expect("value"),
        );
        assert!(
            resolve_persisted(&cache, &mut bad).expect_err("version").message().contains("version \"1\"")
        );
        let mut plain = Request::new(text);
        assert_eq!(resolve_persisted(&cache, &mut plain).expect("no extension"), Persisted::No);
    }
}
