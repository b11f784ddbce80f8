//! Folders and tags: Open WebUI's `folder` rows (the tree by `parent_id`, expanded state, meta and
//! data) become duet's `folders`; `tag` rows become `tags`.

use super::fields::{Fixes, boolean, int, opt_text, optional_json, text};
use super::step::{Converted, OneToOne, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;
use crate::service::chats::normalize_tag;

pub const FOLDERS: &[&str] = &[
    "id",
    "parent_id",
    "user_id",
    "name",
    "items",
    "meta",
    "data",
    "is_expanded",
    "created_at",
    "updated_at",
];
pub const TAGS: &[&str] = &["id", "user_id", "name", "meta"];
const FOLDERS_LABEL: &str = "folder → folders";
const TAGS_LABEL: &str = "tag → tags";

const FOLDER_STEP: OneToOne =
    OneToOne { source: "folder", wanted: FOLDERS, label: FOLDERS_LABEL, target: "folders", columns: FOLDERS };
const TAG_STEP: OneToOne =
    OneToOne { source: "tag", wanted: TAGS, label: TAGS_LABEL, target: "tags", columns: TAGS };

pub async fn folders<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    run.one_to_one(&mut Writers::new(), &FOLDER_STEP, |row| {
        let mut fixes = Fixes::default();
        let id = row.id();
        let name = match text(row, "name", &mut fixes).filter(|n| !n.trim().is_empty()) {
            Some(n) => n,
            None => {
                fixes.note("no name: named \"Untitled\"");
                "Untitled".into()
            }
        };
        let created = int(row, "created_at").unwrap_or(0);
        let values = vec![
            Value::Text(id.clone()),
            opt_text(text(row, "parent_id", &mut fixes).filter(|p| !p.is_empty())),
            opt_text(text(row, "user_id", &mut fixes)),
            Value::Text(name),
            optional_json(row, "items", &mut fixes),
            optional_json(row, "meta", &mut fixes),
            optional_json(row, "data", &mut fixes),
            Value::Bool(boolean(row, "is_expanded").unwrap_or(false)),
            Value::Int(created),
            Value::Int(int(row, "updated_at").unwrap_or(created)),
        ];
        Converted::Row { values, key: id, fixes }
    })
    .await?;
    Ok(())
}

pub async fn tags<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    run.one_to_one(&mut Writers::new(), &TAG_STEP, |row| {
        let mut fixes = Fixes::default();
        let name = text(row, "name", &mut fixes).filter(|n| !n.trim().is_empty());
        let id = text(row, "id", &mut fixes)
            .filter(|i| !i.is_empty())
            .or_else(|| name.as_deref().map(normalize_tag));
        let (Some(id), Some(user)) = (id, text(row, "user_id", &mut fixes)) else {
            return Converted::Skip { key: row.id(), reason: "it has no name or no owner".into() };
        };
        let key = format!("{id}/{user}");
        let name = name.unwrap_or_else(|| id.clone());
        let values = vec![
            Value::Text(id),
            Value::Text(user),
            Value::Text(name),
            optional_json(row, "meta", &mut fixes),
        ];
        Converted::Row { values, key, fixes }
    })
    .await?;
    Ok(())
}
