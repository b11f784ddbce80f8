//! What a request path names in the build directory: checked segments (never `..`, `.`, an
//! encoded `/` or `\`, a NUL, an empty segment), and whether a path that names no file may fall
//! back to `index.html` (client routes do; the API's paths, hashed assets and files do not).

/// Paths that belong to duet's own routes: a miss under them is the JSON 404, never the page.
const RESERVED: [&str; 9] =
    ["/api", "/ws", "/graphql", "/playground", "/docs", "/openapi.json", "/health", "/openai", "/ollama"];

/// Folders of files only: a miss there is a 404 (a missing asset must not arrive as a page).
const ASSET_FOLDERS: [&str; 3] = ["/_app", "/static", "/pyodide"];

/// A request path, read.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// Under a reserved prefix: duet's JSON 404.
    Reserved,
    /// A path that can never name a file of the build (`..`, an encoded separator, …): 404.
    Rejected,
    /// The decoded segments below the build directory (empty for `/`), and whether a miss may be
    /// answered with `index.html`.
    Files { segments: Vec<String>, fallback: bool },
}

/// `prefix` itself or anything below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Reads the (still percent-encoded) path of a request.
pub fn target(raw: &str) -> Target {
    let Some(rest) = raw.strip_prefix('/') else { return Target::Rejected };
    let mut segments = Vec::new();
    let mut parts = rest.split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if part.is_empty() {
            // `/` itself and a trailing slash; `//` names nothing.
            if last {
                break;
            }
            return Target::Rejected;
        }
        let Some(decoded) = percent_decode(part) else { return Target::Rejected };
        if matches!(decoded.as_str(), "." | "..") || decoded.contains(['/', '\\', '\0']) {
            return Target::Rejected;
        }
        segments.push(decoded);
    }
    let decoded = format!("/{}", segments.join("/"));
    if RESERVED.iter().any(|p| under(&decoded, p)) {
        return Target::Reserved;
    }
    let is_asset_name = segments.last().is_some_and(|name| {
        name.rsplit_once('.').is_some_and(|(_, ext)| {
            let ext = ext.to_ascii_lowercase();
            ext != "html" && ext != "htm" && super::file::known_extension(&ext)
        })
    });
    let fallback = !is_asset_name && !ASSET_FOLDERS.iter().any(|p| under(&decoded, p));
    Target::Files { segments, fallback }
}

/// `%XX` escapes decoded; `None` for a malformed escape or text that is not UTF-8.
fn percent_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(raw: &str) -> (Vec<String>, bool) {
        match target(raw) {
            Target::Files { segments, fallback } => (segments, fallback),
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn client_routes_fall_back_and_assets_do_not() {
        assert_eq!(files("/"), (vec![], true));
        assert_eq!(files("/c/123"), (vec!["c".into(), "123".into()], true));
        assert_eq!(files("/admin/settings/"), (vec!["admin".into(), "settings".into()], true));
        assert!(files("/auth").1);
        assert_eq!(files("/notes/a%20b").0, vec!["notes".to_string(), "a b".to_string()]);
        assert!(files("/index.html").1);
        for asset in ["/_app/version.json", "/_app/immutable/x.js", "/static/nope", "/nope.js", "/x.CSS"] {
            assert!(!files(asset).1, "{asset}");
        }
        // A dot in a client route that is not a file name.
        assert!(files("/c/gpt-4.1").1);
    }

    #[test]
    fn the_api_and_duet_pages_are_reserved() {
        for path in [
            "/api",
            "/api/",
            "/api/v1/nope",
            "/ws/socket.io/",
            "/graphql",
            "/playground/assets/x.js",
            "/docs",
            "/openapi.json",
            "/health",
            "/health/db",
            "/openai/models",
            "/ollama/api/tags",
            "/%61pi/v1/x",
        ] {
            assert_eq!(target(path), Target::Reserved, "{path}");
        }
        assert!(files("/apis").1);
        assert!(files("/healthy").1);
    }

    #[test]
    fn traversal_and_odd_segments_are_rejected() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/_app/../../x",
            "/%2e%2e/x",
            "/%2E%2e%2fx",
            "/a/%2fetc%2fpasswd",
            "/a%5c..%5cx",
            "//etc/passwd",
            "/a//b",
            "/./index.html",
            "/%00",
            "/%ff",
            "/a%zz",
            "/a%+1",
            "/a%2",
            "relative",
        ] {
            assert_eq!(target(path), Target::Rejected, "{path}");
        }
    }
}
