//! What a GraphQL document may ask for, checked before any recursive step sees it: its bracket
//! nesting (a linear scan of the text, before parsing), then — on the parsed document, with each
//! fragment measured once — its expanded size, nesting and depth, fragment cycles, introspection's
//! shape, NUL characters in values, and how many password-hashing mutations it runs.
//!
//! async-graphql's own validation and execution expand fragment spreads every time they occur, so
//! a small document with fragments spreading each other twice would cost 2^n; here every fragment
//! is measured once, in dependency order, without recursion across fragments.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};
use axum::http::StatusCode;

use crate::config::GraphqlLimits;
use crate::error::{AppError, ErrorCode};

/// Root fields that verify or hash a password (each costs an argon2 run).
const PASSWORD_FIELDS: [&str; 3] = ["signin", "signup", "updatePassword"];

/// Introspection fields that list a type's members. Along one path at most one of them may
/// appear, so `fields { type { fields { type { … } } } }` cannot fan out through the type graph.
const MEMBER_LISTS: [&str; 5] = ["fields", "inputFields", "interfaces", "possibleTypes", "enumValues"];

fn refuse(text: String) -> AppError {
    AppError::with_text(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, text)
}

/// The deepest bracket nesting (`{`, `[`, `(`) of a GraphQL text, ignoring strings and comments.
/// Stops counting as soon as `max` is exceeded.
pub fn nesting(text: &str, max: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut i, mut depth, mut deepest) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > max {
                        return deepest;
                    }
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// Refuses a text nested deeper than `GRAPHQL_MAX_NESTING` before it is parsed.
pub fn check_text(limits: &GraphqlLimits, text: &str) -> Result<(), AppError> {
    if text.len() > limits.max_query_bytes {
        return Err(refuse(format!(
            "The query is {} bytes; the limit is {} (GRAPHQL_MAX_QUERY_BYTES).",
            text.len(),
            limits.max_query_bytes
        )));
    }
    if nesting(text, limits.max_nesting) > limits.max_nesting {
        return Err(refuse(format!(
            "The query nests brackets more than {} levels deep (GRAPHQL_MAX_NESTING).",
            limits.max_nesting
        )));
    }
    Ok(())
}

/// What one selection set costs once its fragments are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    /// Fields selected, every spread counted each time it occurs.
    fields: u64,
    /// Selection sets, fragment spreads and inline fragments along the longest path.
    nesting: usize,
    /// Field depth, not counting introspection (which is bounded by its own rules).
    depth: usize,
    /// `__schema` fields.
    schemas: u64,
    /// `__schema` and `__type` fields.
    introspection: u64,
    /// Most type-member lists along one path.
    member_lists: usize,
    /// Password-hashing fields at this level (only meaningful for a mutation's root).
    password_ops: u64,
    /// Whether a value holds a NUL character.
    nul: bool,
}

impl Stats {
    /// Adds a sibling's figures.
    fn and(mut self, o: Stats) -> Stats {
        self.fields = self.fields.saturating_add(o.fields);
        self.nesting = self.nesting.max(o.nesting);
        self.depth = self.depth.max(o.depth);
        self.schemas = self.schemas.saturating_add(o.schemas);
        self.introspection = self.introspection.saturating_add(o.introspection);
        self.member_lists = self.member_lists.max(o.member_lists);
        self.password_ops = self.password_ops.saturating_add(o.password_ops);
        self.nul |= o.nul;
        self
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::List(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Enum(name) => name.contains('\0'),
        _ => false,
    }
}

fn const_has_nul(value: &ConstValue) -> bool {
    use ConstValue as C;
    match value {
        C::String(s) => s.contains('\0'),
        C::List(items) => items.iter().any(const_has_nul),
        C::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || const_has_nul(v)),
        C::Enum(name) => name.contains('\0'),
        _ => false,
    }
}

/// Whether `updateUser(input: …)` sets a password (given inline or through a variable).
fn sets_password(arguments: &[(Positioned<Name>, Positioned<Value>)], variables: &Variables) -> bool {
    arguments.iter().any(|(name, value)| {
        name.node == "input"
            && match &value.node {
                Value::Object(map) => map.get("password").is_some_and(|v| !matches!(v, Value::Null)),
                Value::Variable(var) => match variables.get(var) {
                    Some(ConstValue::Object(map)) => {
                        map.get("password").is_some_and(|v| !matches!(v, ConstValue::Null))
                    }
                    _ => false,
                },
                _ => false,
            }
    })
}

struct Measure<'a> {
    fragments: HashMap<&'a str, Stats>,
    variables: &'a Variables,
}

impl<'a> Measure<'a> {
    fn set(&self, set: &Positioned<SelectionSet>) -> Stats {
        let mut out = Stats::default();
        for item in &set.node.items {
            out = out.and(self.selection(&item.node));
        }
        if !set.node.items.is_empty() {
            out.nesting += 1;
        }
        out
    }

    fn selection(&self, selection: &Selection) -> Stats {
        match selection {
            Selection::Field(f) => {
                let f = &f.node;
                let name = f.name.node.as_str();
                let child = self.set(&f.selection_set);
                let introspection = name == "__schema" || name == "__type";
                let nul = f.arguments.iter().any(|(k, v)| k.node.contains('\0') || has_nul(&v.node))
                    || f.directives.iter().any(|d| d.node.arguments.iter().any(|(_, v)| has_nul(&v.node)));
                let password = PASSWORD_FIELDS.contains(&name)
                    || (name == "updateUser" && sets_password(&f.arguments, self.variables));
                Stats {
                    fields: child.fields.saturating_add(1),
                    nesting: child.nesting,
                    depth: if introspection { 0 } else { child.depth + 1 },
                    schemas: child.schemas.saturating_add(u64::from(name == "__schema")),
                    introspection: child.introspection.saturating_add(u64::from(introspection)),
                    member_lists: child.member_lists + usize::from(MEMBER_LISTS.contains(&name)),
                    password_ops: u64::from(password),
                    nul: child.nul || nul,
                }
            }
            Selection::FragmentSpread(s) => {
                let mut stats =
                    self.fragments.get(s.node.fragment_name.node.as_str()).copied().unwrap_or_default();
                stats.nesting += 1;
                stats.nul |=
                    s.node.directives.iter().any(|d| d.node.arguments.iter().any(|(_, v)| has_nul(&v.node)));
                stats
            }
            Selection::InlineFragment(i) => {
                let mut stats = self.set(&i.node.selection_set);
                stats.nesting += 1;
                stats.nul |=
                    i.node.directives.iter().any(|d| d.node.arguments.iter().any(|(_, v)| has_nul(&v.node)));
                stats
            }
        }
    }
}

/// The fragment names a selection set spreads, directly or inside its fields.
fn spreads<'a>(set: &'a Positioned<SelectionSet>, out: &mut HashSet<&'a str>) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(f) => spreads(&f.node.selection_set, out),
            Selection::FragmentSpread(s) => {
                out.insert(s.node.fragment_name.node.as_str());
            }
            Selection::InlineFragment(i) => spreads(&i.node.selection_set, out),
        }
    }
}

/// Fragments ordered so each comes after every fragment it spreads; a cycle is refused with the
/// name of a fragment on it.
fn dependency_order(fragments: &HashMap<Name, Positioned<FragmentDefinition>>) -> Result<Vec<&str>, String> {
    let mut deps: HashMap<&str, HashSet<&str>> = HashMap::with_capacity(fragments.len());
    for (name, def) in fragments {
        let mut used = HashSet::new();
        spreads(&def.node.selection_set, &mut used);
        used.retain(|n| fragments.contains_key(*n));
        deps.insert(name.as_str(), used);
    }
    let mut users: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut waiting: HashMap<&str, usize> = HashMap::with_capacity(deps.len());
    for (name, used) in &deps {
        waiting.insert(name, used.len());
        for dep in used {
            users.entry(dep).or_default().push(name);
        }
    }
    let mut ready: Vec<&str> = waiting.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(name) = ready.pop() {
        order.push(name);
        for user in users.get(name).into_iter().flatten() {
            let n = waiting.get_mut(user).expect("every fragment is counted");
            *n -= 1;
            if *n == 0 {
                ready.push(user);
            }
        }
    }
    if order.len() < deps.len() {
        let mut stuck: Vec<&str> = waiting.iter().filter(|(_, n)| **n > 0).map(|(k, _)| *k).collect();
        stuck.sort_unstable();
        return Err(stuck.first().copied().unwrap_or_default().to_string());
    }
    Ok(order)
}

/// What the checks found that the caller of `check_document` still needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inspection {
    /// Password-hashing mutations this document runs.
    pub password_ops: u64,
}

/// Checks a parsed document against the limits; `operation_name` picks the operation that runs
/// (all of them are measured when it is absent).
pub fn check_document(
    limits: &GraphqlLimits,
    doc: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
) -> Result<Inspection, AppError> {
    let order = dependency_order(&doc.fragments)
        .map_err(|name| refuse(format!("Cannot spread fragment \"{name}\" within itself.")))?;
    let mut measure = Measure { fragments: HashMap::with_capacity(order.len()), variables };
    for name in order {
        let def = &doc.fragments[name];
        let mut stats = measure.set(&def.node.selection_set);
        stats.nul |=
            def.node.directives.iter().any(|d| d.node.arguments.iter().any(|(_, v)| has_nul(&v.node)));
        measure.fragments.insert(name, stats);
    }
    let mut total = Stats::default();
    let mut password_ops = 0u64;
    let mut nul = variables.iter().any(|(k, v)| k.contains('\0') || const_has_nul(v));
    for (name, op) in doc.operations.iter() {
        let runs = operation_name.is_none_or(|wanted| name.map(|n| n.as_str()) == Some(wanted));
        let mut stats = measure.set(&op.node.selection_set);
        nul |= op
            .node
            .variable_definitions
            .iter()
            .any(|v| v.node.default_value.as_ref().is_some_and(|d| const_has_nul(&d.node)));
        if runs && op.node.ty == OperationType::Mutation {
            password_ops = password_ops.saturating_add(stats.password_ops);
        }
        stats.password_ops = 0;
        total = total.and(stats);
    }
    for stats in measure.fragments.values() {
        nul |= stats.nul;
    }
    nul |= total.nul;
    if !limits.introspection && total.introspection > 0 {
        return Err(refuse(
            "Introspection is disabled on this server (GRAPHQL_INTROSPECTION=false).".to_string(),
        ));
    }
    if total.nesting > limits.max_nesting {
        return Err(refuse(format!(
            "The query nests selections more than {} levels deep once its fragments are expanded (GRAPHQL_MAX_NESTING).",
            limits.max_nesting
        )));
    }
    if total.fields > limits.max_complexity as u64 {
        let shown =
            if total.fields == u64::MAX { "more than 2^64".to_string() } else { total.fields.to_string() };
        return Err(refuse(format!(
            "The query selects {shown} fields once its fragments are expanded; the limit is {} (GRAPHQL_MAX_COMPLEXITY).",
            limits.max_complexity
        )));
    }
    if total.depth > limits.max_depth {
        return Err(refuse(format!(
            "The query is nested {} fields deep; the limit is {} (GRAPHQL_MAX_DEPTH).",
            total.depth, limits.max_depth
        )));
    }
    if total.schemas > 1 {
        return Err(refuse("A request may ask for `__schema` once.".to_string()));
    }
    if total.member_lists > 1 {
        return Err(refuse(
            "Introspection may list a type's members (fields, inputFields, interfaces, possibleTypes, enumValues) only once along a path."
                .to_string(),
        ));
    }
    if nul {
        return Err(refuse(
            "Text in a GraphQL request may not contain NUL (\\u0000) characters.".to_string(),
        ));
    }
    Ok(Inspection { password_ops })
}

/// Refuses a request (a whole batch) that would hash more than one password.
pub fn check_password_ops(total: u64) -> Result<(), AppError> {
    if total > 1 {
        return Err(AppError::new(StatusCode::BAD_REQUEST, ErrorCode::TooManyPasswordOperations));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn check(q: &str) -> Result<Inspection, AppError> {
        let doc = async_graphql::parser::parse_query(q).expect("parses");
        check_document(&limits(), &doc, &Variables::default(), None)
    }

    #[test]
    fn nesting_ignores_strings_comments_and_block_strings() {
        assert_eq!(nesting("{ a(x: \"{{{{\") { b } }", 10), 2);
        assert_eq!(nesting("# {{{{{{\n{ a }", 10), 1);
        assert_eq!(nesting("{ a(x: \"\"\" {{{ \\\"\"\" {{ \"\"\") }", 10), 2);
        assert_eq!(nesting("{ a(x: \"\\\"{{\") }", 10), 2);
        assert_eq!(nesting(&"[".repeat(100_000), 64), 65);
    }

    #[test]
    fn exponential_fragments_are_measured_without_expanding_them() {
        let mut q = String::from("query { me { ...F0 } }\n");
        for i in 0..25 {
            q.push_str(&format!("fragment F{i} on User {{ ...F{n} ...F{n} }}\n", n = i + 1));
        }
        q.push_str("fragment F25 on User { id }\n");
        let started = std::time::Instant::now();
        let err = check(&q).expect_err("refused");
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert!(err.message().contains("selects 33554433 fields once"), "{}", err.message());
    }

    #[test]
    fn cycles_are_refused_by_name() {
        let err = check("{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }")
            .expect_err("refused");
        assert_eq!(err.message(), "Cannot spread fragment \"A\" within itself.");
    }

    #[test]
    fn password_mutations_are_counted_through_aliases_and_fragments() {
        let q = "mutation { a: signin(email: \"a\", password: \"b\") ...M } \
                 fragment M on Mutation { b: signup(name: \"n\", email: \"e\", password: \"p\") updatePassword(password: \"x\", newPassword: \"y\") }";
        assert_eq!(check(q).expect("measured").password_ops, 3);
        assert_eq!(check("{ me { id } }").expect("measured").password_ops, 0);
    }

    #[test]
    fn introspection_may_not_walk_the_type_graph() {
        assert!(check("{ __schema { types { fields { name type { name ofType { name } } } } } }").is_ok());
        let err =
            check("{ __schema { types { fields { type { fields { name } } } } } }").expect_err("refused");
        assert!(err.message().starts_with("Introspection may list"));
        assert!(check("{ a: __schema { queryType { name } } b: __schema { queryType { name } } }").is_err());
    }

    #[test]
    fn depth_does_not_count_introspection() {
        let deep =
            format!("{{ __type(name: \"User\") {{ {}name{} }} }}", "ofType { ".repeat(20), " }".repeat(20));
        assert!(check(&deep).is_ok());
        let q = "{ me { chats { edges { node { user { chats { edges { node { user { chats { edges { node { id } } } } } } } } } } } } }";
        assert!(check(q).expect_err("refused").message().contains("GRAPHQL_MAX_DEPTH"));
    }

    #[test]
    fn nul_characters_in_values_and_variables_are_refused() {
        assert!(check("{ chat(id: \"a\\u0000b\") { id } }").is_err());
        let doc = async_graphql::parser::parse_query("query($id: String!) { chat(id: $id) { id } }")
            .expect("parses");
        let vars = Variables::from_json(serde_json::json!({"id": "a\u{0}b"}));
        assert!(check_document(&limits(), &doc, &vars, None).is_err());
    }
}
