//! The layering rules, read from `src/`: adapters (`rest`, `graphql`, `socket`) never reach the
//! store, services name no HTTP types, role checks in REST are extractors, files stay small. Files
//! still breaking a rule are listed by name; the lists may only shrink.

use std::path::{Path, PathBuf};

/// Longest a source file may grow, in lines.
const MAX_LINES: usize = 650;

/// Files that still read the store directly from an adapter.
const STORE_IN_ADAPTERS: &[&str] = &[];

/// Files of the service layer that still name an HTTP type.
const HTTP_IN_SERVICES: &[&str] = &[];

/// Files still over `MAX_LINES`.
const LONG_FILES: &[&str] = &[];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file as (path relative to the crate, text).
fn files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    sources(&root.join("src"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).expect("inside the crate").display().to_string();
            (rel, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

/// The code of a file without comments (lines starting with `//`).
fn code(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Checks `rule` on the files under `dir`; `allowed` lists today's exceptions, which must still
/// break the rule (a fixed file leaves the list).
/// `breaks` gets the code without comments and the whole text.
fn check(dir: &str, allowed: &[&str], what: &str, breaks: impl Fn(&str, &str) -> bool) {
    let mut found = Vec::new();
    for (path, text) in files().into_iter().filter(|(p, _)| p.starts_with(dir)) {
        if breaks(&code(&text), &text) {
            found.push(path);
        }
    }
    let new: Vec<&String> = found.iter().filter(|p| !allowed.contains(&p.as_str())).collect();
    assert!(new.is_empty(), "{what}: {new:?}");
    let fixed: Vec<&&str> =
        allowed.iter().filter(|a| a.starts_with(dir) && !found.iter().any(|f| f == *a)).collect();
    assert!(fixed.is_empty(), "{what}: no longer true of {fixed:?}; take them off the list");
}

#[test]
fn adapters_do_not_reach_the_store() {
    check("src/rest", STORE_IN_ADAPTERS, "REST reads the store", |_, c| c.contains("crate::store"));
    check("src/graphql", STORE_IN_ADAPTERS, "GraphQL reads the store", |_, c| c.contains("crate::store"));
    check("src/socket", STORE_IN_ADAPTERS, "socket.io reads the store", |_, c| c.contains("crate::store"));
}

#[test]
fn services_name_no_http_types() {
    check("src/service", HTTP_IN_SERVICES, "a service names an HTTP type", |_, c| {
        c.contains("axum") || c.contains("http::") || c.contains("StatusCode") || c.contains("HeaderMap")
    });
}

#[test]
fn rest_role_checks_are_extractors() {
    check("src/rest", &[], "a REST handler checks the role itself", |_, c| c.contains("caller.require_"));
}

#[test]
fn source_files_stay_small() {
    check("src", LONG_FILES, "a file is over 650 lines", |_, text| text.lines().count() > MAX_LINES);
}
