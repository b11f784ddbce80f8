//! The benchmark's ceiling line: a minimal axum server with no authentication and no database
//! that answers `GET /{name}` with the bytes of `DIR/{name}` (read once at start-up), as
//! `application/json`. `bench/run.sh` saves the bodies duet returned and measures this server
//! serving the same bytes on the same machine.
//!
//! usage: ceiling <dir> <port>

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

type Files = Arc<HashMap<String, Bytes>>;

async fn file(State(files): State<Files>, Path(name): Path<String>) -> impl IntoResponse {
    match files.get(&name) {
        Some(bytes) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], bytes.clone()),
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], Bytes::new()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: ceiling <dir> <port>");
        std::process::exit(2);
    };
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(name, Bytes::from(std::fs::read(entry.path())?));
    }
    let app = Router::new().route("/{name}", get(file)).with_state(Arc::new(files));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    axum::serve(listener, app).await
}
