//! The persisted admin configuration (`GET/POST /auths/admin/config`, `user.permissions`): typed
//! reads of a snapshot (`Settings`), start-up seeds, and the default permission tree. Which keys
//! exist is `fields`; how a posted form is checked is `form`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::auth::{Caller, Role};
use crate::config::{Config, SettingSeeds, parse_duration};
use crate::error::AppResult;
use crate::service::permissions::PermissionTree;
use crate::store::{self, Db};

mod fields;
mod form;

use fields::FIELDS;
pub use form::{admin_config, update_admin_config};

/// Config key of the stored default permission tree.
pub const PERMISSIONS_KEY: &str = "user.permissions";

/// The values every key starts with, from the environment (also: the keys an import carries over).
pub fn seed_values(s: &SettingSeeds) -> Vec<(&'static str, Value)> {
    let mut values: Vec<(&'static str, Value)> = FIELDS.iter().map(|f| (f.key, (f.seed)(s))).collect();
    values.push((PERMISSIONS_KEY, s.permissions.to_value()));
    values
}

/// Writes the environment's values for keys that have none yet; with
/// `ENABLE_PERSISTENT_CONFIG=false`, the environment overwrites stored values.
pub async fn init(db: &Db, config: &Config) -> AppResult<()> {
    let now = store::now();
    for (key, value) in seed_values(&config.seeds) {
        if config.enable_persistent_config {
            store::settings::seed(db, key, &value, now).await?;
        } else {
            store::settings::set(db, key, &value, now).await?;
        }
    }
    db.settings_changed();
    Ok(())
}

/// A snapshot of the stored configuration with typed reads.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: std::sync::Arc<HashMap<String, Value>>,
}

impl Settings {
    pub async fn load(db: &Db) -> AppResult<Settings> {
        Ok(Settings { values: store::settings::all_cached(db).await? })
    }

    pub fn from_values(values: HashMap<String, Value>) -> Self {
        Settings { values: std::sync::Arc::new(values) }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    fn bool(&self, key: &str, default: bool) -> bool {
        self.values.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    fn str(&self, key: &str) -> &str {
        self.values.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn enable_signup(&self) -> bool {
        self.bool("ui.enable_signup", true)
    }
    pub fn enable_login_form(&self) -> bool {
        self.bool("ui.enable_login_form", true)
    }
    pub fn enable_api_keys(&self) -> bool {
        self.bool("auth.enable_api_keys", false)
    }
    pub fn show_admin_details(&self) -> bool {
        self.bool("auth.admin.show", true)
    }
    pub fn admin_email(&self) -> Option<&str> {
        Some(self.str("auth.admin.email")).filter(|s| !s.is_empty())
    }
    pub fn api_key_endpoint_restrictions(&self) -> bool {
        self.bool("auth.api_key.endpoint_restrictions", false)
    }
    /// The comma-separated allow-list of paths for API keys.
    pub fn api_keys_allowed_endpoints(&self) -> Vec<String> {
        self.str("auth.api_key.allowed_endpoints")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
    pub fn default_user_role(&self) -> Role {
        Role::parse(self.str("ui.default_user_role")).unwrap_or(Role::Pending)
    }
    /// Token lifetime; `None` = tokens never expire.
    pub fn jwt_lifetime(&self) -> Option<Duration> {
        parse_duration(self.str("auth.jwt_expiry")).unwrap_or(Some(Duration::from_secs(28 * 86400)))
    }
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.bool(key, default)
    }
    pub fn text(&self, key: &str) -> &str {
        self.str(key)
    }
    /// The default permission tree (stored values over the built-in defaults).
    /// The default permissions of role `user` (built-in defaults filled in), computed once per
    /// read of the stored configuration.
    pub fn permissions(&self) -> std::sync::Arc<PermissionTree> {
        self.derived().0
    }

    /// `permissions()` as JSON text, for answers that embed it.
    pub fn permissions_json(&self) -> std::sync::Arc<serde_json::value::RawValue> {
        self.derived().1
    }

    fn derived(&self) -> (std::sync::Arc<PermissionTree>, std::sync::Arc<serde_json::value::RawValue>) {
        use serde_json::value::RawValue;
        use std::sync::{Arc, Mutex};
        type Memo = Option<(Arc<HashMap<String, Value>>, Arc<PermissionTree>, Arc<RawValue>)>;
        static MEMO: Mutex<Memo> = Mutex::new(None);
        let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((values, tree, json)) = memo.as_ref()
            && Arc::ptr_eq(values, &self.values)
        {
            return (tree.clone(), json.clone());
        }
        let tree =
            Arc::new(PermissionTree::filled(self.values.get(PERMISSIONS_KEY), &PermissionTree::builtin()));
        // A map of strings to JSON values always serialises to valid JSON.
        let text = serde_json::to_string(&tree.0).unwrap_or_else(|_| "{}".to_string());
        let json: Arc<RawValue> = match RawValue::from_string(text) {
            Ok(raw) => raw.into(),
            Err(_) => RawValue::NULL.to_owned().into(),
        };
        *memo = Some((self.values.clone(), tree.clone(), json.clone()));
        (tree, json)
    }

    /// The admin-config object (`GET /auths/admin/config`).
    pub fn admin_view(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for f in FIELDS {
            let value = self.values.get(f.key).cloned().unwrap_or(Value::Null);
            out.insert(f.name.to_string(), value);
        }
        out
    }
}

/// `GET /users/default/permissions`.
pub async fn default_permissions(db: &Db, caller: &Caller) -> AppResult<PermissionTree> {
    caller.require_admin()?;
    Ok(PermissionTree::clone(&Settings::load(db).await?.permissions()))
}

/// `POST /users/default/permissions`: validates and stores the whole tree.
pub async fn set_default_permissions(db: &Db, caller: &Caller, body: &Value) -> AppResult<PermissionTree> {
    caller.require_admin()?;
    let tree = PermissionTree::from_form(body)?;
    store::settings::set(db, PERMISSIONS_KEY, &tree.to_value(), store::now()).await?;
    db.settings_changed();
    Ok(tree)
}
