//! Connections of the move-in tools: a source opened read-only with one consistent snapshot, a
//! target, their transactions (nested ones are savepoints), and dynamic statements with typed
//! binds whose rows come back as `Value`s.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction, TypeInfo, ValueRef};

use super::Error;
use super::value::{Bound, Kind, Value};

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `postgresql://` is spelled `postgres://` by the drivers.
pub fn normalize_url(url: &str) -> String {
    match url.strip_prefix("postgresql://") {
        Some(rest) => format!("postgres://{rest}"),
        None => url.to_string(),
    }
}

pub fn backend_of(url: &str) -> Result<Backend, Error> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(Error::new(format!(
            "{}: not a database URL (sqlite:///path/to/file.db or postgres://user@host/db)",
            redact(url)
        )))
    }
}

/// The URL without its password, for messages and reports.
pub fn redact(url: &str) -> String {
    crate::config::redact_url(url)
}

/// A pool of one connection (the tools work one statement at a time).
#[derive(Clone)]
pub enum Conn {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Conn {
    /// Opens a database to read from. SQLite is opened read-only and never created; PostgreSQL
    /// sessions are read-only.
    pub async fn open_source(url: &str) -> Result<Conn, Error> {
        let url = normalize_url(url);
        match backend_of(&url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&url)
                    .map_err(|e| Error::new(format!("{}: {e}", redact(&url))))?;
                let path = opts.get_filename().to_path_buf();
                if !path.exists() {
                    return Err(Error::new(format!("{}: no such database file", path.display())));
                }
                let opts =
                    opts.read_only(true).create_if_missing(false).busy_timeout(Duration::from_secs(30));
                Ok(Conn::Sqlite(Self::sqlite(opts).await.map_err(|e| open_failed(&url, e))?))
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(&url)
                    .map_err(|e| Error::new(format!("{}: {e}", redact(&url))))?
                    .options([("default_transaction_read_only", "on")]);
                Ok(Conn::Postgres(Self::pg(opts).await.map_err(|e| open_failed(&url, e))?))
            }
        }
    }

    /// Opens a database to write to (a SQLite file is created when missing), with foreign keys
    /// enforced as duet enforces them.
    pub async fn open_target(url: &str) -> Result<Conn, Error> {
        let url = normalize_url(url);
        match backend_of(&url)? {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&url)
                    .map_err(|e| Error::new(format!("{}: {e}", redact(&url))))?;
                if let Some(dir) = opts.get_filename().parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
                }
                // As duet's own pool: WAL with `synchronous = normal` (a batch lost to a power cut
                // is written again by the next run).
                let opts = opts
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30));
                Ok(Conn::Sqlite(Self::sqlite(opts).await.map_err(|e| open_failed(&url, e))?))
            }
            Backend::Postgres => {
                let opts = PgConnectOptions::from_str(&url)
                    .map_err(|e| Error::new(format!("{}: {e}", redact(&url))))?;
                Ok(Conn::Postgres(Self::pg(opts).await.map_err(|e| open_failed(&url, e))?))
            }
        }
    }

    /// An empty in-memory SQLite database (the stand-in target of a dry run into a file that does
    /// not exist yet).
    pub async fn memory() -> Result<Conn, Error> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        Ok(Conn::Sqlite(Self::sqlite(opts).await?))
    }

    async fn sqlite(opts: SqliteConnectOptions) -> Result<SqlitePool, sqlx::Error> {
        SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
    }

    async fn pg(opts: PgConnectOptions) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// A write transaction (on SQLite it takes the write lock at once).
    pub async fn begin(&self) -> Result<Tx<'static>, Error> {
        Ok(match self {
            Conn::Sqlite(p) => Tx::Sqlite(p.begin_with("begin immediate").await?),
            Conn::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read transaction over one snapshot of the whole database.
    pub async fn snapshot(&self) -> Result<Tx<'static>, Error> {
        Ok(match self {
            Conn::Sqlite(p) => Tx::Sqlite(p.begin_with("begin deferred").await?),
            Conn::Postgres(p) => {
                Tx::Postgres(p.begin_with("begin isolation level repeatable read read only").await?)
            }
        })
    }

    pub async fn close(&self) {
        match self {
            Conn::Sqlite(p) => p.close().await,
            Conn::Postgres(p) => p.close().await,
        }
    }
}

fn open_failed(url: &str, e: sqlx::Error) -> Error {
    Error::new(format!("cannot open {}: {e}", redact(url)))
}

/// An open transaction on either backend.
pub enum Tx<'c> {
    Sqlite(Transaction<'c, Sqlite>),
    Postgres(Transaction<'c, Postgres>),
}

/// Binds `$binds` (a slice of `Bound`) to the query `$q` in order.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bound::Text(v) => q.bind(v.as_deref()),
                Bound::Int(v) => q.bind(*v),
                Bound::Real(v) => q.bind(*v),
                Bound::Bool(v) => q.bind(*v),
                Bound::Blob(v) => q.bind(v.as_deref()),
            };
        }
        q
    }};
}

impl Tx<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction inside this one (a savepoint).
    pub async fn nested(&mut self) -> Result<Tx<'_>, Error> {
        use sqlx::Acquire;
        Ok(match self {
            Tx::Sqlite(t) => Tx::Sqlite(t.begin().await?),
            Tx::Postgres(t) => Tx::Postgres(t.begin().await?),
        })
    }

    pub async fn commit(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Runs one statement; the rows it changed.
    pub async fn execute(&mut self, sql: String, binds: &[Bound]) -> Result<u64, Error> {
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query(sqlx::AssertSqlSafe(anonymous_placeholders(sql))), binds)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), binds)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a script of several statements (a migration).
    pub async fn execute_script(&mut self, sql: String) -> Result<(), Error> {
        match self {
            Tx::Sqlite(t) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut **t).await?;
            }
            Tx::Postgres(t) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut **t).await?;
            }
        }
        Ok(())
    }

    /// Runs a query; each row's columns as values. On PostgreSQL `kinds` says how to decode each
    /// column (the select list casts to match); SQLite values decode by what they hold.
    pub async fn fetch(
        &mut self,
        sql: String,
        binds: &[Bound],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>, Error> {
        match self {
            Tx::Sqlite(t) => {
                let sql = anonymous_placeholders(sql);
                let rows =
                    bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), binds).fetch_all(&mut **t).await?;
                rows.iter().map(sqlite_values).collect()
            }
            Tx::Postgres(t) => {
                let rows =
                    bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), binds).fetch_all(&mut **t).await?;
                rows.iter().map(|r| pg_values(r, kinds)).collect()
            }
        }
    }

    /// One integer (a count).
    pub async fn scalar(&mut self, sql: String, binds: &[Bound]) -> Result<i64, Error> {
        let rows = self.fetch(sql, binds, &[Kind::Int]).await?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0))
    }
}

/// A SQLite row's values by what each cell holds (SQLite is dynamically typed: a `boolean` column
/// holds integers, JSON is text); text that is not UTF-8 is kept as bytes.
fn sqlite_values(row: &SqliteRow) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(row.columns().len());
    for i in 0..row.columns().len() {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let storage = raw.type_info().name().to_string();
        out.push(match storage.as_str() {
            "INTEGER" | "BOOLEAN" => Value::Int(row.try_get_unchecked(i)?),
            "REAL" => Value::Real(row.try_get_unchecked(i)?),
            "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
            _ => {
                let bytes: Vec<u8> = row.try_get_unchecked(i)?;
                match String::from_utf8(bytes) {
                    Ok(s) => Value::Text(s),
                    Err(e) => Value::Blob(e.into_bytes()),
                }
            }
        });
    }
    Ok(out)
}

/// A PostgreSQL row's values, each decoded as its kind says.
fn pg_values(row: &PgRow, kinds: &[Kind]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::with_capacity(row.columns().len());
    for i in 0..row.columns().len() {
        let kind = kinds.get(i).copied().unwrap_or(Kind::Text);
        let v = match kind {
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            Kind::Json => row.try_get::<Option<serde_json::Value>, _>(i)?.map(Value::Json),
            Kind::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(out)
}

/// `$1, $2, …` as `?`, when each appears once and in order: SQLite looks a numbered parameter's
/// name up by a scan of all of them, which makes binding a statement of thousands of parameters
/// (a batch's insert) quadratic; anonymous ones bind in order.
fn anonymous_placeholders(sql: String) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut expected, mut last) = (1usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 {
                let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
                if n != expected {
                    return sql;
                }
                out.push_str(&sql[last..i]);
                out.push('?');
                expected += 1;
                i += 1 + digits;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&sql[last..]);
    out
}

/// A quoted identifier (`"user"`, `"group"` are reserved words in Open WebUI's schema).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::anonymous_placeholders as anon;

    #[test]
    fn placeholders_in_order_become_anonymous_and_others_stay() {
        assert_eq!(
            anon("insert into t values ($1, $2), ($3, $4)".into()),
            "insert into t values (?, ?), (?, ?)"
        );
        assert_eq!(
            anon("update t set a = $1 where b = $2 and c = $1".into()),
            "update t set a = $1 where b = $2 and c = $1"
        );
        assert_eq!(anon("select 1".into()), "select 1");
        assert_eq!(anon("select $2, $1".into()), "select $2, $1");
    }
}
