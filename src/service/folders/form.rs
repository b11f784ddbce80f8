//! The folder forms, read from JSON with the reference's pydantic errors (its `FolderForm` and
//! `FolderUpdateForm` forbid fields they do not name), named in the OpenAPI document as its
//! forms; and the query parameters of the folder chat lists.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, FieldError};
use crate::service::form::{Fields, Loc, Source};
use crate::store::folders::ChatOrder;

/// The longest folder name, in characters.
pub const MAX_NAME_CHARS: usize = 1000;

/// `POST /folders/`: a new folder.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = FolderForm)]
pub struct FolderForm {
    pub name: String,
    /// Free-form; `share_mode` (`"continue"` lets readers of a shared folder continue its chats)
    /// and `files` are read.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
    /// Free-form; `icon` is shown in the folder list.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// The folder to create it in (the root without it).
    pub parent_id: Option<String>,
}

/// `POST /folders/{id}/update`: what to change (`data` and `meta` are merged key by key into the
/// stored ones).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = FolderUpdateForm)]
pub struct FolderUpdateForm {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
}

/// `POST /folders/{id}/update/parent`: the new parent (the root for null or absent).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = FolderParentIdForm)]
pub struct FolderParentIdForm {
    pub parent_id: Option<String>,
}

/// `POST /folders/{id}/update/expanded`.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = FolderIsExpandedForm)]
pub struct FolderIsExpandedForm {
    pub is_expanded: bool,
}

/// `POST /folders/{id}/access/update`: the folder's grants, replaced; `share_mode` (`"continue"`
/// or null) is stored in its `data` when sent.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = FolderAccessGrantsForm)]
pub struct FolderAccessGrantsForm {
    #[schema(value_type = Vec<Object>)]
    pub access_grants: Vec<Value>,
    /// `Some(None)` when null was sent, `None` when the field is absent.
    #[schema(value_type = Option<String>)]
    pub share_mode: Option<Option<String>>,
}

/// `POST /chats/{id}/folder`: the folder to move the chat to (the root for null or absent).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = ChatFolderIdForm)]
pub struct ChatFolderIdForm {
    pub folder_id: Option<String>,
}

/// pydantic's `extra_forbidden` for every field of `map` not in `known`, after `f`'s errors.
fn forbid_extra(f: Fields, map: &Map<String, Value>, known: &[&str]) -> AppResult<()> {
    let extra: Vec<FieldError> = map
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| FieldError {
            kind: "extra_forbidden",
            loc: vec![json!("body"), json!(k)],
            msg: "Extra inputs are not permitted".into(),
            input: v.clone(),
            ctx: None,
        })
        .collect();
    if extra.is_empty() {
        return f.finish();
    }
    let mut errors = if f.is_empty() { Vec::new() } else { f.into_error().field_errors().to_vec() };
    errors.extend(extra);
    Err(AppError::validation(errors))
}

fn check_name(f: &mut Fields, name: Option<&str>, input: &Value) {
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        f.string_too_long("name", input, MAX_NAME_CHARS);
    }
}

impl FolderForm {
    pub fn from_json(body: &Value) -> AppResult<FolderForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let root = Loc::root();
        let name = f.string(map, &root, "name");
        check_name(&mut f, name.as_deref(), map.get("name").unwrap_or(&Value::Null));
        let data = f.opt_object(map, &root, "data");
        let meta = f.opt_object(map, &root, "meta");
        let parent_id = f.opt_string(map, &root, "parent_id");
        forbid_extra(f, map, &["name", "data", "meta", "parent_id"])?;
        Ok(FolderForm { name: name.unwrap_or_default(), data, meta, parent_id })
    }
}

impl FolderUpdateForm {
    pub fn from_json(body: &Value) -> AppResult<FolderUpdateForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let root = Loc::root();
        let name = f.opt_string(map, &root, "name");
        check_name(&mut f, name.as_deref(), map.get("name").unwrap_or(&Value::Null));
        let data = f.opt_object(map, &root, "data");
        let meta = f.opt_object(map, &root, "meta");
        forbid_extra(f, map, &["name", "data", "meta"])?;
        Ok(FolderUpdateForm { name, data, meta })
    }
}

impl FolderParentIdForm {
    pub fn from_json(body: &Value) -> AppResult<FolderParentIdForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let parent_id = f.opt_string(map, Loc::root(), "parent_id");
        f.finish()?;
        Ok(FolderParentIdForm { parent_id })
    }
}

impl FolderIsExpandedForm {
    pub fn from_json(body: &Value) -> AppResult<FolderIsExpandedForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let is_expanded = match map.get("is_expanded") {
            None => {
                f.missing_in("is_expanded", map);
                None
            }
            Some(v) => f.lax_bool(v, "is_expanded"),
        };
        f.finish()?;
        Ok(FolderIsExpandedForm { is_expanded: is_expanded.unwrap_or(false) })
    }
}

impl FolderAccessGrantsForm {
    pub fn from_json(body: &Value) -> AppResult<FolderAccessGrantsForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let mut access_grants = Vec::new();
        for (i, item) in
            f.array(map, Loc::root(), "access_grants").unwrap_or_default().into_iter().enumerate()
        {
            if item.is_object() {
                access_grants.push(item);
            } else {
                f.dict_type(Loc::from("access_grants").at(i), &item);
            }
        }
        let share_mode = match map.get("share_mode") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s == "continue" => Some(Some(s.clone())),
            Some(other) => {
                f.literal_error("share_mode", other, &["continue"]);
                None
            }
        };
        f.finish()?;
        Ok(FolderAccessGrantsForm { access_grants, share_mode })
    }
}

impl ChatFolderIdForm {
    pub fn from_json(body: &Value) -> AppResult<ChatFolderIdForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let folder_id = f.opt_string(map, Loc::root(), "folder_id");
        f.finish()?;
        Ok(ChatFolderIdForm { folder_id })
    }
}

/// The order of a folder's chat list from `sort_by` (`unread_updated_at`, the default; `title`;
/// anything else is `updated_at`) and `sort_dir` (`asc`, or anything else for descending), as
/// leniently as the reference reads them.
pub fn chat_order(sort_by: Option<&str>, sort_dir: Option<&str>) -> ChatOrder {
    let ascending = sort_dir == Some("asc");
    match sort_by.unwrap_or("unread_updated_at") {
        "unread_updated_at" => ChatOrder::Unread,
        "title" => ChatOrder::Title { ascending },
        _ => ChatOrder::UpdatedAt { ascending },
    }
}

/// Query parameters of a folder's chat lists.
#[derive(Debug, Clone, Default)]
pub struct FolderChatParams {
    /// 1-based page.
    pub page: Option<i64>,
    pub sort_by: Option<String>,
    pub sort_dir: Option<String>,
}

/// `page` of `GET /folders/{id}/shared/chats`: at least 1 (pydantic's `ge=1` error otherwise).
pub(super) fn check_page(page: Option<i64>) -> AppResult<Option<i64>> {
    match page {
        Some(n) if n < 1 => Err(AppError::validation(vec![FieldError {
            kind: "greater_than_equal",
            loc: vec![json!("query"), json!("page")],
            msg: "Input should be greater than or equal to 1".into(),
            input: json!(n.to_string()),
            ctx: Some(json!({"ge": 1})),
        }])),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(e: AppError) -> Value {
        e.body()["detail"].clone()
    }

    #[test]
    fn folder_form_reports_missing_wrong_and_extra_fields_as_pydantic() {
        let d = detail(FolderForm::from_json(&json!({"parent": "x", "data": []})).expect_err("bad"));
        assert_eq!(
            d,
            json!([
                {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {"parent": "x", "data": []}},
                {"type": "dict_type", "loc": ["body", "data"], "msg": "Input should be a valid dictionary", "input": []},
                {"type": "extra_forbidden", "loc": ["body", "parent"], "msg": "Extra inputs are not permitted", "input": "x"}
            ])
        );
        let long = "n".repeat(MAX_NAME_CHARS + 1);
        let d = detail(FolderForm::from_json(&json!({"name": long})).expect_err("long"));
        assert_eq!(d[0]["type"], "string_too_long");
        let ok = FolderForm::from_json(&json!({"name": "A", "parent_id": null, "meta": {"icon": "x"}}))
            .expect("ok");
        assert_eq!((ok.name.as_str(), ok.parent_id, ok.data), ("A", None, None));
    }

    #[test]
    fn update_expanded_and_access_forms_follow_the_reference() {
        let d = detail(FolderUpdateForm::from_json(&json!({"parent_id": "p"})).expect_err("extra"));
        assert_eq!(d[0]["type"], "extra_forbidden");
        assert_eq!(FolderUpdateForm::from_json(&json!({})).expect("empty"), FolderUpdateForm::default());
        assert!(FolderIsExpandedForm::from_json(&json!({"is_expanded": "yes"})).expect("lax").is_expanded);
        let d = detail(FolderIsExpandedForm::from_json(&json!({})).expect_err("missing"));
        assert_eq!(d[0]["loc"], json!(["body", "is_expanded"]));
        let d = detail(FolderIsExpandedForm::from_json(&json!({"is_expanded": "maybe"})).expect_err("bool"));
        assert_eq!(d[0]["type"], "bool_parsing");
        let form =
            FolderAccessGrantsForm::from_json(&json!({"access_grants": [], "share_mode": null})).expect("ok");
        assert_eq!(form.share_mode, Some(None));
        let d = detail(
            FolderAccessGrantsForm::from_json(&json!({"access_grants": [1], "share_mode": "open"}))
                .expect_err("bad"),
        );
        assert_eq!(d[0]["loc"], json!(["body", "access_grants", 0]));
        assert_eq!(d[1]["msg"], "Input should be 'continue'");
        let d = detail(FolderAccessGrantsForm::from_json(&json!({})).expect_err("missing"));
        assert_eq!(d[0]["type"], "missing");
    }

    #[test]
    fn chat_orders_and_pages_are_read_leniently_or_checked() {
        assert_eq!(chat_order(None, None), ChatOrder::Unread);
        assert_eq!(chat_order(Some("title"), Some("asc")), ChatOrder::Title { ascending: true });
        assert_eq!(chat_order(Some("whatever"), Some("down")), ChatOrder::UpdatedAt { ascending: false });
        assert_eq!(check_page(Some(2)).expect("page"), Some(2));
        assert_eq!(detail(check_page(Some(0)).expect_err("ge"))[0]["type"], "greater_than_equal");
    }
}
