//! Workspace models, their version history and access grants: Open WebUI's `model` rows become
//! duet's `models`, `model_history` rows `model_history`, and the `access_grant` rows of the kinds
//! duet shares (models, folders, shared chats) `access_grants`. Grants on kinds duet does not have
//! (knowledge, tools, prompts, notes, …) are skipped, named.

use std::collections::HashSet;

use super::fields::{Fixes, Row, boolean, int, object, opt_text, text};
use super::step::{Converted, OneToOne, Part, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;

pub const MODELS: &[&str] = &[
    "id",
    "user_id",
    "base_model_id",
    "name",
    "params",
    "meta",
    "version_id",
    "is_active",
    "updated_at",
    "created_at",
];
pub const HISTORY: &[&str] =
    &["id", "model_id", "parent_id", "snapshot", "user_id", "commit_message", "created_at"];
pub const GRANTS: &[&str] =
    &["id", "resource_type", "resource_id", "principal_type", "principal_id", "permission", "created_at"];
const MODELS_LABEL: &str = "model → models";
const HISTORY_LABEL: &str = "model_history → model_history";
const GRANTS_LABEL: &str = "access_grant → access_grants";

/// The kinds of resource duet shares, and the table holding each (by `id`).
const SHARED_KINDS: &[(&str, &str)] = &[("model", "models"), ("folder", "folders"), ("shared_chat", "chats")];

const MODEL_STEP: OneToOne =
    OneToOne { source: "model", wanted: MODELS, label: MODELS_LABEL, target: "models", columns: MODELS };
const HISTORY_STEP: OneToOne = OneToOne {
    source: "model_history",
    wanted: HISTORY,
    label: HISTORY_LABEL,
    target: "model_history",
    columns: HISTORY,
};

pub async fn models<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let mut writers = Writers::new();
    run.one_to_one(&mut writers, &MODEL_STEP, |row| {
        let id = row.id();
        let mut fixes = Fixes::default();
        let name = match text(row, "name", &mut fixes).filter(|n| !n.trim().is_empty()) {
            Some(n) => n,
            None => {
                fixes.note("no name: named after its id");
                id.clone()
            }
        };
        let owner = match text(row, "user_id", &mut fixes) {
            Some(u) => u,
            None => {
                fixes.note("no owner: only admins manage it");
                String::new()
            }
        };
        let created = int(row, "created_at").unwrap_or(0);
        let values = vec![
            Value::Text(id.clone()),
            Value::Text(owner),
            opt_text(text(row, "base_model_id", &mut fixes).filter(|b| !b.is_empty())),
            Value::Text(name),
            Value::Json(serde_json::Value::Object(object(row, "params", &mut fixes))),
            Value::Json(serde_json::Value::Object(object(row, "meta", &mut fixes))),
            opt_text(text(row, "version_id", &mut fixes)),
            Value::Bool(boolean(row, "is_active").unwrap_or(true)),
            Value::Int(int(row, "updated_at").unwrap_or(created)),
            Value::Int(created),
        ];
        Converted::Row { values, key: id, fixes }
    })
    .await?;
    run.one_to_one(&mut writers, &HISTORY_STEP, |row| {
        let id = row.id();
        let mut fixes = Fixes::default();
        let Some(model) = text(row, "model_id", &mut fixes) else {
            return Converted::Skip { key: id, reason: "it names no model".into() };
        };
        let values = vec![
            Value::Text(id.clone()),
            Value::Text(model),
            opt_text(text(row, "parent_id", &mut fixes)),
            Value::Json(serde_json::Value::Object(object(row, "snapshot", &mut fixes))),
            opt_text(text(row, "user_id", &mut fixes)),
            opt_text(text(row, "commit_message", &mut fixes)),
            Value::Int(int(row, "created_at").unwrap_or(0)),
        ];
        Converted::Row { values, key: id, fixes }
    })
    .await?;
    Ok(())
}

pub async fn grants<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let Some((mut pager, cols, bar)) = run.pages("access_grant", GRANTS, GRANTS_LABEL).await? else {
        return Ok(());
    };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        // Which of the resources named are in duet, per kind.
        let mut present: HashSet<(String, String)> = HashSet::new();
        for (kind, table) in SHARED_KINDS {
            let ids: Vec<Vec<Value>> = page
                .iter()
                .map(|v| Row { columns: &cols, values: v })
                .filter(|r| r.get("resource_type").as_str() == Some(kind))
                .map(|r| vec![r.get("resource_id").clone()])
                .collect();
            for id in run.in_target(table, &["id"], ids).await? {
                present.insert((kind.to_string(), id));
            }
        }
        let mut part = Part::new("access_grants", GRANTS_LABEL, GRANTS);
        for values in &page {
            let row = Row { columns: &cols, values };
            let id = row.id();
            let mut fixes = Fixes::default();
            let field = |c: &str, f: &mut Fixes| text(&row, c, f).unwrap_or_default();
            let (kind, resource) = (field("resource_type", &mut fixes), field("resource_id", &mut fixes));
            let (principal_type, principal) =
                (field("principal_type", &mut fixes), field("principal_id", &mut fixes));
            let permission = field("permission", &mut fixes);
            if !SHARED_KINDS.iter().any(|(k, _)| *k == kind) {
                run.skip(GRANTS_LABEL, &id, format!("a grant on a {kind}, which duet does not have"));
                continue;
            }
            if !matches!(principal_type.as_str(), "user" | "group" | "anyone")
                || !matches!(permission.as_str(), "read" | "write")
            {
                run.skip(
                    GRANTS_LABEL,
                    &id,
                    format!("a grant of {permission:?} to {principal_type:?}, which duet does not know"),
                );
                continue;
            }
            if !present.contains(&(kind.clone(), resource.clone())) {
                run.skip(GRANTS_LABEL, &id, format!("its {kind} {resource} is not in duet"));
                continue;
            }
            part.push(
                vec![
                    Value::Text(id.clone()),
                    Value::Text(kind),
                    Value::Text(resource),
                    Value::Text(principal_type),
                    Value::Text(principal),
                    Value::Text(permission),
                    Value::Int(int(&row, "created_at").unwrap_or(0)),
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
