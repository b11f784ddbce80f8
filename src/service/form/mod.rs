//! `Fields`: the one collector of FastAPI/pydantic field errors (`{type, loc, msg, input, ctx?}`)
//! every form uses — REST bodies and query parameters, the JSON body reader, and the forms the
//! services validate themselves (models, permissions, the admin configuration, value rules).
//!
//! Each pydantic error kind duet answers with has one method here, and its text is written only
//! here. Locations are relative to the form (`["chat"]`, `["access_grants", 0, "principal_id"]`);
//! a collector is made for one `Source`, whose name (`"body"`, `"query"`) `Fields::push` puts in
//! front of every location — the only place a prefix is added.
//!
//! Who names the source: the adapters for what they read (REST's `FormReader` and the shared
//! `read_json` the body, `Params` the query), and a service form whose input is the request body
//! by definition (models, permissions, the admin configuration, the body-field rules of
//! `validate`) where it makes its collector. GraphQL hands those forms the same JSON, so their
//! errors read `body.…` there as in REST.

use serde_json::{Map, Value, json};

use crate::error::{AppError, AppResult, FieldError};

mod read;

/// Where a form was read from; its name starts every location of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The JSON request body: `["body", …]`.
    Body,
    /// The query parameters: `["query", name]`.
    Query,
    /// A GraphQL argument: locations start at the argument's name, without a prefix.
    Argument,
}

impl Source {
    /// The first element of every location (none for a GraphQL argument).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Source::Body => Some("body"),
            Source::Query => Some("query"),
            Source::Argument => None,
        }
    }

    /// Splits a location written in full (`["query", "text"]`) into its source and the rest;
    /// a location naming neither source is taken as a query parameter's.
    pub fn split<'a>(loc: &'a [&'a str]) -> (Source, &'a [&'a str]) {
        match loc {
            ["body", rest @ ..] => (Source::Body, rest),
            ["query", rest @ ..] => (Source::Query, rest),
            _ => (Source::Query, loc),
        }
    }
}

/// A location inside a form, relative to its source: field names and list indexes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loc(Vec<Value>);

impl Loc {
    /// The form itself (an error about the whole body).
    pub fn root() -> Loc {
        Loc(Vec::new())
    }

    /// This location one step further down (a field name or a list index).
    pub fn at(&self, step: impl Into<Value>) -> Loc {
        let mut steps = self.0.clone();
        steps.push(step.into());
        Loc(steps)
    }
}

impl From<&str> for Loc {
    fn from(name: &str) -> Loc {
        Loc(vec![json!(name)])
    }
}

impl From<&[&str]> for Loc {
    fn from(names: &[&str]) -> Loc {
        Loc(names.iter().map(|n| json!(n)).collect())
    }
}

impl From<Vec<Value>> for Loc {
    fn from(steps: Vec<Value>) -> Loc {
        Loc(steps)
    }
}

impl From<&[Value]> for Loc {
    fn from(steps: &[Value]) -> Loc {
        Loc(steps.to_vec())
    }
}

impl From<&Vec<Value>> for Loc {
    fn from(steps: &Vec<Value>) -> Loc {
        Loc(steps.clone())
    }
}

impl<const N: usize> From<&[Value; N]> for Loc {
    fn from(steps: &[Value; N]) -> Loc {
        Loc(steps.to_vec())
    }
}

impl From<&Loc> for Loc {
    fn from(loc: &Loc) -> Loc {
        loc.clone()
    }
}

/// The field errors of one form, in the order they were found.
#[derive(Debug)]
pub struct Fields {
    source: Source,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(source: Source) -> Fields {
        Fields { source, errors: Vec::new() }
    }

    /// A collector for the request body.
    pub fn body() -> Fields {
        Fields::new(Source::Body)
    }

    /// A collector for the query parameters.
    pub fn query() -> Fields {
        Fields::new(Source::Query)
    }

    /// The 422 of one error found at once: `build` records it on a fresh collector.
    pub fn error(source: Source, build: impl FnOnce(&mut Fields)) -> AppError {
        let mut fields = Fields::new(source);
        build(&mut fields);
        fields.into_error()
    }

    /// The errors recorded so far (compare before and after a part of a form).
    pub fn count(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors of another collector (a nested part of the form) become this one's.
    pub fn absorb(&mut self, other: Fields) {
        self.errors.extend(other.errors);
    }

    /// `Ok` when nothing was recorded, else the 422 listing every error.
    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }

    /// The 422 listing every error recorded.
    pub fn into_error(self) -> AppError {
        AppError::validation(self.errors)
    }

    /// Records one error; the source's name goes in front of `loc` here and nowhere else.
    fn push(
        &mut self,
        kind: &'static str,
        loc: impl Into<Loc>,
        msg: impl Into<String>,
        input: &Value,
        ctx: Option<Value>,
    ) {
        let mut full: Vec<Value> = self.source.name().map(Value::from).into_iter().collect();
        full.extend(loc.into().0);
        self.errors.push(FieldError { kind, loc: full, msg: msg.into(), input: input.clone(), ctx });
    }

    /// `missing`: a required field is absent; `input` is the object that lacks it (null for a
    /// body or a query parameter).
    pub fn missing(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("missing", loc, "Field required", input, None);
    }

    /// `missing` for the field `loc` of `parent`, which is the input shown.
    pub fn missing_in(&mut self, loc: impl Into<Loc>, parent: &Map<String, Value>) {
        self.missing(loc, &Value::Object(parent.clone()));
    }

    pub fn string_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("string_type", loc, "Input should be a valid string", input, None);
    }

    pub fn bool_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("bool_type", loc, "Input should be a valid boolean", input, None);
    }

    /// A text or number that is no boolean.
    pub fn bool_parsing(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push(
            "bool_parsing",
            loc,
            "Input should be a valid boolean, unable to interpret input",
            input,
            None,
        );
    }

    pub fn int_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("int_type", loc, "Input should be a valid integer", input, None);
    }

    /// A text that is no integer.
    pub fn int_parsing(&mut self, loc: impl Into<Loc>, input: &Value) {
        let msg = "Input should be a valid integer, unable to parse string as an integer";
        self.push("int_parsing", loc, msg, input, None);
    }

    pub fn dict_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("dict_type", loc, "Input should be a valid dictionary", input, None);
    }

    pub fn list_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("list_type", loc, "Input should be a valid list", input, None);
    }

    /// `model_type` for a nested model named `class` (with `ctx.class_name`).
    pub fn model_type(&mut self, loc: impl Into<Loc>, input: &Value, class: &str) {
        let ctx = Some(json!({"class_name": class}));
        self.push("model_type", loc, model_type_message(class), input, ctx);
    }

    /// `model_type` for a nested model left unnamed (`… instance of the model`, no `ctx`).
    pub fn model_type_unnamed(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("model_type", loc, model_type_message("the model"), input, None);
    }

    /// A form that is not a JSON object.
    pub fn model_attributes_type(&mut self, loc: impl Into<Loc>, input: &Value) {
        let msg = "Input should be a valid dictionary or object to extract fields from";
        self.push("model_attributes_type", loc, msg, input, None);
    }

    /// A body that is not JSON; `error` is the parser's text.
    pub fn json_invalid(&mut self, loc: impl Into<Loc>, error: &str) {
        self.push("json_invalid", loc, "JSON decode error", &json!({}), Some(json!({"error": error})));
    }

    /// `value_error` for a `ValueError(text)` of a validator: `Value error, {text}` with
    /// `ctx.error` as FastAPI renders the exception (`{}`).
    pub fn value_error(&mut self, loc: impl Into<Loc>, input: &Value, text: &str) {
        self.push("value_error", loc, value_error_message(text), input, Some(json!({"error": {}})));
    }

    /// `value_error` whose `ctx.error` repeats `text` (the models forms' shape).
    pub fn value_error_citing(&mut self, loc: impl Into<Loc>, input: &Value, text: &str) {
        self.push("value_error", loc, value_error_message(text), input, Some(json!({"error": text})));
    }

    /// `value_error` with `msg` as given and no `ctx` (the admin configuration's shape).
    pub fn value_error_bare(&mut self, loc: impl Into<Loc>, input: &Value, msg: &str) {
        self.push("value_error", loc, msg, input, None);
    }

    /// `literal_error`: not one of `choices` (`ctx.expected` lists them).
    pub fn literal_error(&mut self, loc: impl Into<Loc>, input: &Value, choices: &[&str]) {
        let expected = expected(choices);
        let ctx = Some(json!({"expected": expected}));
        self.push("literal_error", loc, format!("Input should be {expected}"), input, ctx);
    }

    /// `literal_error` without `ctx` (the chat lists' sort parameters).
    pub fn literal_error_bare(&mut self, loc: impl Into<Loc>, input: &Value, choices: &[&str]) {
        self.push("literal_error", loc, format!("Input should be {}", expected(choices)), input, None);
    }

    /// `literal_error` that does not list the choices.
    pub fn literal_error_unlisted(&mut self, loc: impl Into<Loc>, input: &Value) {
        self.push("literal_error", loc, "Input should be one of the allowed values", input, None);
    }

    pub fn pattern_mismatch(&mut self, loc: impl Into<Loc>, input: &Value, pattern: &str) {
        let ctx = Some(json!({"pattern": pattern}));
        self.push(
            "string_pattern_mismatch",
            loc,
            format!("String should match pattern '{pattern}'"),
            input,
            ctx,
        );
    }

    pub fn string_too_short(&mut self, loc: impl Into<Loc>, input: &Value, min: usize) {
        let msg = format!("String should have at least {min} character{}", plural(min));
        self.push("string_too_short", loc, msg, input, Some(json!({"min_length": min})));
    }

    pub fn string_too_long(&mut self, loc: impl Into<Loc>, input: &Value, max: usize) {
        let msg = format!("String should have at most {max} character{}", plural(max));
        self.push("string_too_long", loc, msg, input, Some(json!({"max_length": max})));
    }

    /// `too_short` for a collection (`field_type`: `Dictionary`, `List`) of `actual` items.
    pub fn too_short(
        &mut self,
        loc: impl Into<Loc>,
        input: &Value,
        field_type: &str,
        min: usize,
        actual: usize,
    ) {
        let msg = format!(
            "{field_type} should have at least {min} item{} after validation, not {actual}",
            plural(min)
        );
        let ctx = Some(json!({"field_type": field_type, "min_length": min, "actual_length": actual}));
        self.push("too_short", loc, msg, input, ctx);
    }

    /// `greater_than` (without `ctx`).
    pub fn greater_than(&mut self, loc: impl Into<Loc>, input: &Value, bound: i64) {
        self.push("greater_than", loc, format!("Input should be greater than {bound}"), input, None);
    }

    /// A text that is no `YYYY-MM-DD` date.
    pub fn date_parsing(&mut self, loc: impl Into<Loc>, input: &Value) {
        let msg = "Input should be a valid date or datetime, input is too short";
        self.push("date_from_datetime_parsing", loc, msg, input, None);
    }
}

fn model_type_message(class: &str) -> String {
    format!("Input should be a valid dictionary or instance of {class}")
}

fn value_error_message(text: &str) -> String {
    format!("Value error, {text}")
}

/// `'a', 'b' or 'c'`, as pydantic lists literal choices.
fn expected(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(err: AppError) -> Value {
        err.body()["detail"].clone()
    }

    #[test]
    fn locations_are_prefixed_with_the_source_once() {
        let mut f = Fields::body();
        f.missing_in("chat", &Map::new());
        f.dict_type(Loc::from("chats").at(0).at("meta"), &json!(1));
        let mut q = Fields::query();
        q.int_parsing("page", &json!("x"));
        f.absorb(q);
        let d = detail(f.finish().expect_err("errors"));
        assert_eq!(
            d[0],
            json!({"type": "missing", "loc": ["body", "chat"], "msg": "Field required", "input": {}})
        );
        assert_eq!(d[1]["loc"], json!(["body", "chats", 0, "meta"]));
        assert_eq!(d[2]["loc"], json!(["query", "page"]));
        assert!(Fields::query().finish().is_ok());
        let arg = Fields::error(Source::Argument, |f| f.dict_type("chat", &json!(1)));
        assert_eq!(detail(arg)[0]["loc"], json!(["chat"]));
    }

    #[test]
    fn texts_follow_pydantic() {
        let err = Fields::error(Source::Body, |f| {
            f.literal_error("role", &json!("root"), &["pending", "user", "admin"]);
            f.literal_error_bare("display", &json!("x"), &["menu", "slider"]);
            f.string_too_short("voice", &json!(""), 1);
            f.string_too_long("q", &json!("…"), 1000);
            f.too_short("options", &json!({}), "Dictionary", 1, 0);
            f.value_error(Loc::root(), &json!("x"), "nope");
            f.value_error_citing(Loc::root(), &json!("x"), "nope");
            f.model_type("meta", &json!(1), "ModelMeta");
            f.model_type_unnamed("chats", &json!(1));
        });
        let d = detail(err);
        assert_eq!(d[0]["msg"], "Input should be 'pending', 'user' or 'admin'");
        assert_eq!(d[0]["ctx"], json!({"expected": "'pending', 'user' or 'admin'"}));
        assert_eq!(d[1]["msg"], "Input should be 'menu' or 'slider'");
        assert!(d[1].get("ctx").is_none());
        assert_eq!(d[2]["msg"], "String should have at least 1 character");
        assert_eq!(d[3]["msg"], "String should have at most 1000 characters");
        assert_eq!(d[4]["msg"], "Dictionary should have at least 1 item after validation, not 0");
        assert_eq!(d[5]["loc"], json!(["body"]));
        assert_eq!(d[5]["msg"], "Value error, nope");
        assert_eq!(d[5]["ctx"], json!({"error": {}}));
        assert_eq!(d[6]["ctx"], json!({"error": "nope"}));
        assert_eq!(d[7]["msg"], "Input should be a valid dictionary or instance of ModelMeta");
        assert_eq!(d[8]["msg"], "Input should be a valid dictionary or instance of the model");
        assert!(d[8].get("ctx").is_none());
    }

    #[test]
    fn full_locations_split_into_source_and_rest() {
        assert_eq!(Source::split(&["query", "text"]), (Source::Query, &["text"][..]));
        assert_eq!(Source::split(&["body", "a", "b"]), (Source::Body, &["a", "b"][..]));
    }
}
