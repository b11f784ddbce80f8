//! Banners (`GET/POST /configs/banners`, stored as `ui.banners`): the form of a banner and the
//! two use cases.

use serde_json::{Map, Value, json};

use super::view::BannerView;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Loc, Source};
use crate::store;

/// Config key of the stored banners.
const BANNERS_KEY: &str = "ui.banners";

/// `SetBannersForm`: `{"banners": [BannerModel, …]}`.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
#[schema(as = SetBannersForm)]
pub struct BannersForm {
    #[schema(value_type = Vec<BannerView>)]
    pub banners: Vec<BannerView>,
}

impl BannersForm {
    pub fn from_json(body: &Value) -> AppResult<BannersForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let mut banners = Vec::new();
        match map.get("banners") {
            None => c.missing_in("banners", map),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let at = Loc::from(&[json!("banners"), json!(i)]);
                    match item.as_object() {
                        Some(m) => banners.extend(banner(&mut c, m, &at)),
                        None => c.model_type(&at, item, "BannerModel"),
                    }
                }
            }
            Some(other) => c.list_type("banners", other),
        }
        c.finish()?;
        Ok(BannersForm { banners })
    }
}

/// One `BannerModel` at `at`; problems go to `c`.
fn banner(c: &mut Fields, map: &Map<String, Value>, at: &Loc) -> Option<BannerView> {
    let before = c.count();
    let i18n = match map.get("i18n") {
        None | Some(Value::Null) => None,
        Some(v) => check_i18n(c, v, &at.at("i18n")),
    };
    let id = c.string(map, at, "id");
    let kind = c.string(map, at, "type");
    let title = c.opt_string(map, at, "title");
    let content = c.string(map, at, "content");
    let dismissible = match map.get("dismissible") {
        None => {
            c.missing_in(at.at("dismissible"), map);
            None
        }
        Some(v) => c.lax_bool(v, at.at("dismissible")),
    };
    let timestamp = match map.get("timestamp") {
        None => {
            c.missing_in(at.at("timestamp"), map);
            None
        }
        // pydantic's lax `int`: digits in a string count.
        Some(Value::String(s)) => {
            let n = s.trim().parse::<i64>().ok();
            if n.is_none() {
                c.int_parsing(at.at("timestamp"), &json!(s));
            }
            n
        }
        Some(v) => {
            if v.as_i64().is_none() {
                c.int_type(at.at("timestamp"), v);
            }
            v.as_i64()
        }
    };
    if c.count() > before {
        return None;
    }
    Some(BannerView {
        i18n,
        id: id?,
        kind: kind?,
        title,
        content: content?,
        dismissible: dismissible?,
        timestamp: timestamp?,
    })
}

/// `dict[str, dict[str, str]]`.
fn check_i18n(c: &mut Fields, v: &Value, at: &Loc) -> Option<Value> {
    let Some(langs) = v.as_object() else {
        c.dict_type(at, v);
        return None;
    };
    let before = c.count();
    for (lang, fields) in langs {
        match fields.as_object() {
            None => c.dict_type(at.at(lang.as_str()), fields),
            Some(fields) => {
                for (name, text) in fields {
                    if !text.is_string() {
                        c.string_type(at.at(lang.as_str()).at(name.as_str()), text);
                    }
                }
            }
        }
    }
    (c.count() == before).then(|| v.clone())
}

/// `GET /configs/banners` (verified): the stored banners (`[]` until an admin sets some);
/// stored entries that are not banners are left out.
pub async fn banners(app: &App, caller: &Caller) -> AppResult<Vec<BannerView>> {
    caller.require_verified()?;
    let settings = Settings::load(&app.db).await?;
    let Some(items) = settings.get(BANNERS_KEY).and_then(Value::as_array) else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut c = Fields::body();
        match item.as_object().and_then(|m| banner(&mut c, m, &Loc::root())) {
            Some(b) => out.push(b),
            None => tracing::warn!("a stored banner is not a banner; left out"),
        }
    }
    Ok(out)
}

/// `POST /configs/banners` (admin): replaces the banners; answers them as stored.
pub async fn set_banners(app: &App, caller: &Caller, form: BannersForm) -> AppResult<Vec<BannerView>> {
    caller.require_admin()?;
    let value = serde_json::to_value(&form.banners).map_err(AppError::internal)?;
    store::settings::set(&app.db, BANNERS_KEY, &value, store::now()).await?;
    app.db.settings_changed();
    banners(app, caller).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_are_checked_field_by_field() {
        let ok = json!({"banners": [{"id": "b", "type": "info", "content": "Hi", "dismissible": "yes",
                                      "timestamp": 5, "i18n": {"de": {"content": "Hallo"}}}]});
        let f = BannersForm::from_json(&ok).expect("valid");
        assert_eq!(f.banners[0].title, None);
        assert!(f.banners[0].dismissible);
        let bad = json!({"banners": [{"id": 1, "type": "info", "content": "x", "timestamp": "t",
                                       "i18n": {"de": {"content": 3}}}, "x"]});
        let e = BannersForm::from_json(&bad).expect_err("422");
        let got: Vec<(String, Value)> =
            e.field_errors().iter().map(|f| (f.kind.to_string(), json!(f.loc))).collect();
        assert_eq!(
            got,
            [
                ("string_type".into(), json!(["body", "banners", 0, "i18n", "de", "content"])),
                ("string_type".into(), json!(["body", "banners", 0, "id"])),
                ("missing".into(), json!(["body", "banners", 0, "dismissible"])),
                ("int_parsing".into(), json!(["body", "banners", 0, "timestamp"])),
                ("model_type".into(), json!(["body", "banners", 1])),
            ]
        );
        assert_eq!(BannersForm::from_json(&json!({})).expect_err("422").field_errors()[0].kind, "missing");
    }
}
