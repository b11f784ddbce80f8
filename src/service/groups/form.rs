//! The group forms: `GroupForm` (create and update) and `UserIdsForm` (membership changes),
//! with the reference's pydantic errors and named in the OpenAPI document as its pydantic forms,
//! and the query parameters of the member list.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, FieldError};
use crate::service::form::{Fields, Loc, Source};
use crate::store::groups::Membership;

/// `GroupForm` (`GroupUpdateForm` is the same form).
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = GroupForm)]
pub struct GroupForm {
    /// A group id, or null; an update without it keeps the parent.
    pub parent_group_id: Option<String>,
    /// Whether `parent_group_id` was sent (`null` included): only then does an update move the
    /// group.
    #[schema(ignore)]
    pub parent_given: bool,
    pub name: String,
    pub description: String,
    /// A permission tree (`{"sharing": {"models": true}}`) merged into the members'.
    #[schema(value_type = Option<Object>)]
    pub permissions: Option<Map<String, Value>>,
    /// `config.share` (`true`, `false` or `"members"`) and `config.default_models` (model ids).
    // Held with `config.default_models` trimmed and de-duplicated.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
}

const CONFIG_NOT_OBJECT: &str = "Group config must be an object.";
const BAD_DEFAULT_MODELS: &str = "Default models must be a list of non-empty model IDs.";

impl GroupForm {
    /// Reads a request body; 422 listing every bad field.
    pub fn from_json(body: &Value) -> AppResult<GroupForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let root = Loc::root();
        let parent_group_id = f.opt_string(map, &root, "parent_group_id");
        let name = f.string(map, &root, "name").unwrap_or_default();
        let description = f.string(map, &root, "description").unwrap_or_default();
        let permissions = f.opt_object(map, &root, "permissions");
        let data = f.opt_object(map, &root, "data").and_then(|d| match checked_data(d) {
            Ok(d) => Some(d),
            Err(text) => {
                f.value_error("data", map.get("data").unwrap_or(&Value::Null), text);
                None
            }
        });
        f.finish()?;
        Ok(GroupForm {
            parent_group_id,
            parent_given: map.contains_key("parent_group_id"),
            name,
            description,
            permissions,
            data,
        })
    }
}

/// The reference's `data` validator: `config` must be an object, and its `default_models` (when
/// not null) a list of non-blank texts, kept trimmed, each once, in order.
fn checked_data(mut data: Map<String, Value>) -> Result<Map<String, Value>, &'static str> {
    let Some(config) = data.get_mut("config") else { return Ok(data) };
    let Some(config) = config.as_object_mut() else { return Err(CONFIG_NOT_OBJECT) };
    match config.get("default_models") {
        None | Some(Value::Null) => Ok(data),
        Some(Value::Array(models)) => {
            let mut kept: Vec<Value> = Vec::new();
            for m in models {
                let id = m.as_str().map(str::trim).filter(|t| !t.is_empty()).ok_or(BAD_DEFAULT_MODELS)?;
                if !kept.iter().any(|k| k == id) {
                    kept.push(json!(id));
                }
            }
            config.insert("default_models".into(), Value::Array(kept));
            Ok(data)
        }
        Some(_) => Err(BAD_DEFAULT_MODELS),
    }
}

/// `UserIdsForm`: `user_ids` absent or null is no user.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
#[schema(as = UserIdsForm)]
pub struct UserIdsForm {
    #[schema(value_type = Option<Vec<String>>)]
    pub user_ids: Vec<String>,
}

impl UserIdsForm {
    pub fn from_json(body: &Value) -> AppResult<UserIdsForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let mut user_ids = Vec::new();
        match map.get("user_ids") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(id) => user_ids.push(id.to_string()),
                        None => f.string_type(Loc::from("user_ids").at(i), item),
                    }
                }
            }
            Some(other) => f.list_type("user_ids", other),
        }
        f.finish()?;
        Ok(UserIdsForm { user_ids })
    }
}

/// Members per page of the member list.
pub const MEMBERS_PAGE_SIZE: i64 = 30;

/// Query parameters of `GET /groups/id/{id}/members`, as sent.
#[derive(Debug, Clone, Default)]
pub struct MembersParams {
    /// `direct`, `inherited` or `effective` (the default).
    pub membership: Option<String>,
    /// Part of a member's name or email.
    pub query: Option<String>,
    /// 1-based page, as text.
    pub page: Option<String>,
}

/// The checked parameters: which members, the lower-cased search text, the page (from 1).
pub(super) fn check_members_params(p: &MembersParams) -> AppResult<(Membership, Option<String>, i64)> {
    let mut f = Fields::query();
    let membership = match p.membership.as_deref() {
        None | Some("effective") => Membership::Effective,
        Some("direct") => Membership::Direct,
        Some("inherited") => Membership::Inherited,
        Some(other) => {
            f.literal_error("membership", &json!(other), &["direct", "inherited", "effective"]);
            Membership::Effective
        }
    };
    // pydantic's `ge=1` error, which `Fields` has no method for.
    let mut below_one: Option<FieldError> = None;
    let page = match p.page.as_deref().map(|t| (t, t.trim().parse::<i64>())) {
        None => 1,
        Some((_, Ok(n))) if n >= 1 => n,
        Some((text, Ok(_))) => {
            below_one = Some(FieldError {
                kind: "greater_than_equal",
                loc: vec![json!("query"), json!("page")],
                msg: "Input should be greater than or equal to 1".into(),
                input: json!(text),
                ctx: Some(json!({"ge": 1})),
            });
            1
        }
        Some((text, Err(_))) => {
            f.int_parsing("page", &json!(text));
            1
        }
    };
    if let Some(e) = below_one {
        let mut errors = if f.is_empty() { Vec::new() } else { f.into_error().field_errors().to_vec() };
        errors.push(e);
        return Err(AppError::validation(errors));
    }
    f.finish()?;
    if let Some(q) = &p.query {
        crate::service::validate::check_search(&["query", "query"], q)?;
    }
    let query = p.query.as_deref().filter(|q| !q.is_empty()).map(str::to_lowercase);
    Ok((membership, query, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(e: AppError) -> Value {
        e.body()["detail"].clone()
    }

    #[test]
    fn group_form_reports_every_bad_field_as_pydantic() {
        let d = detail(GroupForm::from_json(&json!({})).expect_err("missing"));
        assert_eq!(
            d[0],
            json!({"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {}})
        );
        assert_eq!(d[1]["loc"], json!(["body", "description"]));
        let d = detail(
            GroupForm::from_json(&json!({"name": 1, "description": "d", "permissions": [], "data": 5}))
                .expect_err("types"),
        );
        let kinds: Vec<&str> =
            d.as_array().expect("list").iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(kinds, ["string_type", "dict_type", "dict_type"]);
    }

    #[test]
    fn data_config_is_checked_and_default_models_tidied() {
        let bad = json!({"name": "a", "description": "", "data": {"config": 3}});
        let d = detail(GroupForm::from_json(&bad).expect_err("config"));
        assert_eq!(
            d[0],
            json!({"type": "value_error", "loc": ["body", "data"], "msg": "Value error, Group config must be an object.",
                   "input": {"config": 3}, "ctx": {"error": {}}})
        );
        let blank =
            json!({"name": "a", "description": "", "data": {"config": {"default_models": ["x", " "]}}});
        let d = detail(GroupForm::from_json(&blank).expect_err("blank"));
        assert_eq!(d[0]["msg"], "Value error, Default models must be a list of non-empty model IDs.");
        let ok = json!({"name": "a", "description": "", "parent_group_id": null,
                        "data": {"config": {"default_models": [" x ", "x", "y"]}, "other": 1}});
        let form = GroupForm::from_json(&ok).expect("valid");
        assert!(form.parent_given);
        assert_eq!(form.parent_group_id, None);
        assert_eq!(
            Value::Object(form.data.expect("data")),
            json!({"config": {"default_models": ["x", "y"]}, "other": 1})
        );
    }

    #[test]
    fn user_ids_are_a_list_of_texts_or_nothing() {
        assert_eq!(UserIdsForm::from_json(&json!({})).expect("empty").user_ids, Vec::<String>::new());
        assert_eq!(
            UserIdsForm::from_json(&json!({"user_ids": null})).expect("null").user_ids,
            Vec::<String>::new()
        );
        let d = detail(UserIdsForm::from_json(&json!({"user_ids": "u"})).expect_err("text"));
        assert_eq!(d[0]["type"], "list_type");
        let d = detail(UserIdsForm::from_json(&json!({"user_ids": ["a", 1]})).expect_err("number"));
        assert_eq!(d[0]["loc"], json!(["body", "user_ids", 1]));
    }

    #[test]
    fn member_list_parameters_follow_fastapi() {
        let p = |m: Option<&str>, page: Option<&str>| MembersParams {
            membership: m.map(str::to_string),
            query: Some("Al".into()),
            page: page.map(str::to_string),
        };
        let (m, q, page) = check_members_params(&p(None, None)).expect("defaults");
        assert_eq!((m, q.as_deref(), page), (Membership::Effective, Some("al"), 1));
        let d = detail(check_members_params(&p(Some("all"), None)).expect_err("literal"));
        assert_eq!(d[0]["msg"], "Input should be 'direct', 'inherited' or 'effective'");
        let d = detail(check_members_params(&p(None, Some("0"))).expect_err("ge"));
        assert_eq!(d[0]["type"], "greater_than_equal");
        assert_eq!(d[0]["ctx"], json!({"ge": 1}));
        let d = detail(check_members_params(&p(None, Some("x"))).expect_err("int"));
        assert_eq!(d[0]["type"], "int_parsing");
    }
}
