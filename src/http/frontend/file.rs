//! One file of the build as an answer: its content type (by extension, as Python's `mimetypes`
//! names them, `charset=utf-8` on text), its caching (hashed assets for a year, the rest
//! revalidated), a validator (`ETag`, `Last-Modified`) answering conditional requests with 304,
//! and a body read in chunks on the blocking pool, the file opened once (its size and time are the
//! open file's, so a file replaced meanwhile is sent whole, old or new).

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;
use std::future::Future;

/// Extension (lower case) → content type.
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/vnd.microsoft.icon"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("wasm", "application/wasm"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("whl", "application/zip"),
    ("tar", "application/x-tar"),
    ("gz", "application/gzip"),
    ("data", "application/octet-stream"),
    ("bin", "application/octet-stream"),
];

/// What an unknown extension is sent as.
const UNKNOWN_TYPE: &str = "application/octet-stream";

/// Hashed file names, safe to keep for a year (SvelteKit's build puts them all here).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else: kept, but checked with the validator before each use.
pub const REVALIDATE: &str = "no-cache";

/// Bytes read from disk per body chunk.
const CHUNK: usize = 64 * 1024;

/// Whether `ext` (lower case) is in the content-type table.
pub fn known_extension(ext: &str) -> bool {
    TYPES.iter().any(|(e, _)| *e == ext)
}

/// The content type of a file name.
pub fn content_type(name: &str) -> &'static str {
    let Some((_, ext)) = name.rsplit_once('.') else { return UNKNOWN_TYPE };
    let ext = ext.to_ascii_lowercase();
    TYPES.iter().find(|(e, _)| *e == ext).map_or(UNKNOWN_TYPE, |(_, t)| t)
}

/// The `Cache-Control` of a request path's file.
pub fn cache_control(segments: &[String]) -> &'static str {
    match segments {
        [app, immutable, _, ..] if app == "_app" && immutable == "immutable" => IMMUTABLE,
        _ => REVALIDATE,
    }
}

/// A regular file found in the build directory, open.
pub struct Found {
    pub file: std::fs::File,
    pub stamp: Stamp,
}

/// A file's size and modification time, as measured when it was opened.
pub struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl Stamp {
    /// A weak validator from the size and modification time (no read of the content).
    fn etag(&self) -> String {
        let nanos = self
            .modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("W/\"{:x}-{:x}\"", self.len, nanos)
    }

    /// Whether the client's copy is current: `If-None-Match` when sent, else `If-Modified-Since`.
    fn not_modified(&self, etag: &str, request: &HeaderMap) -> bool {
        if let Some(tags) = request.get(header::IF_NONE_MATCH) {
            let Ok(tags) = tags.to_str() else { return false };
            let bare = etag.trim_start_matches("W/");
            return tags.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == bare);
        }
        let since = request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        match (since, self.modified) {
            // HTTP dates have whole seconds.
            (Some(since), Some(modified)) => {
                let secs =
                    |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                secs(modified) <= secs(since)
            }
            _ => false,
        }
    }
}

impl Found {
    /// The answer for this file: 304 when the client's copy is current, headers only for `HEAD`.
    pub fn respond(self, name: &str, cache: &'static str, request: &HeaderMap, head: bool) -> Response {
        let Found { file, stamp } = self;
        let etag = stamp.etag();
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        if let Some(modified) = stamp.modified
            && let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified))
        {
            headers.insert(header::LAST_MODIFIED, value);
        }
        if stamp.not_modified(&etag, request) {
            return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty());
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(stamp.len));
        let body =
            if head || stamp.len == 0 { Body::empty() } else { Body::new(FileBody::new(file, stamp.len)) };
        with_headers(StatusCode::OK, headers, body)
    }
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A file's bytes, each `CHUNK` read by its own blocking task (no thread waits on a slow client).
struct FileBody {
    state: Reading,
    left: u64,
}

enum Reading {
    Idle(std::fs::File),
    Busy(tokio::task::JoinHandle<(std::fs::File, std::io::Result<Vec<u8>>)>),
    Done,
}

impl FileBody {
    fn new(file: std::fs::File, len: u64) -> FileBody {
        FileBody { state: Reading::Idle(file), left: len }
    }
}

/// Reads up to `want` bytes (fewer only at the end of the file).
fn read_chunk(file: &mut std::fs::File, want: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        loop {
            match std::mem::replace(&mut self.state, Reading::Done) {
                Reading::Done => return Poll::Ready(None),
                Reading::Idle(mut file) => {
                    let want = CHUNK.min(usize::try_from(self.left).unwrap_or(CHUNK));
                    self.state = Reading::Busy(tokio::task::spawn_blocking(move || {
                        let read = read_chunk(&mut file, want);
                        (file, read)
                    }));
                }
                Reading::Busy(mut task) => {
                    let (file, read) = match Pin::new(&mut task).poll(cx) {
                        Poll::Pending => {
                            self.state = Reading::Busy(task);
                            return Poll::Pending;
                        }
                        Poll::Ready(Ok(done)) => done,
                        Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(std::io::Error::other(e)))),
                    };
                    let chunk = match read {
                        // The file shrank since it was measured: the answer cannot be completed.
                        Ok(chunk) if chunk.is_empty() => {
                            return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())));
                        }
                        Ok(chunk) => chunk,
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    };
                    self.left -= chunk.len() as u64;
                    if self.left > 0 {
                        self.state = Reading::Idle(file);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, Reading::Done)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        for (name, wanted) in [
            ("index.html", "text/html; charset=utf-8"),
            ("x.JS", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("version.json", "application/json"),
            ("favicon.svg", "image/svg+xml"),
            ("favicon.ico", "image/vnd.microsoft.icon"),
            ("f.woff2", "font/woff2"),
            ("ort.wasm", "application/wasm"),
            ("site.webmanifest", "application/manifest+json"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("Makefile", "application/octet-stream"),
            ("x.unknown", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), wanted, "{name}");
        }
    }

    #[test]
    fn only_hashed_assets_are_immutable() {
        let s = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cache_control(&s("_app/immutable/chunks/a.js")), IMMUTABLE);
        assert_eq!(cache_control(&s("_app/version.json")), REVALIDATE);
        assert_eq!(cache_control(&s("_app/immutable")), REVALIDATE);
        assert_eq!(cache_control(&s("index.html")), REVALIDATE);
    }

    #[test]
    fn validators_answer_conditional_requests() {
        let modified = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        let found = Stamp { len: 10, modified: Some(modified) };
        let etag = found.etag();
        let mut h = HeaderMap::new();
        assert!(!found.not_modified(&etag, &h));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&format!("\"x\", {etag}")).expect("value"));
        assert!(found.not_modified(&etag, &h));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!found.not_modified(&etag, &h));
        let mut h = HeaderMap::new();
        let date = |t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).expect("value");
        h.insert(header::IF_MODIFIED_SINCE, date(modified));
        assert!(found.not_modified(&etag, &h));
        h.insert(header::IF_MODIFIED_SINCE, date(modified - std::time::Duration::from_secs(1)));
        assert!(!found.not_modified(&etag, &h));
    }
}
