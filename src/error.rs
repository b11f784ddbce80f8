//! Error codes with their exact client-facing texts, and the one `AppError` every layer returns.
//!
//! REST renders an `AppError` as `{"detail": …}` with its status; GraphQL renders the same text as
//! `message` and `ErrorCode::name()` as `extensions.code`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// Every error a client can see. Texts of the reference's `ERROR_MESSAGES` are kept verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `Something went wrong :/` (the reference's `DEFAULT()`).
    Default,
    /// A completion for a model the caller cannot see or use (one text for both).
    ModelNotFound,
    /// A provider that could not be reached, or broke off before answering.
    ServerConnectionError,
    /// An error a provider answered with (its own text).
    UpstreamError,
    OpenAiDisabled,
    OllamaDisabled,
    /// A completion for a chat the caller may not write to.
    ChatContinuationNotAllowed,
    ChatNotFound,
    /// A turn's message ids are missing, repeated or already taken.
    InvalidMessageId,
    /// A turn's user message answers a message that was deleted.
    ParentMessageGone,
    /// A regenerated reply whose parent is not a user message.
    RegenerateUserMessagesOnly,
    /// A continued reply named by `assistant_message_id` and `message_ids` differently.
    InvalidResponseId,
    /// Model control choices not keyed by model, not an object, or no longer offered.
    InvalidModelControls,
    CreateUserError,
    DeleteUserError,
    EmailTaken,
    PasswordTooLong,
    InvalidToken,
    InvalidCred,
    InvalidEmailFormat,
    IncorrectPassword,
    Unauthorized,
    AccessProhibited,
    ActionProhibited,
    NotFound,
    ApiKeyNotFound,
    ApiKeyNotAllowed,
    ApiKeyCreationNotAllowed,
    CreateApiKeyError,
    RateLimitExceeded,
    InvalidPassword,
    /// No credential at all.
    NotAuthenticated,
    /// A decodable token that fails the session-stamp, type or revocation checks.
    TokenRevoked,
    /// The token's account is gone or inactive; also the `/auths` validation text.
    InvalidAuthRequest,
    HumanSessionRequired,
    AuthUnavailable,
    DatabaseUnavailable,
    /// Request-body or query validation failure (FastAPI's list shape outside `/auths`).
    ValidationError,
    PayloadTooLarge,
    MfaNotSupported,
    /// A write collided with existing data (unique constraint).
    Conflict,
    ModelIdTaken,
    ModelIdTooLong,
    /// Access grants for an audience the caller may not share with.
    SharingNotAllowed,
    /// An access grant names a user (or group) that does not exist.
    UnknownPrincipal,
    /// A file referenced by a model (background image, voice avatar) cannot be read.
    FileNotAccessible,
    /// The handler did not produce an answer within `REQUEST_TIMEOUT`.
    RequestTimeout,
    /// A GraphQL request with more than one sign-in, sign-up or password change.
    TooManyPasswordOperations,
    /// A GraphQL request naming a persisted query by a hash this server does not hold (the
    /// client sends the text along next time).
    PersistedQueryNotFound,
    /// A body that is not of the media type the route reads.
    UnsupportedMediaType,
    /// A chat title that is not a string.
    InvalidTitle,
    /// A tag named `None`.
    TagNameNone,
    /// A tag whose name is empty once normalised.
    TagNameEmpty,
    /// A message edit without `content`.
    NoMessageChanges,
    /// A folder name taken under the same parent.
    FolderExists,
    /// A folder moved into itself or below itself.
    FolderCycle,
    /// A model row that could not be updated.
    ModelUpdateFailed,
    /// A fork of a chat without messages.
    NothingToFork,
    /// A fork at a message whose parent chain loops.
    BranchCycle,
    /// A fork at a message the chat does not have.
    MessageNotFound,
    /// A chat whose stats cannot be computed.
    ChatStatsFailed,
    /// A compaction with no model named, used or listed.
    NoCompactionModel,
    /// A compaction that would need a model to write the summary (duet does not call one).
    CompactionUnavailable,
    /// A model history entry that does not exist (for that model).
    ModelVersionNotFound,
    /// Deleting the history entry a model is currently at.
    CurrentModelVersion,
    /// A model version names a base model, knowledge, tool, skill or function that cannot be used
    /// (the text names which).
    VersionDependencyUnavailable,
}

impl ErrorCode {
    /// The stable name clients branch on (`extensions.code` in GraphQL).
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Default => "DEFAULT",
            ModelNotFound => "MODEL_NOT_FOUND",
            ServerConnectionError => "SERVER_CONNECTION_ERROR",
            UpstreamError => "UPSTREAM_ERROR",
            OpenAiDisabled => "OPENAI_API_DISABLED",
            OllamaDisabled => "OLLAMA_API_DISABLED",
            ChatContinuationNotAllowed => "CHAT_CONTINUATION_NOT_ALLOWED",
            ChatNotFound => "CHAT_NOT_FOUND",
            InvalidMessageId => "INVALID_MESSAGE_ID",
            ParentMessageGone => "PARENT_MESSAGE_GONE",
            RegenerateUserMessagesOnly => "REGENERATE_USER_MESSAGES_ONLY",
            InvalidResponseId => "INVALID_RESPONSE_ID",
            InvalidModelControls => "INVALID_MODEL_CONTROLS",
            CreateUserError => "CREATE_USER_ERROR",
            DeleteUserError => "DELETE_USER_ERROR",
            EmailTaken => "EMAIL_TAKEN",
            PasswordTooLong => "PASSWORD_TOO_LONG",
            InvalidToken => "INVALID_TOKEN",
            InvalidCred => "INVALID_CRED",
            InvalidEmailFormat => "INVALID_EMAIL_FORMAT",
            IncorrectPassword => "INCORRECT_PASSWORD",
            Unauthorized => "UNAUTHORIZED",
            AccessProhibited => "ACCESS_PROHIBITED",
            ActionProhibited => "ACTION_PROHIBITED",
            NotFound => "NOT_FOUND",
            ApiKeyNotFound => "API_KEY_NOT_FOUND",
            ApiKeyNotAllowed => "API_KEY_NOT_ALLOWED",
            ApiKeyCreationNotAllowed => "API_KEY_CREATION_NOT_ALLOWED",
            CreateApiKeyError => "CREATE_API_KEY_ERROR",
            RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            InvalidPassword => "INVALID_PASSWORD",
            NotAuthenticated => "NOT_AUTHENTICATED",
            TokenRevoked => "TOKEN_REVOKED",
            InvalidAuthRequest => "INVALID_AUTH_REQUEST",
            HumanSessionRequired => "HUMAN_SESSION_REQUIRED",
            AuthUnavailable => "AUTH_UNAVAILABLE",
            DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            ValidationError => "VALIDATION_ERROR",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            MfaNotSupported => "MFA_NOT_SUPPORTED",
            Conflict => "CONFLICT",
            ModelIdTaken => "MODEL_ID_TAKEN",
            ModelIdTooLong => "MODEL_ID_TOO_LONG",
            SharingNotAllowed => "SHARING_NOT_ALLOWED",
            UnknownPrincipal => "UNKNOWN_PRINCIPAL",
            FileNotAccessible => "FILE_NOT_ACCESSIBLE",
            RequestTimeout => "REQUEST_TIMEOUT",
            TooManyPasswordOperations => "TOO_MANY_PASSWORD_OPERATIONS",
            PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            InvalidTitle => "INVALID_TITLE",
            TagNameNone => "TAG_NAME_NONE",
            TagNameEmpty => "TAG_NAME_EMPTY",
            NoMessageChanges => "NO_MESSAGE_CHANGES",
            FolderExists => "FOLDER_EXISTS",
            FolderCycle => "FOLDER_CYCLE",
            ModelUpdateFailed => "MODEL_UPDATE_FAILED",
            NothingToFork => "NOTHING_TO_FORK",
            BranchCycle => "BRANCH_CYCLE",
            MessageNotFound => "MESSAGE_NOT_FOUND",
            ChatStatsFailed => "CHAT_STATS_FAILED",
            NoCompactionModel => "NO_COMPACTION_MODEL",
            CompactionUnavailable => "COMPACTION_UNAVAILABLE",
            ModelVersionNotFound => "MODEL_VERSION_NOT_FOUND",
            CurrentModelVersion => "CURRENT_MODEL_VERSION",
            VersionDependencyUnavailable => "VERSION_DEPENDENCY_UNAVAILABLE",
        }
    }

    /// The exact `detail` text.
    pub fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Default => "Something went wrong :/",
            ModelNotFound => "Model not found",
            ServerConnectionError => "Open WebUI: Server Connection Error",
            UpstreamError => "Provider returned an error",
            OpenAiDisabled => "OpenAI API is disabled",
            OllamaDisabled => "The Ollama API is disabled. Please enable it to use this feature.",
            ChatContinuationNotAllowed => "Chat continuation is not allowed.",
            ChatNotFound => "Chat not found.",
            InvalidMessageId => "Message already exists or has an invalid ID.",
            ParentMessageGone => "Parent message no longer exists.",
            RegenerateUserMessagesOnly => "You can only regenerate replies to user messages.",
            InvalidResponseId => "Invalid response ID.",
            InvalidModelControls => "Model control options must be keyed by model.",
            CreateUserError => {
                "Oops! Something went wrong while creating your account. Please try again later. If the issue persists, contact support for assistance."
            }
            DeleteUserError => {
                "Oops! Something went wrong. We encountered an issue while trying to delete the user. Please give it another shot."
            }
            EmailTaken => {
                "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew."
            }
            PasswordTooLong => {
                "Uh-oh! The password you entered is too long. Please make sure your password is less than 72 bytes long."
            }
            InvalidToken => "Your session has expired or the token is invalid. Please sign in again.",
            InvalidCred => {
                "The email or password provided is incorrect. Please check for typos and try logging in again."
            }
            InvalidEmailFormat => {
                "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com)."
            }
            IncorrectPassword => "The password provided is incorrect. Please check for typos and try again.",
            Unauthorized => "401 Unauthorized",
            AccessProhibited => {
                "You do not have permission to access this resource. Please contact your administrator for assistance."
            }
            ActionProhibited => "The requested action has been restricted as a security measure.",
            NotFound => "We could not find what you're looking for :/",
            ApiKeyNotFound => {
                "Oops! It looks like there's a hiccup. The API key is missing. Please make sure to provide a valid API key to access this feature."
            }
            ApiKeyNotAllowed => "Use of API key is not enabled in the environment.",
            ApiKeyCreationNotAllowed => "API key creation is not allowed in the environment.",
            CreateApiKeyError => {
                "Oops! Something went wrong while creating your API key. Please try again later. If the issue persists, contact support for assistance."
            }
            RateLimitExceeded => "API rate limit exceeded",
            InvalidPassword => "The password does not meet the required validation criteria.",
            NotAuthenticated => "Not authenticated",
            TokenRevoked => "Invalid token",
            InvalidAuthRequest => "Invalid authentication request.",
            HumanSessionRequired => "A human session is required.",
            AuthUnavailable => "Authentication is temporarily unavailable.",
            DatabaseUnavailable => "The database is temporarily unavailable. Please try again later.",
            ValidationError => "The request is invalid.",
            PayloadTooLarge => "The request body is too large.",
            MfaNotSupported => "Multi-factor authentication is not supported by this server.",
            Conflict => "The request conflicts with data that already exists.",
            ModelIdTaken => {
                "Uh-oh! This model id is already registered. Please choose another model id string."
            }
            ModelIdTooLong => {
                "The model id is too long. Please make sure your model id is less than 256 characters long."
            }
            SharingNotAllowed => "You do not have permission to share with the requested audience",
            UnknownPrincipal => "An access grant names a user or group that does not exist.",
            FileNotAccessible => "Background image is not accessible.",
            RequestTimeout => "The request timed out. Please try again later.",
            TooManyPasswordOperations => {
                "A request may run at most one sign-in, sign-up or password change (aliases and batches included)."
            }
            PersistedQueryNotFound => "PersistedQueryNotFound",
            UnsupportedMediaType => "POST /graphql needs `Content-Type: application/json`.",
            InvalidTitle => "[ERROR: Invalid title]",
            TagNameNone => "[ERROR: Tag name cannot be 'None']",
            TagNameEmpty => "[ERROR: Tag name cannot be empty]",
            NoMessageChanges => "No message changes supplied",
            FolderExists => "[ERROR: Folder already exists]",
            FolderCycle => "[ERROR: Cannot move a folder into itself or one of its subfolders]",
            ModelUpdateFailed => "[ERROR: Error updating function]",
            NothingToFork => "chat has no messages to fork",
            BranchCycle => "message branch contains a cycle",
            MessageNotFound => "message not found",
            ChatStatsFailed => "Failed to process chat stats",
            NoCompactionModel => "No model found for context compaction.",
            CompactionUnavailable => {
                "Compacting this chat needs a model to write the summary, and this server does not call one for it yet."
            }
            ModelVersionNotFound => "Model version not found",
            CurrentModelVersion => "Cannot delete the current version",
            VersionDependencyUnavailable => "The base model is unavailable.",
        }
    }
}

/// One validation failure in FastAPI/pydantic's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

/// What the client is told.
#[derive(Debug, Clone)]
pub enum Detail {
    Text(Cow<'static, str>),
    Fields(Vec<FieldError>),
}

/// The error type of every service, store and handler function.
#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: Detail,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// What went wrong inside, for the log (`internal`); never sent to a client. Logged once,
    /// where the error is rendered (`log_cause`).
    cause: Option<Arc<str>>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: ErrorCode) -> Self {
        Self {
            status,
            code,
            detail: Detail::Text(Cow::Borrowed(code.message())),
            retry_after: None,
            cause: None,
        }
    }

    /// An error whose text is not the code's own (e.g. a configured password hint).
    pub fn with_text(status: StatusCode, code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self { status, code, detail: Detail::Text(text.into()), retry_after: None, cause: None }
    }

    /// A 400 with a text of its own (for services, which name no HTTP status).
    pub fn bad_request_with(code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self::with_text(StatusCode::BAD_REQUEST, code, text)
    }

    /// A 403 with a text of its own.
    pub fn forbidden_with(code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self::with_text(StatusCode::FORBIDDEN, code, text)
    }

    pub fn bad_request(code: ErrorCode) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    pub fn unauthorized(code: ErrorCode) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code)
    }
    pub fn forbidden(code: ErrorCode) -> Self {
        Self::new(StatusCode::FORBIDDEN, code)
    }
    pub fn not_found(code: ErrorCode) -> Self {
        Self::new(StatusCode::NOT_FOUND, code)
    }
    pub fn conflict(code: ErrorCode) -> Self {
        Self::new(StatusCode::CONFLICT, code)
    }
    /// 503 (a provider switched off).
    pub fn unavailable(code: ErrorCode) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code)
    }
    /// An error with a status of its own (a provider's, passed on) and a text of its own.
    pub fn with_status(status: u16, code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::with_text(status, code, text)
    }

    /// 422 with FastAPI's list of field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: ErrorCode::ValidationError,
            detail: Detail::Fields(errors),
            retry_after: None,
            cause: None,
        }
    }

    /// A failure the client cannot fix: 500 `Something went wrong :/`. The cause is kept for the
    /// log (written when the error is rendered), never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string().into()),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Default)
        }
    }

    /// What went wrong inside (`internal` errors), for logs and operators only.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    /// The text for an operator (command line, logs), never for a client: the message, and the
    /// cause of an internal error after it.
    pub fn report(&self) -> String {
        match &self.cause {
            Some(cause) => format!("{} ({cause})", self.message()),
            None => self.message(),
        }
    }

    /// Logs the cause of an internal error; the renderings (REST, GraphQL) call it once each
    /// time they answer with the error.
    pub fn log_cause(&self) {
        if let Some(cause) = &self.cause {
            tracing::error!(error = %cause, "internal error");
        }
    }

    /// A unique-constraint collision (`ErrorCode::Conflict`) becomes `instead()` (e.g. 400
    /// `EMAIL_TAKEN`); any other error stays as it is.
    pub fn on_conflict(self, instead: impl FnOnce() -> AppError) -> AppError {
        if self.code == ErrorCode::Conflict { instead() } else { self }
    }

    /// The field errors of a 422 (empty for an error with a text).
    pub fn field_errors(&self) -> &[FieldError] {
        match &self.detail {
            Detail::Fields(fields) => fields,
            Detail::Text(_) => &[],
        }
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimitExceeded)
        }
    }

    /// The text as one string (GraphQL `message`, logs).
    pub fn message(&self) -> String {
        match &self.detail {
            Detail::Text(t) => t.to_string(),
            Detail::Fields(fields) => fields
                .iter()
                .map(|f| {
                    let loc: Vec<String> = f
                        .loc
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    format!("{}: {}", loc.join("."), f.msg)
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// Whether this error came from the database being unreachable.
    pub fn is_unavailable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE
    }

    pub fn body(&self) -> Value {
        match &self.detail {
            Detail::Text(t) => json!({ "detail": t }),
            Detail::Fields(f) => json!({ "detail": f }),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code.name(), self.message())
    }
}

impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log_cause();
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::DatabaseUnavailable)
            }
            sqlx::Error::Database(db) if is_connection_error(db.code().as_deref()) => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::DatabaseUnavailable)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::new(StatusCode::CONFLICT, ErrorCode::Conflict)
            }
            sqlx::Error::Database(db) if is_unstorable_text(db.code().as_deref()) => {
                tracing::debug!(error = %err, "text the database cannot store");
                AppError::with_text(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, UNSTORABLE_TEXT)
            }
            _ => AppError::internal(err),
        }
    }
}

/// The answer when the database refuses a text (a NUL character reaching PostgreSQL).
pub const UNSTORABLE_TEXT: &str = "The request contains text the database cannot store (NUL characters).";

/// PostgreSQL SQLSTATE 22021 (`character_not_in_repertoire`: a NUL byte in text) and 22P05
/// (`untranslatable_character`: `\u0000` in `jsonb`).
fn is_unstorable_text(code: Option<&str>) -> bool {
    matches!(code, Some("22021" | "22P05"))
}

/// PostgreSQL SQLSTATE classes 08 (connection) and 57P (operator intervention: shutdown, restart).
fn is_connection_error(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_render_detail_and_status() {
        let err = AppError::unauthorized(ErrorCode::AccessProhibited);
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            err.body(),
            json!({"detail": "You do not have permission to access this resource. Please contact your administrator for assistance."})
        );
        assert_eq!(err.code.name(), "ACCESS_PROHIBITED");
    }

    #[test]
    fn field_errors_join_into_one_message() {
        let err = AppError::validation(vec![FieldError {
            kind: "missing",
            loc: vec![json!("body"), json!("chat")],
            msg: "Field required".into(),
            input: json!({}),
            ctx: None,
        }]);
        assert_eq!(err.message(), "body.chat: Field required");
        assert_eq!(err.body()["detail"][0]["type"], "missing");
    }

    #[test]
    fn an_internal_cause_is_kept_but_never_answered() {
        let err = AppError::internal("disk on fire");
        assert_eq!(err.cause(), Some("disk on fire"));
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.body(), json!({"detail": "Something went wrong :/"}));
        assert_eq!(err.message(), "Something went wrong :/");
        assert!(!err.to_string().contains("disk"));
        assert_eq!(err.report(), "Something went wrong :/ (disk on fire)");
        assert_eq!(AppError::bad_request(ErrorCode::NotFound).cause(), None);
    }

    #[test]
    fn only_conflicts_are_replaced() {
        let taken = || AppError::bad_request(ErrorCode::EmailTaken);
        let conflict = AppError::new(StatusCode::CONFLICT, ErrorCode::Conflict);
        assert_eq!(conflict.on_conflict(taken).code, ErrorCode::EmailTaken);
        assert_eq!(
            AppError::forbidden(ErrorCode::AccessProhibited).on_conflict(taken).code,
            ErrorCode::AccessProhibited
        );
    }
}
