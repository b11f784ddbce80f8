//! Groups and memberships: Open WebUI's `group` rows (with their parent, permissions and share
//! settings) become duet's `groups`, `group_member` rows become `group_members`. A membership of
//! an account or group that was not imported is skipped by the writer, named.

use super::fields::{Fixes, int, opt_text, optional_json, text};
use super::step::{Converted, OneToOne, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;

pub const GROUPS: &[&str] = &[
    "id",
    "user_id",
    "parent_group_id",
    "name",
    "description",
    "data",
    "meta",
    "permissions",
    "created_at",
    "updated_at",
];
pub const MEMBERS: &[&str] = &["id", "group_id", "user_id", "created_at", "updated_at"];
const GROUPS_LABEL: &str = "group → groups";
const MEMBERS_LABEL: &str = "group_member → group_members";

const GROUP_STEP: OneToOne =
    OneToOne { source: "group", wanted: GROUPS, label: GROUPS_LABEL, target: "groups", columns: GROUPS };
const MEMBER_STEP: OneToOne = OneToOne {
    source: "group_member",
    wanted: MEMBERS,
    label: MEMBERS_LABEL,
    target: "group_members",
    columns: MEMBERS,
};

pub async fn groups<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let mut writers = Writers::new();
    let found = run
        .one_to_one(&mut writers, &GROUP_STEP, |row| {
            let mut fixes = Fixes::default();
            let id = row.id();
            let name = match text(row, "name", &mut fixes).filter(|n| !n.trim().is_empty()) {
                Some(n) => n,
                None => {
                    fixes.note("no name: named after its id");
                    id.clone()
                }
            };
            let owner = text(row, "user_id", &mut fixes).unwrap_or_default();
            let created = int(row, "created_at").unwrap_or(0);
            let values = vec![
                Value::Text(id.clone()),
                Value::Text(owner),
                opt_text(text(row, "parent_group_id", &mut fixes).filter(|p| !p.is_empty())),
                Value::Text(name),
                Value::Text(text(row, "description", &mut fixes).unwrap_or_default()),
                optional_json(row, "data", &mut fixes),
                optional_json(row, "meta", &mut fixes),
                optional_json(row, "permissions", &mut fixes),
                Value::Int(created),
                Value::Int(int(row, "updated_at").unwrap_or(created)),
            ];
            Converted::Row { values, key: id, fixes }
        })
        .await?;
    if found {
        run.finish(&mut writers, &[("groups", GROUPS_LABEL)]).await?;
    }
    run.one_to_one(&mut Writers::new(), &MEMBER_STEP, |row| {
        let mut fixes = Fixes::default();
        let id = row.id();
        let created = int(row, "created_at").unwrap_or(0);
        let values = vec![
            Value::Text(id.clone()),
            opt_text(text(row, "group_id", &mut fixes)),
            opt_text(text(row, "user_id", &mut fixes)),
            Value::Int(created),
            Value::Int(int(row, "updated_at").unwrap_or(created)),
        ];
        Converted::Row { values, key: id, fixes }
    })
    .await?;
    Ok(())
}
