//! Validation of a form's `params` (`ModelParams`): any keys, plus the `model_controls` rules.

use serde_json::{Map, Value, json};

use super::check::loc;
use crate::service::form::Fields;

const CONTROL_KEY_PATTERN: &str = r"^(?!(?:constructor|prototype)\Z)[a-zA-Z][a-zA-Z0-9_-]*\Z";
const LABEL_PATTERN: &str = r"\S";

fn control_key_ok(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && key != "constructor"
        && key != "prototype"
}

/// `ModelParams`: any keys, plus validated `model_controls`.
pub(super) fn check_params(c: &mut Fields, value: &Value, at: &[Value]) -> Option<Map<String, Value>> {
    let Some(input) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelParams");
        return None;
    };
    let before = c.count();
    let mut out = Map::new();
    if let Some(controls) = input.get("model_controls") {
        let at = loc(at, &[json!("model_controls")]);
        match controls {
            Value::Object(map) => {
                let mut checked = Map::new();
                for (key, control) in map {
                    if !control_key_ok(key) {
                        c.pattern_mismatch(
                            loc(&at, &[json!(key), json!("[key]")]),
                            &json!(key),
                            CONTROL_KEY_PATTERN,
                        );
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
    (c.count() == before).then_some(out)
}

/// One `ModelControl`, dumped as the reference stores it (`display` omitted when `menu`,
/// `description` and `default` omitted when null).
fn check_control(c: &mut Fields, value: &Value, at: &[Value]) -> Option<Value> {
    let Some(map) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelControl");
        return None;
    };
    let before = c.count();
    let display = match map.get("display") {
        None => "menu".to_string(),
        Some(Value::String(s)) if s == "menu" || s == "slider" => s.clone(),
        Some(other) => {
            c.literal_error(loc(at, &[json!("display")]), other, &["menu", "slider"]);
            String::new()
        }
    };
    let label = c.string(map, at, "label");
    if let Some(l) = &label
        && l.trim().is_empty()
    {
        c.pattern_mismatch(loc(at, &[json!("label")]), &json!(l), LABEL_PATTERN);
    }
    let description = c.opt_string(map, at, "description");
    let default = c.opt_string(map, at, "default");
    let mut options = Map::new();
    match map.get("options") {
        None => c.missing_in(loc(at, &[json!("options")]), map),
        Some(Value::Object(opts)) => {
            for (key, option) in opts {
                let oat = loc(at, &[json!("options"), json!(key)]);
                if !control_key_ok(key) {
                    c.pattern_mismatch(loc(&oat, &[json!("[key]")]), &json!(key), CONTROL_KEY_PATTERN);
                }
                let Some(o) = option.as_object() else {
                    c.model_type(oat, option, "ModelControlOption");
                    continue;
                };
                let olabel = c.string(o, &oat, "label");
                if let Some(l) = &olabel
                    && l.trim().is_empty()
                {
                    c.pattern_mismatch(loc(&oat, &[json!("label")]), &json!(l), LABEL_PATTERN);
                }
                let oparams = match o.get("params") {
                    None => {
                        c.missing_in(loc(&oat, &[json!("params")]), o);
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
                c.too_short(loc(at, &[json!("options")]), &json!({}), "Dictionary", 1, 0);
            }
        }
        Some(other) => c.dict_type(loc(at, &[json!("options")]), other),
    }
    if c.count() != before {
        return None;
    }
    if display == "slider" && options.len() < 2 {
        c.value_error_citing(at.to_vec(), value, "A slider needs at least two options.");
        return None;
    }
    if let Some(d) = &default
        && !options.contains_key(d)
    {
        c.value_error_citing(at.to_vec(), value, "Default must name an approved option.");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::models::ModelForm;

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
}
