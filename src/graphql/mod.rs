//! The GraphQL interface (`POST /graphql`, `GET /graphql?query=`): one schema over the service
//! layer, with the REST `Caller`, per-request dataloaders, depth/complexity/size/batch limits.

pub mod cache;
pub mod chats_more;
pub mod connections;
pub mod error;
pub mod folders;
pub mod groups;
pub mod limits;
pub mod loaders;
pub mod models_history;
pub mod mutation;
pub mod playground;
pub mod query;
pub mod send;
pub mod subscription;
pub mod types;
mod ws;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensions, MergedObject, Request, Schema};
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::GraphqlLimits;
use crate::error::{AppError, ErrorCode};
use crate::http::extract::{Params, read_json};

pub type DuetSchema = Schema<Query, Mutation, subscription::Subscription>;

/// Every query field: one object per resource, merged.
#[derive(MergedObject, Default)]
pub struct Query(
    query::CoreQuery,
    groups::GroupQuery,
    models_history::ModelHistoryQuery,
    folders::FolderQuery,
    chats_more::ChatMoreQuery,
    connections::ConnectionQuery,
);

/// Every mutation: one object per resource, merged.
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::CoreMutation,
    groups::GroupMutation,
    models_history::ModelHistoryMutation,
    folders::FolderMutation,
    chats_more::ChatMoreMutation,
    connections::ConnectionMutation,
    send::SendMutation,
);

/// The schema with `limits` applied (also used to export the SDL).
pub fn schema(limits: &GraphqlLimits) -> DuetSchema {
    // Depth is measured by `limits::check_document` (which leaves introspection out of it);
    // the cost of list fields comes from their `complexity` attributes.
    cache::schema_with_twin(|| {
        let builder = Schema::build(Query::default(), Mutation::default(), subscription::Subscription)
            .limit_complexity(limits.max_complexity);
        if limits.introspection { builder } else { builder.disable_introspection() }
    })
}

/// The schema in SDL (`duet export-schema`, `schema/schema.graphql`).
pub fn sdl() -> String {
    let limits = GraphqlLimits {
        max_depth: usize::MAX,
        max_complexity: usize::MAX,
        max_query_bytes: usize::MAX,
        max_nesting: crate::config::MAX_GRAPHQL_NESTING,
        max_batch: usize::MAX,
        introspection: true,
        playground: false,
    };
    schema(&limits).sdl()
}

/// `/graphql` and the playground, with the schema built once for `limits`.
pub fn router(limits: &GraphqlLimits) -> Router<AppState> {
    let schema = Arc::new(schema(limits));
    Router::new()
        .route("/graphql", get(ws::get).post(post_graphql))
        .layer(Extension(schema))
        .layer(Extension(ws::Sockets::default()))
        .merge(playground::router())
}

/// A GraphQL error answer (`{"errors": [...]}`) with an HTTP status.
fn error_response(status: StatusCode, err: &AppError) -> Response {
    let e = err.extend();
    let body = json!({"errors": [{"message": e.message, "extensions": e.extensions}]});
    (status, axum::Json(body)).into_response()
}

fn request_error(text: impl Into<String>) -> AppError {
    AppError::with_text(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, text.into())
}

/// Attaches the caller, the state and fresh dataloaders to one operation.
fn prepare(state: &AppState, caller: &Caller, request: Request) -> Request {
    loaders::attach(request.data(state.clone()).data(caller.clone()), state, caller)
}

/// An operation that passed the limits, its document parsed once.
struct Admitted {
    request: Request,
    password_ops: u64,
    /// Whether the operation that runs is a mutation.
    mutation: bool,
}

/// Checks one operation against the limits, in order: size and bracket nesting of the text (before
/// anything recursive reads it), then the parsed document (`limits::check_document`). A document
/// that does not parse goes on to async-graphql, which answers the syntax error.
///
/// The text may come as a persisted query's hash alone (`cache::resolve_persisted`); the document
/// is parsed once per text (`cache::documents`), the limits run on every request.
fn admit(limits: &GraphqlLimits, mut request: Request) -> Result<Admitted, AppError> {
    let persisted = cache::resolve_persisted(cache::documents(), &mut request)?;
    limits::check_text(limits, &request.query)?;
    let Some(doc) = cache::documents().parsed(&request.query) else {
        return Ok(Admitted { request, password_ops: 0, mutation: false });
    };
    let inspection =
        limits::check_document(limits, &doc, &request.variables, request.operation_name.as_deref())?;
    let mutation = doc.operations.iter().any(|(name, op)| {
        op.node.ty == OperationType::Mutation
            && request.operation_name.as_deref().is_none_or(|wanted| name.map(|n| n.as_str()) == Some(wanted))
    });
    cache::register(cache::documents(), persisted, &request.query);
    request.set_parsed_query(async_graphql::parser::types::ExecutableDocument::clone(&doc));
    Ok(Admitted { request, password_ops: inspection.password_ops, mutation })
}

/// Admits every operation of a request; at most one password-hashing mutation in all of them.
fn admit_all(limits: &GraphqlLimits, batch: BatchRequest) -> Result<(BatchRequest, bool), AppError> {
    let (batch, admitted) = match batch {
        BatchRequest::Single(r) => {
            let a = admit(limits, r)?;
            let mutation = a.mutation;
            limits::check_password_ops(a.password_ops)?;
            (BatchRequest::Single(a.request), mutation)
        }
        BatchRequest::Batch(rs) => {
            let mut out = Vec::with_capacity(rs.len());
            let (mut ops, mut mutation) = (0u64, false);
            for r in rs {
                let a = admit(limits, r)?;
                ops = ops.saturating_add(a.password_ops);
                mutation |= a.mutation;
                out.push(a.request);
            }
            limits::check_password_ops(ops)?;
            (BatchRequest::Batch(out), mutation)
        }
    };
    Ok((batch, admitted))
}

/// Whether a `Content-Type` names JSON as the GraphQL-over-HTTP spec allows for requests.
fn is_json_request(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "application/graphql-response+json"
}

async fn execute(schema: &DuetSchema, state: &AppState, caller: &Caller, batch: BatchRequest) -> Response {
    let response = match batch {
        BatchRequest::Single(r) => {
            BatchResponse::Single(cache::execute(schema, prepare(state, caller, r)).await)
        }
        BatchRequest::Batch(rs) => {
            let mut out = Vec::with_capacity(rs.len());
            for r in rs {
                out.push(cache::execute(schema, prepare(state, caller, r)).await);
            }
            BatchResponse::Batch(out)
        }
    };
    axum::Json(response).into_response()
}

/// `POST /graphql`: one operation, or a JSON array of operations answered in order.
async fn post_graphql(
    State(state): State<AppState>,
    Extension(schema): Extension<Arc<DuetSchema>>,
    req: axum::extract::Request,
) -> Response {
    let (mut parts, body) = req.into_parts();
    if !is_json_request(&parts.headers) {
        let err = AppError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType);
        return error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, &err);
    }
    let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await;
    let req = axum::extract::Request::from_parts(parts, body);
    let limits = &state.config.graphql;
    let value = match read_json(req, state.config.request_body_limit).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => return error_response(e.status, &e),
        Err(_) => {
            return error_response(StatusCode::BAD_REQUEST, &request_error("The body is not valid JSON."));
        }
    };
    if let Value::Array(items) = &value {
        if items.is_empty() {
            return error_response(StatusCode::BAD_REQUEST, &request_error("The batch is empty."));
        }
        if items.len() > limits.max_batch {
            let text = format!(
                "The batch has {} operations; the limit is {} (GRAPHQL_MAX_BATCH).",
                items.len(),
                limits.max_batch
            );
            return error_response(StatusCode::BAD_REQUEST, &request_error(text));
        }
    }
    let batch: BatchRequest = match serde_json::from_value(value) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &request_error(format!("Invalid GraphQL request: {e}")),
            );
        }
    };
    match admit_all(limits, batch) {
        Ok((batch, _)) => execute(&schema, &state, &caller, batch).await,
        Err(e) => error_response(e.status, &e),
    }
}

/// `GET /graphql?query=…[&variables=…][&operationName=…]`: queries only, never mutations.
/// A browser navigating to it (no `query`, `Accept: text/html`) gets the playground.
async fn get_graphql(
    State(state): State<AppState>,
    Extension(schema): Extension<Arc<DuetSchema>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Response {
    let Some(query) = params.text("query") else {
        if playground::wants_page(&headers) {
            return playground::page_response(&state);
        }
        return error_response(
            StatusCode::BAD_REQUEST,
            &request_error("Missing `query` parameter; send the operation with POST or as `?query=`."),
        );
    };
    let mut request = Request::new(query);
    if let Some(name) = params.text("operationName") {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.text("variables") {
        match serde_json::from_str::<Value>(&vars) {
            Ok(v) => request = request.variables(async_graphql::Variables::from_json(v)),
            Err(_) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &request_error("`variables` is not valid JSON."),
                );
            }
        }
    }
    match admit_all(&state.config.graphql, BatchRequest::Single(request)) {
        Ok((_, true)) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &request_error("Mutations are only accepted with POST."),
        ),
        Ok((batch, false)) => execute(&schema, &state, &caller, batch).await,
        Err(e) => error_response(e.status, &e),
    }
}
