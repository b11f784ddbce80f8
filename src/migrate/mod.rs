//! Moving in: `duet copy` (a duet database from one backend to the other) and
//! `duet import-openwebui` (an Open WebUI 0.12 database into duet).
//!
//! These are tools over whole databases rather than use cases, so they sit beside the service
//! layer: they read and write tables generically from each database's own catalogue (`catalog`,
//! `read`, `write`) instead of through the per-table store functions, which would cost a
//! statement per row. What they share: connections and transactions (`conn`), values and their
//! backend-independent comparison (`value`), the target with its migrations, dry runs and record
//! of runs (`target`), the report (`report`) and progress bars (`progress`).

pub mod catalog;
pub mod conn;
pub mod copy;
pub mod openwebui;
pub mod progress;
pub mod read;
pub mod report;
pub mod target;
pub mod value;
pub mod write;

pub use copy::CopyOptions;
pub use openwebui::ImportOptions;
pub use report::Report;

/// Rows per batch (one transaction each) unless told otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 500;

/// What went wrong, in a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        Error(format!("database error: {e}"))
    }
}

impl From<crate::error::AppError> for Error {
    fn from(e: crate::error::AppError) -> Error {
        Error(e.report())
    }
}

/// Names a database independently of how its URL is spelled (a SQLite file by its absolute
/// path, PostgreSQL by host, port, database and options, without the password): the record of
/// runs knows a source by it, and a copy refuses to copy a database onto itself.
pub fn source_identity(url: &str) -> Result<String, Error> {
    use std::str::FromStr;
    let url = conn::normalize_url(url);
    match conn::backend_of(&url)? {
        conn::Backend::Sqlite => {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .map_err(|e| Error::new(format!("{}: {e}", conn::redact(&url))))?;
            let path = opts.get_filename();
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| {
                std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
            });
            Ok(format!("sqlite://{}", path.display()))
        }
        conn::Backend::Postgres => {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
                .map_err(|e| Error::new(format!("{}: {e}", conn::redact(&url))))?;
            Ok(format!(
                "postgres://{}@{}:{}/{}?{}",
                opts.get_username(),
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or(""),
                opts.get_options().unwrap_or("")
            ))
        }
    }
}
