//! The OpenAPI 3.1 document of every REST route, generated from the handlers' `#[utoipa::path]`
//! annotations, the services' forms and views they name (request and answer bodies), and the
//! shared shapes below. Served at `GET /openapi.json`; `schema/openapi.json` is the same text.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{auths, chats, models, system, users};
use crate::app::AppState;

/// Paths whose route also answers with a trailing slash (the reference's router roots).
pub const SLASH_ALIASES: [&str; 6] = [
    "/api/v1/auths",
    "/api/v1/users",
    "/api/v1/chats",
    "/api/v1/tools",
    "/api/v1/functions",
    "/api/v1/skills",
];

/// `GET` routes served by the handler of another path: (alias, documented path).
pub const GET_ALIASES: [(&str, &str); 2] =
    [("/api/v1/chats/list", "/api/v1/chats"), ("/api/v1/models", "/api/models")];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "duet",
        description = "An Open WebUI-compatible API server: the REST routes of Open WebUI 0.12.4's \
                       auths, users, chats and models routers, and its service routes."
    ),
    paths(
        system::health, system::health_db, system::version, system::config,
        auths::session_user, auths::signin, auths::signup, auths::signout, auths::update_profile,
        auths::update_timezone, auths::update_password, auths::add_user, auths::admin_details,
        auths::get_admin_config, auths::set_admin_config, auths::get_api_key, auths::create_api_key,
        auths::delete_api_key,
        users::list, users::default_permissions, users::set_default_permissions, users::get_user,
        users::delete_user, users::update_user, users::all, users::search, users::usage,
        users::default_permissions_defaults, users::own_settings, users::update_settings, users::own_status,
        users::update_status, users::own_info, users::update_info, users::own_variables,
        users::update_variables, users::user_info, users::user_active, users::oauth_sessions,
        users::profile_image, users::revoke_sessions, users::preview,
        chats::list, chats::delete_all, chats::create, chats::import, chats::search,
        chats::pinned, chats::export, chats::all_archived, chats::user_tags, chats::all_db, chats::archived,
        chats::archived_count, chats::archive_all, chats::unarchive_all, chats::unshare_all,
        chats::get_share, chats::shared_list, chats::chats_by_tag, chats::list_for_user, chats::get_chat,
        chats::update, chats::delete_chat, chats::is_pinned, chats::pin, chats::archive, chats::share,
        chats::unshare, chats::clone, chats::clone_shared, chats::chat_tags, chats::add_tag,
        chats::remove_tag, chats::update_message, chats::delete_message,
        super::chats_more::share_access, super::chats_more::update_share_access,
        super::chats_more::update_params, super::chats_more::fork, super::chats_more::compact,
        super::chats_more::message_event, super::chats_more::get_config, super::chats_more::set_config,
        super::chats_more::usage, super::chats_more::export_stats, super::chats_more::export_chat_stats,
        models::chat_models, models::upstream_models, models::list, models::all,
        models::base, models::base_tags, models::tags, models::create, models::export, models::import,
        models::get_model, models::update, models::delete_model, models::toggle, models::update_access,
        models::delete_all, models::sync, models::history, models::history_entry,
        models::delete_history_entry, models::restore_version, models::profile_image,
        super::groups::list, super::groups::list_bare, super::groups::create, super::groups::get_group,
        super::groups::info, super::groups::export, super::groups::users, super::groups::update,
        super::groups::add_users, super::groups::remove_users, super::groups::delete_group,
        super::groups::preview, super::groups::members, super::groups::user_groups,
        super::groups::user_permissions, super::groups::groups_of_user,
        super::completions::chat_completion, super::completions::chat_completion_v1,
        super::providers::openai_config, super::providers::update_openai_config,
        super::providers::ollama_config, super::providers::update_ollama_config,
        super::providers::openai_models, super::providers::openai_models_of, super::providers::openai_chat,
        super::providers::openai_chat_v1, super::providers::ollama_tags, super::providers::ollama_tags_of,
        super::providers::ollama_chat, super::providers::ollama_chat_on,
        super::folders::list, super::folders::list_bare, super::folders::create, super::folders::create_bare,
        super::folders::shared, super::folders::get_folder, super::folders::update,
        super::folders::update_parent, super::folders::update_expanded, super::folders::update_access,
        super::folders::shared_chats, super::folders::mark_folder_read, super::folders::delete_folder,
        super::folders::mark_chats_read, super::folders::mark_chat_unread, super::folders::folder_chats,
        super::folders::folder_chat_list, super::folders::move_chat,
        super::webapp::banners, super::webapp::set_banners, super::webapp::tools, super::webapp::functions,
        super::webapp::skills, super::webapp::changelog, super::webapp::chat_tasks, super::webapp::stop_task,
        super::webapp::usage, super::webapp::stop_chat_tasks, super::webapp::all_tasks,
        super::channels::list,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    tags(
        (name = "system", description = "Health, version and public configuration"),
        (name = "auths", description = "Sign-in, sign-up, sessions, profile and API keys"),
        (name = "users", description = "User administration and default permissions"),
        (name = "chats", description = "Chats, shares, tags and messages"),
        (name = "models", description = "Model presets, access grants and the chat model list"),
        (name = "completions", description = "Chat completions through the models' providers, streamed and saved"),
        (name = "providers", description = "The provider routers under /openai and /ollama: connection settings (admin), the providers' model lists and completions"),
        (name = "folders", description = "Chat folders: the tree, sharing, read state"),
        (name = "web app", description = "What the reference's web app loads: banners, tools, functions, skills, changelog, tasks, usage"),
    )
)]
struct ApiDoc;

/// The whole document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a trailing newline (the text of `schema/openapi.json`).
pub fn json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// `GET /openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> Response {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = TEXT.get_or_init(json).clone();
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// What every operation shares: the security schemes, the error answers, and the trailing-slash
/// aliases of the router roots.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or sk- API key")
                    .description(Some(
                        "A session token from sign-in/sign-up, or an API key (`sk-…`) when API keys \
                         are enabled",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "token",
                "The session token cookie set by sign-in and sign-up",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An API key (`sk-…`) when API keys are enabled",
            ))),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))),
                )
                .build()
        };
        let mut aliases = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in operations(item) {
                // Handler names repeat across routers: the id is `<tag>_<handler>`.
                if let (Some(id), Some(tag)) =
                    (&mut op.operation_id, op.tags.as_ref().and_then(|t| t.first()))
                {
                    *id = format!("{tag}_{id}");
                }
                op.responses.responses.entry("4XX".into()).or_insert_with(|| {
                    RefOr::T(error(
                        "A client error: `{\"detail\": text}`, or for 422 FastAPI's list of field errors",
                    ))
                });
                op.responses.responses.entry("5XX".into()).or_insert_with(|| {
                    RefOr::T(error("A server error or an unavailable database: `{\"detail\": text}`"))
                });
            }
            if SLASH_ALIASES.contains(&path.as_str()) {
                aliases.push((format!("{path}/"), renamed(item.clone(), "_slash")));
            }
            for (alias, source) in GET_ALIASES {
                if path == source {
                    let mut get_only = PathItem::default();
                    get_only.get = item.get.clone();
                    aliases.push((alias.to_string(), renamed(get_only, "_alias")));
                }
            }
        }
        for (path, item) in aliases {
            doc.paths.paths.insert(path, item);
        }
    }
}

/// The item with every operation id suffixed (ids are unique in a document).
fn renamed(mut item: PathItem, suffix: &str) -> PathItem {
    for op in operations(&mut item) {
        if let Some(id) = &mut op.operation_id {
            id.push_str(suffix);
        }
    }
    item
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch]
        .into_iter()
        .filter_map(|o| o.as_mut())
}

// ---- shared shapes -------------------------------------------------------------------------

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: ErrorDetail,
}

/// A text, or (422) FastAPI's list of field errors.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ErrorDetail {
    Text(String),
    Fields(Vec<FieldErrorBody>),
}

/// One field error, as pydantic reports it.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `body`/`query`, then field names and list indexes.
    #[schema(value_type = Vec<Value>)]
    pub loc: Vec<Value>,
    pub msg: String,
    #[schema(value_type = Value)]
    pub input: Value,
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<Value>,
}

/// `{"status": true}`.
#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    pub status: bool,
}

/// `GET /api/version`.
#[derive(Serialize, ToSchema)]
pub struct VersionBody {
    pub version: String,
    pub deployment_id: Option<String>,
}

// ---- users ---------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct UserUpdateRequest {
    pub role: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub profile_image_url: Option<String>,
    pub password: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Request bodies are the services' forms, named as the reference's pydantic forms.
    #[test]
    fn request_bodies_are_the_service_forms() {
        let doc = serde_json::to_value(super::document()).expect("document");
        let body = |method: &str, path: &str| {
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map(str::to_string)
        };
        for (method, path, form) in [
            ("post", "/api/v1/auths/signin", "SigninForm"),
            ("post", "/api/v1/auths/signup", "SignupForm"),
            ("post", "/api/v1/auths/add", "AddUserForm"),
            ("post", "/api/v1/auths/update/profile", "UpdateProfileForm"),
            ("post", "/api/v1/auths/update/timezone", "UpdateTimezoneForm"),
            ("post", "/api/v1/auths/update/password", "UpdatePasswordForm"),
            ("post", "/api/v1/chats/new", "ChatForm"),
            ("post", "/api/v1/chats/{id}", "ChatForm"),
            ("post", "/api/v1/chats/import", "ChatsImportForm"),
            ("post", "/api/v1/chats/tags", "TagFilterForm"),
            ("post", "/api/v1/chats/{id}/tags", "TagForm"),
            ("delete", "/api/v1/chats/{id}/tags", "TagForm"),
            ("post", "/api/v1/chats/{id}/clone", "CloneForm"),
            ("post", "/api/v1/chats/{id}/messages/{message_id}", "MessageForm"),
            ("post", "/api/v1/models/create", "ModelForm"),
            ("post", "/api/v1/models/model/update", "ModelForm"),
            ("post", "/api/v1/models/model/delete", "ModelIdForm"),
            ("post", "/api/v1/models/model/access/update", "ModelAccessGrantsForm"),
            ("post", "/api/v1/models/import", "ModelsImportForm"),
        ] {
            assert_eq!(body(method, path).as_deref(), Some(form), "{method} {path}");
            assert!(doc["components"]["schemas"][form].is_object(), "{form}");
        }
        let schemas = &doc["components"]["schemas"];
        let model = &schemas["ModelForm"];
        assert_eq!(model["required"], json!(["id", "name", "meta", "params"]));
        let fields: Vec<&String> = model["properties"].as_object().expect("properties").keys().collect();
        assert_eq!(
            fields,
            ["id", "base_model_id", "name", "meta", "params", "access_grants", "is_active", "commit_message"]
        );
        assert_eq!(model["properties"]["is_active"]["type"], "boolean");
        assert_eq!(
            model["properties"]["access_grants"]["items"]["$ref"],
            "#/components/schemas/AccessGrantForm"
        );
        let import = &schemas["ChatImportForm"];
        assert_eq!(import["required"], json!(["chat"]));
        assert_eq!(import["properties"]["folder_id"]["type"], json!(["string", "null"]));
        assert_eq!(import["properties"]["pinned"]["type"], json!(["boolean", "null"]));
        assert_eq!(
            schemas["ChatsImportForm"]["properties"]["chats"]["items"]["$ref"],
            "#/components/schemas/ChatImportForm"
        );
        assert_eq!(schemas["UpdateProfileForm"]["required"], json!(["profile_image_url", "name"]));
    }
}
