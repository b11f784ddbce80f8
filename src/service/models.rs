//! Workspace models: the `ModelForm` rules, create/read/update/delete, toggling, access grants,
//! the workspace list and tag lists, export/import, and the chat model list (`GET /api/models`)
//! that merges upstream providers with the stored models. Every ownership, permission and
//! validation rule lives here.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::service::settings::Settings;
use crate::service::validate;
use crate::store::models::{self as db_models, GrantRow, ListFilter, ModelRow, ModelWrite, NewGrant, Order};
use crate::store::{self, Tx};

/// Presets per page of the workspace list.
pub const PAGE_SIZE: i64 = 30;
/// The longest model id, in characters.
pub const MAX_ID_CHARS: usize = 256;

const ID_PATTERN: &str = r"^\S+$";
const CONTROL_KEY_PATTERN: &str = r"^(?!(?:constructor|prototype)\Z)[a-zA-Z][a-zA-Z0-9_-]*\Z";
const LABEL_PATTERN: &str = r"\S";

/// The fields `ModelMeta` declares, in its order; other keys follow them.
const META_FIELDS: [&str; 8] = [
    "profile_image_url",
    "background_image_url",
    "description",
    "i18n",
    "capabilities",
    "knowledge",
    "voice",
    "voice_avatar",
];

// ---- results ----

/// A stored model with its access grants (`ModelModel`); `meta` and `params` in canonical form.
#[derive(Debug, Clone)]
pub struct Model {
    pub row: ModelRow,
    pub grants: Vec<GrantRow>,
}

/// A model's owner as the workspace list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Owner {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
}

/// A model as one caller sees it (`ModelAccessResponse`).
#[derive(Debug, Clone)]
pub struct ModelAccess {
    pub model: Model,
    pub user: Option<Owner>,
    pub write_access: bool,
}

/// One page of the workspace list.
#[derive(Debug, Clone)]
pub struct ModelPage {
    pub items: Vec<ModelAccess>,
    pub total: i64,
}

fn model(mut row: ModelRow, grants: Vec<GrantRow>) -> Model {
    row.meta.0 = canonical_meta(&row.meta.0);
    row.params.0 = canonical_params(&row.params.0);
    Model { row, grants }
}

async fn with_grants(ex: &store::Db, rows: Vec<ModelRow>) -> AppResult<Vec<Model>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut grants: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for g in db_models::grants_for(ex, db_models::MODEL, &ids).await? {
        grants.entry(g.resource_id.clone()).or_default().push(g);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let g = grants.remove(&row.id).unwrap_or_default();
            model(row, g)
        })
        .collect())
}

async fn load(ex: &store::Db, id: &str) -> AppResult<Option<Model>> {
    match db_models::get(ex, id).await? {
        Some(row) => Ok(with_grants(ex, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

// ---- canonical JSON ----

/// `meta` as `ModelMeta` dumps it: the declared fields first (null when absent), then the rest.
pub fn canonical_meta(meta: &Value) -> Value {
    let empty = Map::new();
    let map = meta.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in META_FIELDS {
        out.insert(key.to_string(), map.get(key).cloned().unwrap_or(Value::Null));
    }
    for (k, v) in map {
        if !META_FIELDS.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// `params` as `ModelParams` dumps it: `model_controls` first and only when not empty.
pub fn canonical_params(params: &Value) -> Value {
    let empty = Map::new();
    let map = params.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    if let Some(controls) = map.get("model_controls").filter(|c| c.as_object().is_some_and(|m| !m.is_empty()))
    {
        out.insert("model_controls".into(), controls.clone());
    }
    for (k, v) in map {
        if k != "model_controls" {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The tags of a `meta` as `[{"name": …}]`: strings or `{name}` objects, trimmed, blanks dropped.
pub fn normalize_tags(tags: &Value) -> Value {
    let Some(list) = tags.as_array() else { return json!([]) };
    Value::Array(
        list.iter()
            .filter_map(|t| match t {
                Value::Object(o) => o.get("name").and_then(Value::as_str),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| json!({"name": n}))
            .collect(),
    )
}

/// Tag names of a stored `meta` (objects' `name`, anything else as text).
fn tag_names(meta: &Value) -> Vec<String> {
    let Some(list) = meta.get("tags").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|t| match t {
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// What callers without write access may see of `params` in the chat list: control labels and
/// options, and the compaction threshold.
fn public_params(params: &Value) -> Value {
    let mut out = Map::new();
    if let Some(controls) = params.get("model_controls").and_then(Value::as_object).filter(|c| !c.is_empty())
    {
        let mut public = Map::new();
        for (key, control) in controls {
            let mut c = Map::new();
            for field in ["label", "description", "default", "display"] {
                if let Some(v) = control.get(field) {
                    c.insert(field.into(), v.clone());
                }
            }
            let mut options = Map::new();
            if let Some(opts) = control.get("options").and_then(Value::as_object) {
                for (k, o) in opts {
                    options
                        .insert(k.clone(), json!({"label": o.get("label").cloned().unwrap_or(Value::Null)}));
                }
            }
            c.insert("options".into(), Value::Object(options));
            public.insert(key.clone(), Value::Object(c));
        }
        out.insert("model_controls".into(), Value::Object(public));
    }
    if let Some(t) = params.get("compact_token_threshold") {
        out.insert("compact_token_threshold".into(), t.clone());
    }
    Value::Object(out)
}

// ---- the form ----

/// Collects pydantic-style errors located under `body`.
struct Check {
    errors: Vec<FieldError>,
}

fn loc(base: &[Value], more: &[Value]) -> Vec<Value> {
    base.iter().chain(more).cloned().collect()
}

impl Check {
    fn new() -> Self {
        Check { errors: Vec::new() }
    }

    fn push(
        &mut self,
        kind: &'static str,
        loc: Vec<Value>,
        msg: impl Into<String>,
        input: &Value,
        ctx: Option<Value>,
    ) {
        self.errors.push(FieldError { kind, loc, msg: msg.into(), input: input.clone(), ctx });
    }

    fn missing(&mut self, loc: Vec<Value>, parent: &Map<String, Value>) {
        self.push("missing", loc, "Field required", &Value::Object(parent.clone()), None);
    }

    fn string_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("string_type", loc, "Input should be a valid string", input, None);
    }

    fn dict_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("dict_type", loc, "Input should be a valid dictionary", input, None);
    }

    fn list_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("list_type", loc, "Input should be a valid list", input, None);
    }

    fn model_type(&mut self, loc: Vec<Value>, input: &Value, class: &str) {
        self.push(
            "model_type",
            loc,
            format!("Input should be a valid dictionary or instance of {class}"),
            input,
            Some(json!({"class_name": class})),
        );
    }

    fn pattern(&mut self, loc: Vec<Value>, input: &Value, pattern: &str) {
        self.push(
            "string_pattern_mismatch",
            loc,
            format!("String should match pattern '{pattern}'"),
            input,
            Some(json!({"pattern": pattern})),
        );
    }

    fn value_error(&mut self, loc: Vec<Value>, input: &Value, error: &str) {
        self.push("value_error", loc, format!("Value error, {error}"), input, Some(json!({"error": error})));
    }

    /// A required string.
    fn string(&mut self, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
        match map.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            None => {
                self.missing(loc(base, &[json!(name)]), map);
                None
            }
            Some(other) => {
                self.string_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    /// An optional string or null.
    fn opt_string(&mut self, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
        match map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.string_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    /// A string matching `^\S+$` (`id` fields).
    fn id(&mut self, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
        let id = self.string(map, base, name)?;
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            self.pattern(loc(base, &[json!(name)]), &json!(id), ID_PATTERN);
            return None;
        }
        Some(id)
    }

    /// pydantic's lax boolean.
    fn lax_bool(&mut self, value: &Value, at: Vec<Value>) -> Option<bool> {
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
            Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
                "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            if matches!(value, Value::String(_) | Value::Number(_)) {
                self.push(
                    "bool_parsing",
                    at,
                    "Input should be a valid boolean, unable to interpret input",
                    value,
                    None,
                );
            } else {
                self.push("bool_type", at, "Input should be a valid boolean", value, None);
            }
        }
        parsed
    }

    /// `list[dict] | None`.
    fn dict_list(
        &mut self,
        map: &Map<String, Value>,
        base: &[Value],
        name: &str,
        required: bool,
    ) -> Option<Vec<Value>> {
        match map.get(name) {
            None if required => {
                self.missing(loc(base, &[json!(name)]), map);
                None
            }
            None => None,
            Some(Value::Null) if !required => None,
            Some(Value::Array(list)) => {
                let mut ok = true;
                for (i, item) in list.iter().enumerate() {
                    if !item.is_object() {
                        self.dict_type(loc(base, &[json!(name), json!(i)]), item);
                        ok = false;
                    }
                }
                ok.then(|| list.clone())
            }
            Some(other) => {
                self.list_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::validation(self.errors)) }
    }
}

/// `ModelForm`: the body of create and update (and each item of an import).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelForm {
    pub id: String,
    pub base_model_id: Option<String>,
    /// Whether the body named `base_model_id` (an update keeps the stored one otherwise).
    pub base_model_id_given: bool,
    pub name: String,
    /// Canonical `ModelMeta`.
    pub meta: Map<String, Value>,
    /// The keys the body's `meta` named.
    pub meta_given: Vec<String>,
    /// Canonical `ModelParams`.
    pub params: Map<String, Value>,
    /// Whether the body's `params` named `model_controls`.
    pub model_controls_given: bool,
    pub access_grants: Option<Vec<Value>>,
    /// `None` when not sent (true on create, unchanged on update).
    pub is_active: Option<bool>,
    pub commit_message: Option<String>,
}

impl ModelForm {
    /// Validates a JSON body; every problem is reported at once in FastAPI's 422 shape.
    pub fn from_json(body: &Value) -> AppResult<ModelForm> {
        let base = [json!("body")];
        let Some(map) = body.as_object() else {
            return Err(AppError::validation(vec![FieldError {
                kind: "model_attributes_type",
                loc: vec![json!("body")],
                msg: "Input should be a valid dictionary or object to extract fields from".into(),
                input: body.clone(),
                ctx: None,
            }]));
        };
        let mut c = Check::new();
        let commit_message = c.opt_string(map, &base, "commit_message");
        let id = c.id(map, &base, "id");
        let base_model_id = c.opt_string(map, &base, "base_model_id");
        let name = c.string(map, &base, "name");
        let meta = match map.get("meta") {
            None => {
                c.missing(loc(&base, &[json!("meta")]), map);
                None
            }
            Some(v) => check_meta(&mut c, v, &loc(&base, &[json!("meta")])),
        };
        let params = match map.get("params") {
            None => {
                c.missing(loc(&base, &[json!("params")]), map);
                None
            }
            Some(v) => check_params(&mut c, v, &loc(&base, &[json!("params")])),
        };
        let access_grants = c.dict_list(map, &base, "access_grants", false);
        let is_active = match map.get("is_active") {
            None => None,
            Some(v) => c.lax_bool(v, loc(&base, &[json!("is_active")])),
        };
        c.finish()?;
        let (Some(id), Some(name), Some(meta), Some(params)) = (id, name, meta, params) else {
            return Err(AppError::internal("model form checked without errors but incomplete"));
        };
        let meta_given = map
            .get("meta")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let model_controls_given =
            map.get("params").and_then(Value::as_object).is_some_and(|p| p.contains_key("model_controls"));
        Ok(ModelForm {
            id,
            base_model_id,
            base_model_id_given: map.contains_key("base_model_id"),
            name,
            meta,
            meta_given,
            params,
            model_controls_given,
            access_grants,
            is_active,
            commit_message,
        })
    }
}

/// `ModelAccessGrantsForm`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessForm {
    pub id: String,
    pub name: Option<String>,
    pub access_grants: Vec<Value>,
}

impl AccessForm {
    pub fn from_json(body: &Value) -> AppResult<AccessForm> {
        let base = [json!("body")];
        let map = body_object(body)?;
        let mut c = Check::new();
        let id = c.id(map, &base, "id");
        let name = c.opt_string(map, &base, "name");
        let grants = c.dict_list(map, &base, "access_grants", true);
        c.finish()?;
        match (id, grants) {
            (Some(id), Some(access_grants)) => Ok(AccessForm { id, name, access_grants }),
            _ => Err(AppError::internal("access form checked without errors but incomplete")),
        }
    }
}

/// `ModelIdForm` (`{id}`).
pub fn id_from_json(body: &Value) -> AppResult<String> {
    let map = body_object(body)?;
    let mut c = Check::new();
    let id = c.string(map, &[json!("body")], "id");
    c.finish()?;
    id.ok_or_else(|| AppError::internal("id form checked without errors but incomplete"))
}

/// `ModelsImportForm` (`{models: [dict]}`).
pub fn import_from_json(body: &Value) -> AppResult<Vec<Value>> {
    let map = body_object(body)?;
    let mut c = Check::new();
    let models = c.dict_list(map, &[json!("body")], "models", true);
    c.finish()?;
    models.ok_or_else(|| AppError::internal("import form checked without errors but incomplete"))
}

fn body_object(body: &Value) -> AppResult<&Map<String, Value>> {
    body.as_object().ok_or_else(|| {
        AppError::validation(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: body.clone(),
            ctx: None,
        }])
    })
}

fn is_file_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("/api/v1/files/").and_then(|r| r.strip_suffix("/content")) else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// `ModelMeta`: validates and returns the canonical map.
fn check_meta(c: &mut Check, value: &Value, at: &[Value]) -> Option<Map<String, Value>> {
    let Some(input) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelMeta");
        return None;
    };
    let before = c.errors.len();
    let field = |name: &str| loc(at, &[json!(name)]);
    let mut out = Map::new();
    // An unusable profile image URL is dropped silently, as the reference does.
    let profile = match input.get("profile_image_url") {
        Some(Value::String(s)) if crate::service::validate::image_url_ok(s) => json!(s),
        _ => Value::Null,
    };
    out.insert("profile_image_url".into(), profile);
    let background = match input.get("background_image_url") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if is_file_url(s) => json!(s),
        Some(v @ Value::String(_)) => {
            c.value_error(
                field("background_image_url"),
                v,
                "Invalid background image URL: must reference an internal file.",
            );
            Value::Null
        }
        Some(v) => {
            c.value_error(field("background_image_url"), v, "Invalid image URL.");
            Value::Null
        }
    };
    out.insert("background_image_url".into(), background);
    let description = match input.get("description") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::String(_)) => v.clone(),
        Some(v) => {
            c.string_type(field("description"), v);
            Value::Null
        }
    };
    out.insert("description".into(), description);
    for name in ["i18n", "capabilities"] {
        let v = match input.get(name) {
            None | Some(Value::Null) => Value::Null,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(v) => {
                c.dict_type(field(name), v);
                Value::Null
            }
        };
        out.insert(name.into(), v);
    }
    let knowledge = match input.get("knowledge") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Array(items)) => Value::Array(items.iter().map(strip_knowledge_content).collect()),
        Some(v) => {
            c.list_type(field("knowledge"), v);
            Value::Null
        }
    };
    out.insert("knowledge".into(), knowledge);
    let voice = match input.get("voice") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(v)) => {
            let at = loc(at, &[json!("voice"), json!("voice")]);
            match v.get("voice") {
                None | Some(Value::Null) => json!({"voice": null}),
                Some(Value::String(s)) => {
                    let n = s.chars().count();
                    if n < 1 {
                        c.push(
                            "string_too_short",
                            at,
                            "String should have at least 1 character",
                            &json!(s),
                            Some(json!({"min_length": 1})),
                        );
                    } else if n > 200 {
                        c.push(
                            "string_too_long",
                            at,
                            "String should have at most 200 characters",
                            &json!(s),
                            Some(json!({"max_length": 200})),
                        );
                    } else if s.chars().any(char::is_whitespace) {
                        c.pattern(at, &json!(s), ID_PATTERN);
                    }
                    json!({"voice": s})
                }
                Some(other) => {
                    c.string_type(at, other);
                    Value::Null
                }
            }
        }
        Some(v) => {
            c.model_type(field("voice"), v, "ModelVoice");
            Value::Null
        }
    };
    out.insert("voice".into(), voice);
    let avatar = match input.get("voice_avatar") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(v)) => Value::Object(
            v.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "preset" | "movement" | "mouth" | "gaze"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Some(v) => {
            c.model_type(field("voice_avatar"), v, "ModelVoiceAvatar");
            Value::Null
        }
    };
    out.insert("voice_avatar".into(), avatar);
    for (k, v) in input {
        if META_FIELDS.contains(&k.as_str()) || k == "chat_variables_schema" {
            continue;
        }
        let v = if k == "tags" { normalize_tags(v) } else { v.clone() };
        out.insert(k.clone(), v);
    }
    (c.errors.len() == before).then_some(out)
}

/// Drops the extracted text a knowledge item may carry (`data.content`, `file.data.content`).
fn strip_knowledge_content(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(obj) = item.as_object_mut() {
        if let Some(Value::Object(data)) = obj.get_mut("data") {
            data.remove("content");
        }
        if let Some(Value::Object(file)) = obj.get_mut("file")
            && let Some(Value::Object(data)) = file.get_mut("data")
        {
            data.remove("content");
        }
    }
    item
}

fn control_key_ok(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && key != "constructor"
        && key != "prototype"
}

/// `ModelParams`: any keys, plus validated `model_controls`.
fn check_params(c: &mut Check, value: &Value, at: &[Value]) -> Option<Map<String, Value>> {
    let Some(input) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelParams");
        return None;
    };
    let before = c.errors.len();
    let mut out = Map::new();
    if let Some(controls) = input.get("model_controls") {
        let at = loc(at, &[json!("model_controls")]);
        match controls {
            Value::Object(map) => {
                let mut checked = Map::new();
                for (key, control) in map {
                    if !control_key_ok(key) {
                        c.pattern(loc(&at, &[json!(key), json!("[key]")]), &json!(key), CONTROL_KEY_PATTERN);
                    }
                    if let Some(control) = check_control(c, control, &loc(&at, &[json!(key)])) {
                        checked.insert(key.clone(), control);
                    }
                }
                if !checked.is_empty() {
                    out.insert("model_controls".into(), Value::Object(checked));
                }
            }
            other => c.dict_type(at, other),
        }
    }
    for (k, v) in input {
        if k != "model_controls" {
            out.insert(k.clone(), v.clone());
        }
    }
    (c.errors.len() == before).then_some(out)
}

/// One `ModelControl`, dumped as the reference stores it (`display` omitted when `menu`,
/// `description` and `default` omitted when null).
fn check_control(c: &mut Check, value: &Value, at: &[Value]) -> Option<Value> {
    let Some(map) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelControl");
        return None;
    };
    let before = c.errors.len();
    let display = match map.get("display") {
        None => "menu".to_string(),
        Some(Value::String(s)) if s == "menu" || s == "slider" => s.clone(),
        Some(other) => {
            c.push(
                "literal_error",
                loc(at, &[json!("display")]),
                "Input should be 'menu' or 'slider'",
                other,
                Some(json!({"expected": "'menu' or 'slider'"})),
            );
            String::new()
        }
    };
    let label = c.string(map, at, "label");
    if let Some(l) = &label
        && l.trim().is_empty()
    {
        c.pattern(loc(at, &[json!("label")]), &json!(l), LABEL_PATTERN);
    }
    let description = c.opt_string(map, at, "description");
    let default = c.opt_string(map, at, "default");
    let mut options = Map::new();
    match map.get("options") {
        None => c.missing(loc(at, &[json!("options")]), map),
        Some(Value::Object(opts)) => {
            for (key, option) in opts {
                let oat = loc(at, &[json!("options"), json!(key)]);
                if !control_key_ok(key) {
                    c.pattern(loc(&oat, &[json!("[key]")]), &json!(key), CONTROL_KEY_PATTERN);
                }
                let Some(o) = option.as_object() else {
                    c.model_type(oat, option, "ModelControlOption");
                    continue;
                };
                let olabel = c.string(o, &oat, "label");
                if let Some(l) = &olabel
                    && l.trim().is_empty()
                {
                    c.pattern(loc(&oat, &[json!("label")]), &json!(l), LABEL_PATTERN);
                }
                let oparams = match o.get("params") {
                    None => {
                        c.missing(loc(&oat, &[json!("params")]), o);
                        None
                    }
                    Some(Value::Object(p)) => Some(p.clone()),
                    Some(other) => {
                        c.dict_type(loc(&oat, &[json!("params")]), other);
                        None
                    }
                };
                if let (Some(l), Some(p)) = (olabel, oparams) {
                    options.insert(key.clone(), json!({"label": l, "params": p}));
                }
            }
            if opts.is_empty() {
                c.push(
                    "too_short",
                    loc(at, &[json!("options")]),
                    "Dictionary should have at least 1 item after validation, not 0",
                    &json!({}),
                    Some(json!({"field_type": "Dictionary", "min_length": 1, "actual_length": 0})),
                );
            }
        }
        Some(other) => c.dict_type(loc(at, &[json!("options")]), other),
    }
    if c.errors.len() != before {
        return None;
    }
    if display == "slider" && options.len() < 2 {
        c.value_error(at.to_vec(), value, "A slider needs at least two options.");
        return None;
    }
    if let Some(d) = &default
        && !options.contains_key(d)
    {
        c.value_error(at.to_vec(), value, "Default must name an approved option.");
        return None;
    }
    let mut out = Map::new();
    if display != "menu" {
        out.insert("display".into(), json!(display));
    }
    out.insert("label".into(), json!(label));
    if let Some(d) = description {
        out.insert("description".into(), json!(d));
    }
    if let Some(d) = default {
        out.insert("default".into(), json!(d));
    }
    out.insert("options".into(), Value::Object(options));
    Some(Value::Object(out))
}

/// The reference's `is_valid_model_id`: 1–256 characters, no whitespace.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.chars().any(char::is_whitespace)
}

// ---- access ----

fn bypass_admin(app: &App, p: &Principal) -> bool {
    p.role.is_admin() && app.config.bypass_admin_access_control
}

async fn has_grant(app: &App, p: &Principal, id: &str, permission: &str) -> AppResult<bool> {
    let ids = [id.to_string()];
    Ok(!db_models::granted_ids(&app.db, db_models::MODEL, &ids, p.id(), permission).await?.is_empty())
}

/// Owner, any admin, or a write grant: who may change or delete a model.
async fn may_change(app: &App, p: &Principal, row: &ModelRow) -> AppResult<bool> {
    Ok(p.role.is_admin() || row.user_id == p.user.id || has_grant(app, p, &row.id, "write").await?)
}

async fn permission(app: &App, p: &Principal, path: &str) -> AppResult<bool> {
    if p.role.is_admin() {
        return Ok(true);
    }
    Ok(Settings::load(&app.db).await?.permissions().allows(path))
}

/// Grants of a request: valid entries only, one per (type, id, permission).
fn normalize_grants(list: &[Value]) -> Vec<NewGrant> {
    let mut out: Vec<NewGrant> = Vec::new();
    for g in list {
        let text = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (kind, principal, permission) =
            (text("principal_type"), text("principal_id"), text("permission"));
        if !matches!(kind.as_str(), "user" | "group" | "anyone")
            || !matches!(permission.as_str(), "read" | "write")
        {
            continue;
        }
        if principal.is_empty() || (kind == "anyone" && (principal != "*" || permission != "read")) {
            continue;
        }
        let grant = NewGrant {
            id: uuid::Uuid::new_v4().to_string(),
            principal_type: kind,
            principal_id: principal,
            permission,
        };
        match out.iter_mut().find(|o| {
            o.principal_type == grant.principal_type
                && o.principal_id == grant.principal_id
                && o.permission == grant.permission
        }) {
            Some(existing) => *existing = grant,
            None => out.push(grant),
        }
    }
    out
}

/// The grants a caller may give when sharing a model: `anyone` never; for non-admins only with
/// `sharing.models`, `user:*` only with `sharing.public_models`, users with
/// `access_grants.allow_users`, groups with `access_grants.allow_groups`.
async fn allowed_grants(app: &App, p: &Principal, grants: Vec<NewGrant>) -> AppResult<Vec<NewGrant>> {
    let grants: Vec<NewGrant> = grants.into_iter().filter(|g| g.principal_type != "anyone").collect();
    if p.role.is_admin() || grants.is_empty() {
        return Ok(grants);
    }
    let perms = Settings::load(&app.db).await?.permissions();
    if !perms.allows("sharing.models") {
        return Ok(Vec::new());
    }
    Ok(grants
        .into_iter()
        .filter(|g| match (g.principal_type.as_str(), g.principal_id.as_str()) {
            ("user", "*") => perms.allows("sharing.public_models"),
            ("user", _) => perms.allows("access_grants.allow_users"),
            ("group", _) => perms.allows("access_grants.allow_groups"),
            _ => false,
        })
        .collect())
}

/// The grants that name nobody: users that do not exist, and every group (duet has no groups).
async fn unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<Vec<(String, String)>> {
    let users: Vec<String> = grants
        .iter()
        .filter(|g| g.principal_type == "user" && g.principal_id != "*")
        .map(|g| g.principal_id.clone())
        .collect();
    let known = db_models::existing_user_ids(&app.db, &users).await?;
    Ok(grants
        .iter()
        .filter(|g| match g.principal_type.as_str() {
            "user" => g.principal_id != "*" && !known.contains(&g.principal_id),
            "group" => true,
            _ => false,
        })
        .map(|g| (g.principal_type.clone(), g.principal_id.clone()))
        .collect())
}

/// 400 `UNKNOWN_PRINCIPAL` naming the first grant that names nobody.
async fn refuse_unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<()> {
    match unknown_principals(app, grants).await?.first() {
        None => Ok(()),
        Some((kind, id)) => Err(AppError::with_text(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnknownPrincipal,
            format!("An access grant names a {kind} that does not exist: {id}"),
        )),
    }
}

/// Files a model refers to must be readable; duet stores no files yet, so a non-admin's
/// knowledge file, and anyone's new background image or voice avatar, is refused as the
/// reference refuses a file that does not exist.
fn check_files(p: &Principal, meta: &Map<String, Value>, previous: Option<&Value>) -> AppResult<()> {
    if !p.role.is_admin()
        && let Some(items) = meta.get("knowledge").and_then(Value::as_array)
        && items.iter().any(|i| {
            i.get("type").and_then(Value::as_str) == Some("file")
                && i.get("id").and_then(Value::as_str).is_some_and(|id| !id.is_empty())
        })
    {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let prev = |k: &str| previous.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    let background = meta.get("background_image_url").cloned().unwrap_or(Value::Null);
    if !background.is_null() && background != prev("background_image_url") {
        return Err(AppError::forbidden(ErrorCode::FileNotAccessible));
    }
    let avatar = meta.get("voice_avatar").cloned().unwrap_or(Value::Null);
    if !avatar.is_null() && avatar != prev("voice_avatar") {
        return Err(AppError::with_text(
            StatusCode::FORBIDDEN,
            ErrorCode::FileNotAccessible,
            "Avatar or animation file is not accessible. Upload it again.",
        ));
    }
    Ok(())
}

/// The ids a user's model may not take: every upstream model's, and Ollama models' names
/// without their `:tag`.
async fn upstream_ids(app: &App) -> HashSet<String> {
    let upstream = app.upstream.models(false).await;
    let mut ids = HashSet::new();
    for m in upstream.iter().filter(|m| m.get("preset").is_none()) {
        let Some(id) = m.get("id").and_then(Value::as_str) else { continue };
        ids.insert(id.to_string());
        if m.get("owned_by").and_then(Value::as_str) == Some("ollama") {
            ids.insert(id.split(':').next().unwrap_or(id).to_string());
        }
    }
    ids
}

// ---- writes ----

/// What a history entry records of a model.
fn snapshot(name: &str, base_model_id: Option<&str>, params: &Value, meta: &Value) -> Value {
    let mut meta = meta.clone();
    if let Some(m) = meta.as_object_mut() {
        m.remove("hidden");
        m.remove("chat_variables_schema");
    }
    json!({"name": name, "base_model_id": base_model_id, "params": params, "meta": meta})
}

/// Inserts a model, its first history entry and its grants inside `tx`.
async fn insert_in(
    tx: &mut Tx,
    owner: &str,
    author: &str,
    form: &ModelForm,
    base_model_id: Option<&str>,
    grants: &[NewGrant],
    now: i64,
) -> AppResult<()> {
    let meta = Value::Object(form.meta.clone());
    let params = Value::Object(form.params.clone());
    let version = uuid::Uuid::new_v4().to_string();
    let snap = snapshot(&form.name, base_model_id, &params, &meta);
    db_models::insert_history(
        &mut *tx,
        &db_models::HistoryWrite {
            id: &version,
            model_id: &form.id,
            parent_id: None,
            snapshot: &snap,
            user_id: author,
            commit_message: form.commit_message.as_deref(),
            created_at: now,
        },
    )
    .await?;
    let write = ModelWrite {
        id: &form.id,
        user_id: owner,
        base_model_id,
        name: &form.name,
        params: &params,
        meta: &meta,
        version_id: Some(&version),
        is_active: form.is_active.unwrap_or(true),
        updated_at: now,
        created_at: now,
    };
    db_models::insert(&mut *tx, &write).await.map_err(taken_on_conflict)?;
    if !grants.is_empty() {
        db_models::replace_grants(tx, db_models::MODEL, &form.id, grants, now).await?;
    }
    Ok(())
}

/// A unique-key collision on insert is a taken id.
fn taken_on_conflict(e: AppError) -> AppError {
    if e.code == ErrorCode::Conflict { AppError::unauthorized(ErrorCode::ModelIdTaken) } else { e }
}

/// Writes an update of `row` from `form` inside `tx` (a history entry when the configuration
/// changed); `access_grants` of the form are ignored.
async fn update_in(
    tx: &mut Tx,
    p: &Principal,
    row: &ModelRow,
    form: &ModelForm,
    base_model_id: Option<&str>,
) -> AppResult<()> {
    let mut meta = form.meta.clone();
    let stored_meta = canonical_meta(&row.meta.0);
    for key in ["profile_image_url", "voice_avatar", "background_image_url"] {
        if !form.meta_given.iter().any(|k| k == key) {
            meta.insert(key.into(), stored_meta.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    check_files(p, &meta, Some(&stored_meta))?;
    let mut params = form.params.clone();
    if !form.model_controls_given
        && let Some(controls) =
            row.params.0.get("model_controls").filter(|c| c.as_object().is_some_and(|m| !m.is_empty()))
    {
        params.insert("model_controls".into(), controls.clone());
    }
    let meta = canonical_meta(&Value::Object(meta));
    let params = canonical_params(&Value::Object(params));
    let now = store::now();
    let before =
        snapshot(&row.name, row.base_model_id.as_deref(), &canonical_params(&row.params.0), &stored_meta);
    let after = snapshot(&form.name, base_model_id, &params, &meta);
    let version = if before == after {
        row.version_id.clone()
    } else {
        let id = uuid::Uuid::new_v4().to_string();
        db_models::insert_history(
            &mut *tx,
            &db_models::HistoryWrite {
                id: &id,
                model_id: &row.id,
                parent_id: row.version_id.as_deref(),
                snapshot: &after,
                user_id: p.id(),
                commit_message: form.commit_message.as_deref(),
                created_at: now,
            },
        )
        .await?;
        Some(id)
    };
    let write = ModelWrite {
        id: &row.id,
        user_id: &row.user_id,
        base_model_id,
        name: &form.name,
        params: &params,
        meta: &meta,
        version_id: version.as_deref(),
        is_active: form.is_active.unwrap_or(row.is_active),
        updated_at: now,
        created_at: row.created_at,
    };
    db_models::update(tx, &write).await?;
    Ok(())
}

/// `POST /models/create`.
pub async fn create(app: &App, caller: &Caller, form: ModelForm) -> AppResult<Model> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    if !is_valid_id(&form.id) {
        return Err(AppError::bad_request(ErrorCode::ModelIdTooLong));
    }
    // A model cannot be based on itself.
    let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
    if db_models::get(&app.db, &form.id).await?.is_some() {
        return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
    }
    if !p.role.is_admin() {
        if base_model_id.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized(ErrorCode::Unauthorized));
        }
        if upstream_ids(app).await.contains(&form.id) {
            return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
        }
    }
    check_files(p, &form.meta, None)?;
    let grants = normalize_grants(form.access_grants.as_deref().unwrap_or_default());
    let grants = allowed_grants(app, p, grants).await?;
    refuse_unknown_principals(app, &grants).await?;
    let mut tx = app.db.begin().await?;
    insert_in(&mut tx, p.id(), p.id(), &form, base_model_id.as_deref(), &grants, store::now()).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::internal("model vanished after insert"))
}

/// `GET /models/model?id=`: the model with `write_access`; `params` are `{}` for read-only
/// callers. 404 `NOT_FOUND`; 401 `ACCESS_PROHIBITED` without read access.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<ModelAccess> {
    let p = caller.require_verified()?;
    let mut m = load(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let write = bypass_admin(app, p) || m.row.user_id == p.user.id || has_grant(app, p, id, "write").await?;
    if !write && !has_grant(app, p, id, "read").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    if !write {
        m.row.params.0 = json!({});
    }
    Ok(ModelAccess { model: m, user: None, write_access: write })
}

/// `POST /models/model/update`: owner, admin or write grant. Omitted `base_model_id`,
/// `is_active`, `meta.profile_image_url`, `meta.voice_avatar`, `meta.background_image_url` and
/// `params.model_controls` keep their stored values; the rest of `meta`/`params` is replaced.
pub async fn update(app: &App, caller: &Caller, form: ModelForm) -> AppResult<Model> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = db_models::get_for_update(&mut tx, &form.id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::bad_request(ErrorCode::AccessProhibited));
    }
    let base_model_id =
        if form.base_model_id_given { form.base_model_id.clone() } else { row.base_model_id.clone() };
    let base_model_id = base_model_id.filter(|b| *b != form.id);
    if !p.role.is_admin() && row.base_model_id.is_some() && base_model_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    update_in(&mut tx, p, &row, &form, base_model_id.as_deref()).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

/// `POST /models/model/toggle?id=`: flips `is_active`.
pub async fn toggle(app: &App, caller: &Caller, id: &str) -> AppResult<Model> {
    let p = caller.require_verified()?;
    let row =
        db_models::get(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    if db_models::toggle(&app.db, id, store::now()).await? == 0 {
        return Err(AppError::with_text(
            StatusCode::BAD_REQUEST,
            ErrorCode::Default,
            "[ERROR: Error updating function]",
        ));
    }
    load(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

/// `POST /models/model/delete`: the model, its grants and its history.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    let row =
        db_models::get(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let mut tx = app.db.begin().await?;
    db_models::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `DELETE /models/delete/all` (admin): every model, grant and history entry.
pub async fn delete_all(app: &App, caller: &Caller) -> AppResult<bool> {
    caller.require_admin()?;
    let mut tx = app.db.begin().await?;
    db_models::delete_all(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// `POST /models/model/access/update`: replaces the grants. An admin naming an id without a row
/// creates a minimal one (how upstream models get restricted). Non-admins need the sharing
/// permissions for every grant (403 otherwise); grants naming nobody are 400.
pub async fn update_access(app: &App, caller: &Caller, form: AccessForm) -> AppResult<Model> {
    let p = caller.require_verified()?;
    let row = db_models::get(&app.db, &form.id).await?;
    match &row {
        None if !p.role.is_admin() => return Err(AppError::forbidden(ErrorCode::AccessProhibited)),
        Some(row) if !may_change(app, p, row).await? => {
            return Err(AppError::bad_request(ErrorCode::AccessProhibited));
        }
        _ => {}
    }
    let grants = normalize_grants(&form.access_grants);
    let allowed = allowed_grants(app, p, grants.clone()).await?;
    if allowed.len() != grants.len() {
        return Err(AppError::forbidden(ErrorCode::SharingNotAllowed));
    }
    refuse_unknown_principals(app, &allowed).await?;
    let now = store::now();
    let mut tx = app.db.begin().await?;
    if row.is_none() {
        let minimal = ModelForm {
            id: form.id.clone(),
            base_model_id: None,
            base_model_id_given: false,
            name: form.name.clone().unwrap_or_else(|| form.id.clone()),
            meta: canonical_meta(&json!({})).as_object().cloned().unwrap_or_default(),
            meta_given: Vec::new(),
            params: Map::new(),
            model_controls_given: false,
            access_grants: None,
            is_active: None,
            commit_message: None,
        };
        insert_in(&mut tx, p.id(), p.id(), &minimal, None, &[], now).await?;
    }
    db_models::replace_grants(&mut tx, db_models::MODEL, &form.id, &allowed, now).await?;
    db_models::touch(&mut tx, &form.id, now).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

// ---- lists ----

/// Query parameters of the workspace list.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub query: Option<String>,
    pub view_option: Option<String>,
    pub tag: Option<String>,
    pub order_by: Option<String>,
    pub direction: Option<String>,
    pub page: Option<i64>,
}

/// `GET /models/list`: presets the caller can read, 30 per page, each with its owner,
/// `write_access`, `params` only with write access, and no `meta.profile_image_url`.
pub async fn list(app: &App, caller: &Caller, params: ListParams) -> AppResult<ModelPage> {
    let p = caller.require_verified()?;
    for (name, text) in [("query", &params.query), ("tag", &params.tag)] {
        if let Some(text) = text {
            validate::check_search(&["query", name], text)?;
        }
    }
    let page = params.page.unwrap_or(1).max(1);
    let sees_all = bypass_admin(app, p);
    let filter = ListFilter {
        query: params.query.filter(|q| !q.is_empty()),
        own: match params.view_option.as_deref() {
            Some("created") => Some(true),
            Some("shared") => Some(false),
            _ => None,
        },
        reader: (!sees_all).then(|| p.user.id.clone()),
        caller: p.user.id.clone(),
        tag: params.tag.filter(|t| !t.is_empty()),
    };
    let order = match params.order_by.as_deref() {
        Some("name") => Order::Name,
        Some("updated_at") => Order::UpdatedAt,
        _ => Order::CreatedAt,
    };
    let ascending = params.order_by.is_some() && params.direction.as_deref() == Some("asc");
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let (rows, total) = db_models::list(&app.db, &filter, order, ascending, PAGE_SIZE, offset).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.model.id.clone()).collect();
    let writable = db_models::granted_ids(&app.db, db_models::MODEL, &ids, p.id(), "write").await?;
    let mut owners = Vec::with_capacity(rows.len());
    let mut models = Vec::with_capacity(rows.len());
    for r in rows {
        owners.push(match (r.owner_id, r.owner_name, r.owner_role, r.owner_email) {
            (Some(id), Some(name), Some(role), Some(email)) => Some(Owner { id, name, role, email }),
            _ => None,
        });
        models.push(r.model);
    }
    let models = with_grants(&app.db, models).await?;
    let items = models
        .into_iter()
        .zip(owners)
        .map(|(mut m, user)| {
            let write_access = sees_all || m.row.user_id == p.user.id || writable.contains(&m.row.id);
            if !write_access {
                m.row.params.0 = json!({});
            }
            if let Some(meta) = m.row.meta.0.as_object_mut() {
                meta.remove("profile_image_url");
            }
            ModelAccess { model: m, user, write_access }
        })
        .collect();
    Ok(ModelPage { items, total })
}

/// `GET /models/all` (admin): every model row.
pub async fn all(app: &App, caller: &Caller) -> AppResult<Vec<Model>> {
    caller.require_admin()?;
    with_grants(&app.db, db_models::all(&app.db).await?).await
}

/// `GET /models/base?tag=` (admin): rows without a base model, optionally with tag `tag`.
pub async fn base(app: &App, caller: &Caller, tag: Option<&str>) -> AppResult<Vec<Model>> {
    caller.require_admin()?;
    let mut rows = db_models::base(&app.db).await?;
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        rows.retain(|r| tag_names(&r.meta.0).iter().any(|n| n == tag));
    }
    with_grants(&app.db, rows).await
}

fn sorted_tags(metas: Vec<sqlx::types::Json<Value>>) -> Vec<String> {
    let mut set: Vec<String> =
        metas.iter().flat_map(|m| tag_names(&m.0)).collect::<HashSet<_>>().into_iter().collect();
    set.sort();
    set
}

/// `GET /models/base/tags` (admin).
pub async fn base_tags(app: &App, caller: &Caller) -> AppResult<Vec<String>> {
    caller.require_admin()?;
    Ok(sorted_tags(db_models::metas(&app.db, true, None).await?))
}

/// `GET /models/tags`: tags of the presets the caller can read, sorted.
pub async fn tags(app: &App, caller: &Caller) -> AppResult<Vec<String>> {
    let p = caller.require_verified()?;
    let reader = (!bypass_admin(app, p)).then(|| p.id());
    Ok(sorted_tags(db_models::metas(&app.db, false, reader).await?))
}

// ---- export / import ----

/// `GET /models/export?ids=…`: presets the caller may write (admins: all), needs
/// `workspace.models_export` for non-admins; 403 when a named id is not exportable.
pub async fn export(app: &App, caller: &Caller, ids: Option<Vec<String>>) -> AppResult<Vec<Model>> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models_export").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let rows = match &ids {
        Some(ids) => db_models::by_ids(&app.db, ids).await?,
        None => db_models::all(&app.db).await?,
    };
    let mut rows: Vec<ModelRow> = rows.into_iter().filter(|r| r.base_model_id.is_some()).collect();
    if !bypass_admin(app, p) {
        let all_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let writable = db_models::granted_ids(&app.db, db_models::MODEL, &all_ids, p.id(), "write").await?;
        rows.retain(|r| r.user_id == p.user.id || writable.contains(&r.id));
    }
    if let Some(ids) = &ids {
        let requested: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let found: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        if requested != found {
            return Err(AppError::forbidden(ErrorCode::AccessProhibited));
        }
    }
    with_grants(&app.db, rows).await
}

/// `POST /models/import`: creates or updates each model (all in one transaction); non-admins
/// need `workspace.models_import`, may only overwrite models they may write (401
/// `MODEL_ID_TAKEN`), and skip models without a base model.
pub async fn import(app: &App, caller: &Caller, models: Vec<Value>) -> AppResult<bool> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models_import").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let ids: Vec<String> = models
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .filter(|id| is_valid_id(id))
        .map(str::to_string)
        .collect();
    let existing: HashMap<String, ModelRow> =
        db_models::by_ids(&app.db, &ids).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let existing_ids: Vec<String> = existing.keys().cloned().collect();
    let writable = if p.role.is_admin() {
        existing_ids.iter().cloned().collect()
    } else {
        db_models::granted_ids(&app.db, db_models::MODEL, &existing_ids, p.id(), "write").await?
    };
    // Asked before the transaction so a slow provider never holds a write lock.
    let taken = if p.role.is_admin() { HashSet::new() } else { upstream_ids(app).await };
    let now = store::now();
    let mut tx = app.db.begin().await?;
    let mut done: HashSet<String> = HashSet::new();
    for data in models {
        let Some(mut data) = data.as_object().cloned() else { continue };
        let Some(id) =
            data.get("id").and_then(Value::as_str).filter(|id| is_valid_id(id)).map(str::to_string)
        else {
            continue;
        };
        if data.get("base_model_id").and_then(Value::as_str) == Some(id.as_str()) {
            data.insert("base_model_id".into(), Value::Null);
        }
        // A model is read back in this transaction when an import names it twice.
        let stored =
            if done.contains(&id) { db_models::get(&mut tx, &id).await? } else { existing.get(&id).cloned() };
        match stored {
            Some(row) => {
                if !p.role.is_admin() && row.user_id != p.user.id && !writable.contains(&id) {
                    return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
                }
                let base = match data.get("base_model_id") {
                    Some(v) => v.as_str().map(str::to_string),
                    None => row.base_model_id.clone(),
                };
                if !p.role.is_admin()
                    && row.base_model_id.is_some()
                    && base.as_deref().is_none_or(str::is_empty)
                {
                    tracing::warn!(model = %id, "import: cannot clear the base model; skipped");
                    continue;
                }
                let mut meta = canonical_meta(&row.meta.0).as_object().cloned().unwrap_or_default();
                if let Some(Value::Object(m)) = data.get("meta") {
                    meta.extend(m.clone());
                }
                let mut merged = Map::new();
                merged.insert("id".into(), json!(row.id));
                merged.insert("base_model_id".into(), json!(row.base_model_id));
                merged.insert("name".into(), json!(row.name));
                merged.insert("is_active".into(), json!(row.is_active));
                merged.extend(data.clone());
                merged.insert("meta".into(), Value::Object(meta));
                merged.insert("params".into(), data.get("params").cloned().unwrap_or_else(|| json!({})));
                let form = import_form(&id, &Value::Object(merged))?;
                if check_files(p, &form.meta, Some(&canonical_meta(&row.meta.0))).is_err() {
                    tracing::warn!(model = %id, "import: references a file that cannot be read; skipped");
                    continue;
                }
                let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
                update_in(&mut tx, p, &row, &form, base_model_id.as_deref()).await?;
            }
            None => {
                if !data.contains_key("meta") {
                    data.insert("meta".into(), json!({}));
                }
                if !data.contains_key("params") {
                    data.insert("params".into(), json!({}));
                }
                let form = import_form(&id, &Value::Object(data))?;
                let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
                if !p.role.is_admin() {
                    if base_model_id.as_deref().is_none_or(str::is_empty) {
                        tracing::warn!(model = %id, "import: no base model set; skipped");
                        continue;
                    }
                    if taken.contains(&id) {
                        return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
                    }
                }
                if check_files(p, &form.meta, None).is_err() {
                    tracing::warn!(model = %id, "import: references a file that cannot be read; skipped");
                    continue;
                }
                let grants = normalize_grants(form.access_grants.as_deref().unwrap_or_default());
                let mut grants = allowed_grants(app, p, grants).await?;
                let unknown = unknown_principals(app, &grants).await?;
                if !unknown.is_empty() {
                    tracing::warn!(model = %id, dropped = unknown.len(), "import: grants naming nobody dropped");
                    grants.retain(|g| !unknown.contains(&(g.principal_type.clone(), g.principal_id.clone())));
                }
                insert_in(&mut tx, p.id(), p.id(), &form, base_model_id.as_deref(), &grants, now).await?;
            }
        }
        done.insert(id);
    }
    tx.commit().await?;
    Ok(true)
}

/// An imported model's form; a validation failure is 400 naming the model.
fn import_form(id: &str, value: &Value) -> AppResult<ModelForm> {
    ModelForm::from_json(value).map_err(|e| {
        AppError::with_text(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationError,
            format!("Invalid model {id}: {}", e.message()),
        )
    })
}

// ---- the chat model list ----

/// `GET /api/models/base` (admin): the upstream models as fetched.
pub async fn upstream_models(app: &App, caller: &Caller) -> AppResult<Vec<Value>> {
    caller.require_admin()?;
    Ok(app.upstream.models(false).await.as_ref().clone())
}

/// `GET /api/models`: upstream models merged with the stored ones, as Open WebUI builds its
/// chat list: a row without a base model and the id of an upstream model renames it (and carries
/// its settings as `info`; an inactive one hides it); an active preset whose base model is listed
/// is added. Non-admins see models they own or can read; upstream models without a row are for
/// admins only. No upstream models ⇒ an empty list.
pub async fn chat_models(app: &App, caller: &Caller, refresh: bool) -> AppResult<Vec<Value>> {
    let p = caller.require_verified()?;
    let upstream = app.upstream.models(refresh).await;
    if upstream.is_empty() {
        return Ok(Vec::new());
    }
    let mut models: Vec<Map<String, Value>> =
        upstream.iter().filter_map(|m| m.as_object().cloned()).collect();
    let rows = db_models::all(&app.db).await?;
    let mut grants: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for g in db_models::all_grants(&app.db, db_models::MODEL).await? {
        grants.entry(g.resource_id.clone()).or_default().push(g);
    }
    let info = |row: &ModelRow| -> Value {
        let m = model(row.clone(), grants.get(&row.id).cloned().unwrap_or_default());
        let mut info = model_value(&m);
        info["params"] = public_params(&m.row.params.0);
        info
    };

    // Ollama names without their `:tag` first, then exact ids (exact wins).
    let mut lookup: HashMap<String, usize> = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        if m.get("owned_by").and_then(Value::as_str) == Some("ollama") {
            lookup.entry(id.split(':').next().unwrap_or(id).to_string()).or_insert(i);
        }
    }
    for (i, m) in models.iter().enumerate() {
        lookup.insert(m.get("id").and_then(Value::as_str).unwrap_or("").to_string(), i);
    }
    let upstream_ids: HashSet<String> =
        models.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    let mut hidden = vec![false; models.len()];
    let mut presets: Vec<&ModelRow> = Vec::new();
    for row in &rows {
        match &row.base_model_id {
            None => {
                if let Some(&i) = lookup.get(&row.id) {
                    if row.is_active {
                        models[i].insert("name".into(), json!(row.name));
                        models[i].insert("info".into(), info(row));
                    } else {
                        hidden[i] = true;
                    }
                }
            }
            Some(_) if row.is_active && !upstream_ids.contains(&row.id) => presets.push(row),
            Some(_) => {}
        }
    }
    // Presets whose base model is listed (directly, by Ollama name, or through another preset).
    let mut added: Vec<Map<String, Value>> = Vec::new();
    let mut added_ids: HashMap<String, usize> = HashMap::new();
    loop {
        let mut progress = false;
        for row in &presets {
            if added_ids.contains_key(&row.id) {
                continue;
            }
            let base_id = row.base_model_id.as_deref().unwrap_or("");
            let base = lookup
                .get(base_id)
                .or_else(|| lookup.get(base_id.split(':').next().unwrap_or(base_id)))
                .map(|&i| &models[i])
                .or_else(|| added_ids.get(base_id).map(|&i| &added[i]));
            let Some(base) = base else { continue };
            let mut m = Map::new();
            m.insert("id".into(), json!(row.id));
            m.insert("name".into(), json!(row.name));
            m.insert("object".into(), json!("model"));
            m.insert("created".into(), json!(row.created_at));
            m.insert("owned_by".into(), base.get("owned_by").cloned().unwrap_or_else(|| json!("unknown")));
            m.insert("connection_type".into(), base.get("connection_type").cloned().unwrap_or(Value::Null));
            m.insert("preset".into(), json!(true));
            if let Some(provider) = base.get("provider").filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                m.insert("provider".into(), provider.clone());
            }
            if let Some(loaded) = base.get("loaded").filter(|v| !v.is_null()) {
                m.insert("loaded".into(), loaded.clone());
            }
            m.insert("info".into(), info(row));
            added_ids.insert(row.id.clone(), added.len());
            added.push(m);
            progress = true;
        }
        if !progress {
            break;
        }
    }
    // Presets keep the stored order (oldest first), whatever pass added them.
    added.sort_by_key(|m| {
        rows.iter().position(|r| Some(r.id.as_str()) == m.get("id").and_then(Value::as_str))
    });
    let mut all: Vec<Map<String, Value>> =
        models.into_iter().zip(hidden).filter(|(_, h)| !h).map(|(m, _)| m).chain(added).collect();
    for m in &mut all {
        m.insert("actions".into(), json!([]));
        m.insert("filters".into(), json!([]));
    }

    // One entry per id: the first one's position, the last one's content.
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, Map<String, Value>> = HashMap::new();
    for m in all {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        by_id.insert(id, m);
    }
    let all: Vec<Map<String, Value>> = order.into_iter().filter_map(|id| by_id.remove(&id)).collect();

    let filtered = (p.role.as_str() == "user"
        || (p.role.is_admin() && !app.config.bypass_admin_access_control))
        && !app.config.bypass_model_access_control;
    let mut visible: Vec<Map<String, Value>> = if filtered {
        all.into_iter()
            .filter(|m| match m.get("info").filter(|i| i.is_object()) {
                Some(info) => {
                    let id = m.get("id").and_then(Value::as_str).unwrap_or("");
                    bypass_admin(app, p)
                        || info.get("user_id").and_then(Value::as_str) == Some(p.id())
                        || grants.get(id).is_some_and(|gs| {
                            gs.iter().any(|g| {
                                g.permission == "read"
                                    && g.principal_type == "user"
                                    && (g.principal_id == "*" || g.principal_id == p.user.id)
                            })
                        })
                }
                None => p.role.is_admin(),
            })
            .collect()
    } else {
        all
    };

    for m in &mut visible {
        let mut tags: Vec<Value> = Vec::new();
        if let Some(meta) = m.get_mut("info").and_then(|i| i.get_mut("meta")).and_then(Value::as_object_mut) {
            meta.remove("profile_image_url");
            if let Some(t) = meta.get("tags").cloned() {
                let normalized = normalize_tags(&t);
                tags.extend(normalized.as_array().cloned().unwrap_or_default());
                meta.insert("tags".into(), normalized);
            }
        }
        tags.extend(
            normalize_tags(m.get("tags").unwrap_or(&Value::Null)).as_array().cloned().unwrap_or_default(),
        );
        let mut unique: Vec<Value> = Vec::new();
        for t in tags {
            match unique.iter_mut().find(|u| u["name"] == t["name"]) {
                Some(u) => *u = t,
                None => unique.push(t),
            }
        }
        m.insert("tags".into(), Value::Array(unique));
    }

    let settings = Settings::load(&app.db).await?;
    if let Some(list) =
        settings.get("ui.model_order_list").and_then(Value::as_array).filter(|l| !l.is_empty())
    {
        let position: HashMap<&str, usize> =
            list.iter().enumerate().filter_map(|(i, v)| v.as_str().map(|s| (s, i))).collect();
        visible.sort_by(|a, b| {
            let key = |m: &Map<String, Value>| {
                let id = m.get("id").and_then(Value::as_str).unwrap_or("");
                (
                    position.get(id).copied().unwrap_or(usize::MAX),
                    m.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
    }
    Ok(visible.into_iter().map(Value::Object).collect())
}

/// `ModelModel` as JSON.
pub fn model_value(m: &Model) -> Value {
    let r = &m.row;
    json!({
        "version_id": r.version_id,
        "id": r.id,
        "user_id": r.user_id,
        "base_model_id": r.base_model_id,
        "name": r.name,
        "params": r.params.0,
        "meta": r.meta.0,
        "access_grants": m.grants,
        "is_active": r.is_active,
        "updated_at": r.updated_at,
        "created_at": r.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_to_256_characters_without_whitespace() {
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"é".repeat(256)));
        assert!(!is_valid_id(&"a".repeat(257)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
    }

    #[test]
    fn form_reports_every_bad_field_in_order() {
        let e = ModelForm::from_json(&json!({"id": "bad id", "name": 3, "meta": "x", "params": [1]}))
            .expect_err("422");
        let crate::error::Detail::Fields(f) = &e.detail else { panic!("fields") };
        let kinds: Vec<&str> = f.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["string_pattern_mismatch", "string_type", "model_type", "model_type"]);
        assert_eq!(f[2].msg, "Input should be a valid dictionary or instance of ModelMeta");
        assert_eq!(f[2].ctx, Some(json!({"class_name": "ModelMeta"})));
    }

    #[test]
    fn meta_is_canonical_with_tags_normalised() {
        let f = ModelForm::from_json(&json!({"id": "m", "name": "M", "meta": {
            "x": 1, "tags": ["a", {"name": " b "}, "", 3], "profile_image_url": "javascript:x",
            "knowledge": [{"data": {"content": "long", "k": 1}}]}, "params": {"model_controls": {}}}))
        .expect("form");
        assert_eq!(
            Value::Object(f.meta.clone()),
            json!({"profile_image_url": null, "background_image_url": null, "description": null, "i18n": null,
                   "capabilities": null, "knowledge": [{"data": {"k": 1}}], "voice": null, "voice_avatar": null,
                   "x": 1, "tags": [{"name": "a"}, {"name": "b"}]})
        );
        let keys: Vec<&String> = f.meta.keys().collect();
        assert_eq!(keys[0], "profile_image_url");
        assert_eq!(Value::Object(f.params), json!({}));
        assert!(f.model_controls_given);
        assert_eq!(f.is_active, None);
    }

    #[test]
    fn model_controls_follow_the_reference_rules() {
        let ok = json!({"id": "m", "name": "M", "meta": {}, "params": {"temperature": 1, "model_controls": {
            "effort": {"display": "menu", "label": "Effort", "extra": 1, "options": {"low": {"label": "Low", "params": {"t": 0}}}}}}});
        let f = ModelForm::from_json(&ok).expect("form");
        assert_eq!(
            Value::Object(f.params),
            json!({"model_controls": {"effort": {"label": "Effort", "options": {"low": {"label": "Low", "params": {"t": 0}}}}},
                   "temperature": 1})
        );
        let slider = json!({"id": "m", "name": "M", "meta": {}, "params": {"model_controls": {
            "s": {"display": "slider", "label": "S", "options": {"a": {"label": "A", "params": {}}}}}}});
        let e = ModelForm::from_json(&slider).expect_err("slider");
        assert_eq!(
            e.message(),
            "body.params.model_controls.s: Value error, A slider needs at least two options."
        );
        let key = json!({"id": "m", "name": "M", "meta": {}, "params": {"model_controls": {
            "1x": {"label": "S", "default": "z", "options": {"a": {"label": "A", "params": {}}}}}}});
        let e = ModelForm::from_json(&key).expect_err("key");
        let crate::error::Detail::Fields(f) = &e.detail else { panic!("fields") };
        assert_eq!(
            f[0].loc,
            vec![json!("body"), json!("params"), json!("model_controls"), json!("1x"), json!("[key]")]
        );
        assert_eq!(f[1].msg, "Value error, Default must name an approved option.");
    }

    #[test]
    fn grants_are_normalised_and_deduplicated() {
        let g = normalize_grants(&[
            json!({"principal_type": "user", "principal_id": "u1", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "u1", "permission": "read"}),
            json!({"principal_type": "anyone", "principal_id": "*", "permission": "write"}),
            json!({"principal_type": "robot", "principal_id": "r", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "*", "permission": "read"}),
        ]);
        let keys: Vec<(&str, &str)> =
            g.iter().map(|g| (g.principal_type.as_str(), g.principal_id.as_str())).collect();
        assert_eq!(keys, [("user", "u1"), ("user", "*")]);
    }

    #[test]
    fn public_params_keep_labels_only() {
        let p = json!({"system": "secret", "compact_token_threshold": 5, "model_controls": {
            "e": {"label": "E", "default": "a", "options": {"a": {"label": "A", "params": {"x": 1}}}}}});
        assert_eq!(
            public_params(&p),
            json!({"model_controls": {"e": {"label": "E", "default": "a", "options": {"a": {"label": "A"}}}},
                   "compact_token_threshold": 5})
        );
    }

    #[test]
    fn background_urls_must_name_a_file() {
        assert!(is_file_url("/api/v1/files/0123abcd-0000-4000-8000-00000000abcd/content"));
        assert!(!is_file_url("/api/v1/files/0123ABCD-0000-4000-8000-00000000abcd/content"));
        assert!(!is_file_url("https://x/y.png"));
    }
}
