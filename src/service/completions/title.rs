//! The title a chat gets when its first exchange is finished and no model writes titles (the
//! reference's `background_tasks_handler` with title generation off): the first message's text
//! without `<details>` blocks and Markdown images, trimmed, skill mentions shown as their labels.

use serde_json::Value;

/// The title for a chat whose first message has `content` (text, or a list of parts whose
/// `text` parts count, one per line), at most `max_chars` characters.
pub fn from_first_message(content: &Value, max_chars: usize) -> String {
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let title = skill_labels(strip_blocks(&text).trim());
    title.chars().take(max_chars).collect()
}

/// `text` without `<details …>…</details>` blocks (innermost first, one pass) and `![alt](url)`
/// images.
fn strip_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(len) = details_at(rest).or_else(|| image_at(rest)) {
            i += len;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` starts with `<details` as a whole word (any case).
fn opens_details(text: &str) -> bool {
    text.get(..8).is_some_and(|t| t.eq_ignore_ascii_case("<details"))
        && !text[8..].chars().next().is_some_and(is_word)
}

/// The length of a `<details …>…</details>` block at the start of `text` whose body holds no
/// other `<details`.
fn details_at(text: &str) -> Option<usize> {
    if !opens_details(text) {
        return None;
    }
    let head_end = 8 + text[8..].find(['<', '>'])?;
    if text.as_bytes()[head_end] != b'>' {
        return None;
    }
    let mut at = head_end + 1;
    while at < text.len() {
        let rest = &text[at..];
        if rest.get(..10).is_some_and(|t| t.eq_ignore_ascii_case("</details>")) {
            return Some(at + 10);
        }
        if opens_details(rest) {
            return None;
        }
        at += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// The length of a Markdown image `![alt](url)` at the start of `text`.
fn image_at(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("![")?;
    let alt = rest.find(['[', ']'])?;
    let rest = rest[alt..].strip_prefix("](")?;
    let url = rest.find(['(', ')'])?;
    rest[url..].starts_with(')').then(|| 2 + alt + 2 + url + 1)
}

/// A skill id at the start of `text` (`[a-z0-9_-]+`, or `terminal:` and what follows up to `|`,
/// `>` or a space), with what may follow it; its length.
fn skill_id(text: &str, follows: &[char]) -> Option<usize> {
    let plain = text.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'));
    let plain = plain.unwrap_or(text.len());
    if plain > 0 && text[plain..].starts_with(follows) {
        return Some(plain);
    }
    let rest = text.strip_prefix("terminal:")?;
    let end = rest.find(|c: char| c == '|' || c == '>' || c.is_whitespace()).unwrap_or(rest.len());
    (end > 0 && rest[end..].starts_with(follows)).then_some(9 + end)
}

/// A mention `<$id>`, `<$id|label>` or `</id|label>` at the start of `text`: its length and its
/// label (`None` without one).
fn mention_at(text: &str) -> Option<(usize, Option<&str>)> {
    let (dollar, rest) =
        if let Some(r) = text.strip_prefix("<$") { (true, r) } else { (false, text.strip_prefix("</")?) };
    let follows: &[char] = if dollar { &['|', '>'] } else { &['|'] };
    let id = skill_id(rest, follows)?;
    let after = &rest[id..];
    match after.strip_prefix('|') {
        Some(label) => {
            let end = label.find('>')?;
            Some((2 + id + 1 + end + 1, Some(&label[..end])))
        }
        None => after.starts_with('>').then_some((2 + id + 1, None)),
    }
}

/// Mentions with a label shown as the label (`replace_skill_mentions_with_labels`).
fn skill_labels(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with('<')
            && let Some((len, label)) = mention_at(rest)
        {
            match label.filter(|l| !l.is_empty()) {
                Some(label) => out.push_str(label),
                None => out.push_str(&rest[..len]),
            }
            i += len;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn title(v: Value) -> String {
        from_first_message(&v, 1000)
    }

    #[test]
    fn the_first_message_is_the_title() {
        assert_eq!(title(json!("  What is Rust?\n")), "What is Rust?");
        assert_eq!(
            title(
                json!([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}])
            ),
            "a\nb"
        );
        assert_eq!(title(json!(5)), "");
        assert_eq!(from_first_message(&json!("héllo"), 2), "hé");
    }

    #[test]
    fn details_blocks_and_images_are_left_out() {
        assert_eq!(title(json!("<details type=\"x\">hidden</details>Shown")), "Shown");
        assert_eq!(title(json!("<DETAILS>a</Details> b ![cat](http://x/c.png) c")), "b  c");
        // Innermost first, in one pass.
        assert_eq!(title(json!("<details><details>in</details>out</details>")), "<details>out</details>");
        // Not a block: another word, or no end.
        assert_eq!(title(json!("<detailsx>a</details>")), "<detailsx>a</details>");
        assert_eq!(title(json!("<details>open")), "<details>open");
        assert_eq!(title(json!("![a[b]](u)")), "![a[b]](u)");
    }

    #[test]
    fn skill_mentions_show_their_labels() {
        assert_eq!(title(json!("Use <$web-search|Web Search> now")), "Use Web Search now");
        assert_eq!(title(json!("Run </terminal:box 1|Box>")), "Run </terminal:box 1|Box>");
        assert_eq!(title(json!("Run </terminal:box|Box>")), "Run Box");
        assert_eq!(title(json!("<$plain> and <$x|>")), "<$plain> and <$x|>");
        assert_eq!(title(json!("<$Upper|L>")), "<$Upper|L>");
    }
}
