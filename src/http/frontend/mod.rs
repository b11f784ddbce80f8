//! The reference's built web app, served from `FRONTEND_BUILD_DIR` at `/` as the router's
//! fallback: a path that no route serves is a file of the build, or — for a client route such as
//! `/c/<id>` — the app's `index.html`. Paths of duet's own (`/api/…`, `/ws/…`, `/graphql`, …), of
//! asset folders (`/_app/…`, `/static/…`) and of asset names (`*.js`, …) never fall back: a miss
//! there is the JSON 404. A path that could leave the directory (`..`, encoded separators, a
//! symlink pointing out) is a 404 too. Without `FRONTEND_BUILD_DIR` every such path is the JSON
//! 404, as before. Security headers and CORS apply as on every answer (the edge layers wrap this).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::ConfigError;
use crate::error::{AppError, ErrorCode};

pub mod file;
mod path;

use file::{Found, Stamp};
use path::Target;

/// The page every client route is answered with.
const INDEX: &str = "index.html";

/// A checked build directory (it exists and has an `index.html`), by its canonical path.
#[derive(Debug, Clone)]
pub struct Frontend {
    root: Arc<PathBuf>,
}

impl Frontend {
    /// Checks `dir` at start-up: a missing directory or one without `index.html` stops start-up.
    pub fn open(dir: &str) -> Result<Frontend, ConfigError> {
        let var = "FRONTEND_BUILD_DIR";
        let root = std::fs::canonicalize(dir).map_err(|e| {
            ConfigError::new(var, format!("cannot open the web app's build directory {dir:?}: {e}"))
        })?;
        if !root.is_dir() {
            return Err(ConfigError::new(var, format!("{dir:?} is not a directory")));
        }
        if !root.join(INDEX).is_file() {
            return Err(ConfigError::new(
                var,
                format!(
                    "{dir:?} has no {INDEX}; point it at a built web app (the open_webui/frontend folder of the open-webui wheel)"
                ),
            ));
        }
        Ok(Frontend { root: Arc::new(root) })
    }

    /// The canonical build directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The answer for a request no route served.
    pub async fn serve(&self, method: &Method, raw_path: &str, headers: &HeaderMap) -> Response {
        let (segments, fallback) = match path::target(raw_path) {
            Target::Reserved | Target::Rejected => return not_found(),
            Target::Files { segments, fallback } => (segments, fallback),
        };
        let head = method == Method::HEAD;
        if !head && method != Method::GET {
            return method_not_allowed();
        }
        let root = self.root.clone();
        let wanted = segments.clone();
        let lookup = tokio::task::spawn_blocking(move || match lookup(&root, &wanted) {
            Lookup::Missing if fallback => lookup(&root, &[INDEX.to_string()]),
            other => other,
        })
        .await
        .unwrap_or(Lookup::Unreadable);
        match lookup {
            Lookup::Found { found, name } => {
                let cache =
                    if name.ends_with(".html") { file::REVALIDATE } else { file::cache_control(&segments) };
                found.respond(&name, cache, headers, head)
            }
            Lookup::Missing | Lookup::Outside | Lookup::Unreadable => not_found(),
        }
    }
}

/// The router's fallback: the build's files when `FRONTEND_BUILD_DIR` is set, the JSON 404 else.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    match &state.config.frontend {
        Some(frontend) => frontend.serve(req.method(), req.uri().path(), req.headers()).await,
        None => not_found(),
    }
}

/// What a path names below the build directory.
enum Lookup {
    /// A regular file, open, with the name its content type comes from.
    Found { found: Found, name: String },
    /// Nothing there.
    Missing,
    /// It resolves (through a symlink) to a place outside the directory.
    Outside,
    /// It exists but cannot be read.
    Unreadable,
}

/// Resolves `segments` (already checked) below `root`; a directory means its `index.html`.
fn lookup(root: &Path, segments: &[String]) -> Lookup {
    let mut candidate = root.to_path_buf();
    candidate.extend(segments);
    let mut real = match inside(root, &candidate) {
        Ok(real) => real,
        Err(lookup) => return lookup,
    };
    if real.is_dir() {
        real = match inside(root, &real.join(INDEX)) {
            Ok(real) => real,
            Err(lookup) => return lookup,
        };
    }
    let Ok(file) = std::fs::File::open(&real) else { return Lookup::Unreadable };
    let Ok(meta) = file.metadata() else { return Lookup::Unreadable };
    if !meta.is_file() {
        return Lookup::Missing;
    }
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp = Stamp { len: meta.len(), modified: meta.modified().ok() };
    Lookup::Found { found: Found { file, stamp }, name }
}

/// The canonical form of `path` when it is inside `root`.
fn inside(root: &Path, path: &Path) -> Result<PathBuf, Lookup> {
    match std::fs::canonicalize(path) {
        Ok(real) if real.starts_with(root) => Ok(real),
        Ok(_) => Err(Lookup::Outside),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            Err(Lookup::Missing)
        }
        Err(_) => Err(Lookup::Unreadable),
    }
}

fn not_found() -> Response {
    AppError::with_text(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not Found").into_response()
}

/// The build is read-only: other methods than `GET` and `HEAD` are 405, as the reference's
/// static files answer them.
fn method_not_allowed() -> Response {
    let mut res =
        AppError::with_text(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::NotFound, "Method Not Allowed")
            .into_response();
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    res
}
