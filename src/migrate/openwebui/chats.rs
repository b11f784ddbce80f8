//! Chats and their shares: Open WebUI's `chat` rows (document with its message history, title,
//! pinned, archived, folder, share link, read state) become duet's `chats`, with the search text
//! and the tag links (`chat_tags`) duet keeps beside them; `shared_chat` snapshots become
//! `shared_chats`. A chat whose document is not JSON, or whose owner is not in duet, is skipped.

use std::collections::HashSet;

use serde_json::{Map, Value as Json};

use super::fields::{Fixes, Row, boolean, int, json, object, opt_int, opt_text, optional_json, text};
use super::step::{Part, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;
use crate::service::chats::document::{current_message_id, search_text, title_of};
use crate::service::chats::normalize_tag;

const CHAT_SOURCE: &[&str] = &[
    "id",
    "user_id",
    "title",
    "chat",
    "created_at",
    "updated_at",
    "share_id",
    "archived",
    "pinned",
    "meta",
    "variables",
    "folder_id",
    "current_message_id",
    "last_read_at",
];
pub const CHATS: &[&str] = &[
    "id",
    "user_id",
    "title",
    "chat",
    "created_at",
    "updated_at",
    "share_id",
    "archived",
    "pinned",
    "meta",
    "variables",
    "folder_id",
    "current_message_id",
    "last_read_at",
    "search_text",
];
pub const CHAT_TAGS: &[&str] = &["chat_id", "user_id", "tag_id"];
const TAGS: &[&str] = &["id", "user_id", "name", "meta"];
pub const SHARES: &[&str] = &["id", "chat_id", "user_id", "title", "chat", "created_at", "updated_at"];
const CHATS_LABEL: &str = "chat → chats";
const TAGS_LABEL: &str = "chat → tags";
const LINKS_LABEL: &str = "chat → chat_tags";
const SHARES_LABEL: &str = "shared_chat → shared_chats";

fn column(page: &[Vec<Value>], cols: &[String], name: &str) -> Vec<Vec<Value>> {
    page.iter().map(|v| vec![Row { columns: cols, values: v }.get(name).clone()]).collect()
}

pub async fn chats<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let snapshots = share_ids(run).await?;
    let Some((mut pager, cols, bar)) = run.pages("chat", CHAT_SOURCE, CHATS_LABEL).await? else {
        return Err(Error::new("the source has no chat table"));
    };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        let owners = run.in_target("users", &["id"], column(&page, &cols, "user_id")).await?;
        let folders = run.in_target("folders", &["id"], column(&page, &cols, "folder_id")).await?;
        let mut chats = Part::new("chats", CHATS_LABEL, CHATS);
        let mut wanted_tags: Vec<(String, String)> = Vec::new();
        let mut links = Part::new("chat_tags", LINKS_LABEL, CHAT_TAGS);
        for values in &page {
            let row = Row { columns: &cols, values };
            let id = row.id();
            let mut fixes = Fixes::default();
            let owner = match text(&row, "user_id", &mut fixes) {
                Some(o) if owners.contains(&o) => o,
                Some(o) => {
                    run.skip(CHATS_LABEL, &id, format!("its owner {o} is not in duet"));
                    continue;
                }
                None => {
                    run.skip(CHATS_LABEL, &id, "it has no owner");
                    continue;
                }
            };
            let doc = match json(&row, "chat", &mut fixes) {
                Ok(Some(Json::Object(m))) => Json::Object(m),
                Ok(None) => {
                    fixes.note("no document: an empty one was made");
                    Json::Object(Map::new())
                }
                Ok(Some(_)) => {
                    run.skip(CHATS_LABEL, &id, "its document is not a JSON object");
                    continue;
                }
                Err(e) => {
                    run.skip(CHATS_LABEL, &id, e.replacen("chat is", "its document is", 1));
                    continue;
                }
            };
            let title = text(&row, "title", &mut fixes)
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| title_of(&doc));
            let share_id = match text(&row, "share_id", &mut fixes) {
                Some(s) if snapshots.contains(&s) => Some(s),
                Some(s) => {
                    fixes.note(format!("share link {s} has no snapshot in Open WebUI: not shared"));
                    None
                }
                None => None,
            };
            let folder_id = match text(&row, "folder_id", &mut fixes) {
                Some(f) if folders.contains(&f) => Some(f),
                Some(f) => {
                    fixes.note(format!("its folder {f} is not in duet: moved out of folders"));
                    None
                }
                None => None,
            };
            let meta = object(&row, "meta", &mut fixes);
            let mut tag_ids: Vec<String> = Vec::new();
            for t in meta.get("tags").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str)
            {
                let t = normalize_tag(t);
                if !t.is_empty() && !tag_ids.contains(&t) {
                    tag_ids.push(t);
                }
            }
            let current = text(&row, "current_message_id", &mut fixes).or_else(|| current_message_id(&doc));
            let created = int(&row, "created_at").unwrap_or(0);
            let search = search_text(&title, &doc);
            for tag in tag_ids {
                links.push(
                    vec![Value::Text(id.clone()), Value::Text(owner.clone()), Value::Text(tag.clone())],
                    &format!("{id}/{tag}"),
                    &Fixes::default(),
                );
                wanted_tags.push((tag, owner.clone()));
            }
            chats.push(
                vec![
                    Value::Text(id.clone()),
                    Value::Text(owner),
                    Value::Text(title),
                    Value::Json(doc),
                    Value::Int(created),
                    Value::Int(int(&row, "updated_at").unwrap_or(created)),
                    opt_text(share_id),
                    Value::Bool(boolean(&row, "archived").unwrap_or(false)),
                    Value::Bool(boolean(&row, "pinned").unwrap_or(false)),
                    Value::Json(Json::Object(meta)),
                    optional_json(&row, "variables", &mut fixes),
                    opt_text(folder_id),
                    opt_text(current),
                    opt_int(int(&row, "last_read_at")),
                    Value::Text(search),
                ],
                &id,
                &fixes,
            );
        }
        // Tags a chat names that Open WebUI has no row for are made (named as their id).
        let keys: Vec<Vec<Value>> =
            wanted_tags.iter().map(|(t, u)| vec![Value::Text(t.clone()), Value::Text(u.clone())]).collect();
        let present = run.in_target("tags", &["id", "user_id"], keys).await?;
        let mut tags = Part::new("tags", TAGS_LABEL, TAGS);
        let mut made: HashSet<String> = HashSet::new();
        for (tag, user) in wanted_tags {
            let key = format!("{tag}/{user}");
            if !present.contains(&key) && made.insert(key.clone()) {
                let mut fixes = Fixes::default();
                fixes.note("named by a chat but missing from Open WebUI's tags: made");
                tags.push(
                    vec![Value::Text(tag.clone()), Value::Text(user), Value::Text(tag), Value::Null],
                    &key,
                    &fixes,
                );
            }
        }
        bar.inc(page.len() as u64);
        run.write(&mut writers, vec![chats, tags, links]).await?;
    }
    bar.done();
    Ok(())
}

/// The ids of the source's share snapshots.
async fn share_ids(run: &mut Run<'_>) -> Result<HashSet<String>, Error> {
    let mut out = HashSet::new();
    let Some(table) = run.source("shared_chat") else { return Ok(out) };
    let mut pager = crate::migrate::read::Pager::new(table, &["id"])?;
    loop {
        let page = pager.next(&mut run.snapshot, 5000).await?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page.iter().map(|r| r[0].display()));
    }
}

pub async fn shares<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let Some((mut pager, cols, bar)) = run.pages("shared_chat", SHARES, SHARES_LABEL).await? else {
        return Ok(());
    };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        let mut part = Part::new("shared_chats", SHARES_LABEL, SHARES);
        for values in &page {
            let row = Row { columns: &cols, values };
            let id = row.id();
            let mut fixes = Fixes::default();
            let doc = match json(&row, "chat", &mut fixes) {
                Ok(Some(j @ Json::Object(_))) => j,
                Ok(None) => Json::Object(Map::new()),
                Ok(Some(_)) | Err(_) => {
                    run.skip(SHARES_LABEL, &id, "its snapshot is not a JSON object");
                    continue;
                }
            };
            let title = text(&row, "title", &mut fixes)
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| title_of(&doc));
            let created = int(&row, "created_at").unwrap_or(0);
            part.push(
                vec![
                    Value::Text(id.clone()),
                    opt_text(text(&row, "chat_id", &mut fixes)),
                    Value::Text(text(&row, "user_id", &mut fixes).unwrap_or_default()),
                    Value::Text(title),
                    Value::Json(doc),
                    Value::Int(created),
                    Value::Int(int(&row, "updated_at").unwrap_or(created)),
                ],
                &id,
                &fixes,
            );
        }
        bar.inc(page.len() as u64);
        run.write(&mut writers, vec![part]).await?;
    }
    bar.done();
    Ok(())
}
