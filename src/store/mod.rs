//! The database: one `Db` handle over a native SQLite or PostgreSQL pool, migrations, and one
//! module per table with plain functions.
//!
//! Each query's SQL is written once (lower-case, `$n` placeholders, which both drivers accept) and
//! dispatched to the live backend by the `run!` macro, which type-checks the same body against
//! each driver. Where the dialects differ, a function matches on the backend itself.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool, Postgres, SqliteConnection, SqlitePool, Transaction};

use crate::error::{AppError, AppResult};

pub mod api_keys;
pub mod auths;
pub mod cache;
pub mod cache_sync;
pub mod chat_shares;
pub mod chat_stats;
pub mod chats;
pub mod folders;
pub mod grants;
pub mod groups;
pub mod model_history;
pub mod model_list;
pub mod models;
pub mod revoked;
pub mod settings;
pub mod tags;
pub mod users;
mod writer;

/// Which database is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pool {
    /// The pool, and the writer turn with its own connection (see `writer`): SQLite has one
    /// writer at a time, so transactions queue there (first come, first served) rather than in
    /// SQLite's busy handler, which polls with sleeps of up to 100 ms, and those queued behind
    /// each other commit together.
    Sqlite(SqlitePool, Arc<writer::Writer>),
    Postgres(PgPool),
}

/// A cloneable handle to the pool, plus a statement counter (used by tests and diagnostics).
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    statements: Arc<AtomicU64>,
    /// The `config` table as last read (see `settings::Cache`).
    pub(crate) settings_cache: Arc<settings::Cache>,
    /// Sessions and chat lists as last read (see `cache`).
    pub(crate) caches: Arc<cache::Caches>,
}

/// An open transaction on either backend. A SQLite transaction holds the writer turn until it
/// ends, and its commit returns once the group it joined is committed (see `writer`). The cached
/// reads its statements change are dropped after the commit.
pub struct Tx {
    inner: TxInner,
    statements: Arc<AtomicU64>,
    caches: Arc<cache::Caches>,
    changes: Vec<cache::Change>,
}

enum TxInner {
    Sqlite(writer::Member),
    Postgres(Transaction<'static, Postgres>),
}

/// Where a query runs: the pool or an open transaction.
pub enum Exec<'a> {
    SqlitePool(&'a SqlitePool, &'a Db),
    PgPool(&'a PgPool, &'a Db),
    Sqlite(&'a mut SqliteConnection, &'a mut Vec<cache::Change>),
    Pg(&'a mut PgConnection, &'a mut Vec<cache::Change>),
}

impl<'a> Exec<'a> {
    /// Converts a `&Db`, a `&mut Tx` or an `Exec` (used by `run!`).
    pub fn into_exec(ex: impl Into<Exec<'a>>) -> Exec<'a> {
        ex.into()
    }

    /// Declares that the statement about to run on this executor writes `what`. Outside a
    /// transaction the cached copies go when the returned guard drops (keep it until the statement
    /// has run); inside one, after the commit. Outside a transaction on SQLite the guard also holds
    /// the writer turn `Db::begin` takes (the open group of transactions committed first), so a
    /// single-statement write queues in order with the transactions instead of polling in
    /// SQLite's busy handler (which sleeps 1, 2, 5, 10, … ms while the other writers keep the
    /// lock busy).
    #[must_use = "the cached copies are dropped when the guard drops"]
    pub async fn changes(&mut self, what: cache::Change) -> AfterWrite {
        match self {
            Exec::SqlitePool(_, db) => {
                let turn = match &db.pool {
                    Pool::Sqlite(_, w) => w.single().await,
                    Pool::Postgres(_) => None,
                };
                AfterWrite { change: Some((db.caches.clone(), what)), _turn: turn }
            }
            Exec::PgPool(_, db) => AfterWrite { change: Some((db.caches.clone(), what)), _turn: None },
            Exec::Sqlite(_, pending) | Exec::Pg(_, pending) => {
                pending.push(what);
                AfterWrite { change: None, _turn: None }
            }
        }
    }
}

/// Drops cached copies when it goes out of scope (see `Exec::changes`), then lets the next SQLite
/// writer go.
pub struct AfterWrite {
    change: Option<(Arc<cache::Caches>, cache::Change)>,
    _turn: Option<tokio::sync::OwnedMutexGuard<writer::Turn>>,
}

impl Drop for AfterWrite {
    fn drop(&mut self) {
        if let Some((caches, change)) = self.change.take() {
            caches.apply(&change);
        }
    }
}

impl<'a> From<&'a Db> for Exec<'a> {
    fn from(db: &'a Db) -> Self {
        db.statements.fetch_add(1, Ordering::Relaxed);
        match &db.pool {
            Pool::Sqlite(p, _) => Exec::SqlitePool(p, db),
            Pool::Postgres(p) => Exec::PgPool(p, db),
        }
    }
}

impl<'a> From<&'a mut Tx> for Exec<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        tx.statements.fetch_add(1, Ordering::Relaxed);
        match &mut tx.inner {
            TxInner::Sqlite(m) => Exec::Sqlite(m.conn(), &mut tx.changes),
            TxInner::Postgres(t) => Exec::Pg(t, &mut tx.changes),
        }
    }
}

/// Runs `$body` with `$e` bound to the executor of whichever backend `$ex` (a `&Db` or a
/// `&mut Tx`) is on. The body is compiled once per backend.
#[macro_export]
macro_rules! run {
    ($ex:expr, $e:ident => $body:expr) => {
        match $crate::store::Exec::into_exec($ex) {
            $crate::store::Exec::SqlitePool($e, _) => $body,
            $crate::store::Exec::PgPool($e, _) => $body,
            $crate::store::Exec::Sqlite($e, _) => $body,
            $crate::store::Exec::Pg($e, _) => $body,
        }
    };
}

impl Db {
    fn new(pool: Pool, caches: Arc<cache::Caches>) -> Db {
        Db { pool, statements: Arc::new(AtomicU64::new(0)), settings_cache: Arc::default(), caches }
    }

    /// How long a read of the `config` table is reused (0: every read goes to the database).
    /// Writes through this handle take effect at once; another instance's writes within `ttl`.
    pub fn set_settings_ttl(&self, ttl: Duration) {
        self.settings_cache.set_ttl(ttl);
    }

    /// Drops the cached `config` table; call after committing a write to it.
    pub fn settings_changed(&self) {
        self.settings_cache.invalidate();
    }

    /// How long a session check's account read (`sessions`) and a chat list page (`chat_lists`)
    /// are reused; zero turns a cache off. This process's own writes apply at once.
    pub fn set_read_cache_ttls(&self, sessions: Duration, chat_lists: Duration) {
        self.caches.sessions.set_ttl(sessions);
        self.caches.chat_lists.set_ttl(chat_lists);
        // The stored models with their grants follow the chat lists' time to live.
        self.caches.models.set_ttl(chat_lists);
    }

    /// Drops every cached read (configuration, sessions, chat lists), e.g. after the database was
    /// changed behind this handle's back; the other instances drop their sessions and chat lists
    /// too.
    pub fn forget_cached_reads(&self) {
        self.settings_cache.invalidate();
        self.caches.apply(&cache::Change::Everything);
    }

    /// Announces this handle's changes on `bus` and applies the other instances' (see
    /// `cache_sync`); the caches are suspended while the bus is not linked.
    pub fn share_invalidations(&self, bus: Arc<crate::bus::Bus<cache_sync::Invalidation>>) {
        cache_sync::attach(&self.caches, bus);
    }

    /// Whether the session and chat-list caches serve entries now (on, and hearing the other
    /// instances when they are shared).
    pub fn read_caches_serving(&self) -> bool {
        self.caches.serving()
    }

    pub(crate) fn caches(&self) -> &cache::Caches {
        &self.caches
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`). A SQLite file and its directory are
    /// created when missing; SQLite runs in WAL mode with a busy timeout.
    pub async fn connect(url: &str, pool_size: u32, acquire_timeout: Duration) -> AppResult<Db> {
        if url.starts_with("postgres://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| AppError::internal(format!("DATABASE_URL: {e}")))?;
            let pool = Pool::Postgres(Self::pg_pool(opts, pool_size, acquire_timeout).await?);
            Ok(Db::new(pool, Arc::default()))
        } else {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| AppError::internal(format!("DATABASE_URL: {e}")))?;
            if let Some(dir) = opts.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| AppError::internal(format!("cannot create {}: {e}", dir.display())))?;
            }
            let opts = Self::sqlite_options(opts);
            let pool = Self::sqlite_pool(opts.clone(), pool_size, acquire_timeout).await?;
            // The writer's own connection, outside the pool (see `writer`). Its savepoints keep
            // the pages they change in a sub-journal: in memory, not in a temporary file.
            let conn = SqliteConnection::connect_with(&opts.clone().pragma("temp_store", "memory")).await?;
            let caches: Arc<cache::Caches> = Arc::default();
            let writer = writer::Writer::new(conn, caches.clone(), acquire_timeout);
            Ok(Db::new(Pool::Sqlite(pool, Arc::new(writer)), caches))
        }
    }

    /// A PostgreSQL pool whose connections use `schema` (created if missing) as search path.
    pub async fn connect_postgres_schema(url: &str, schema: &str, pool_size: u32) -> AppResult<Db> {
        let opts =
            PgConnectOptions::from_str(url).map_err(|e| AppError::internal(format!("DATABASE_URL: {e}")))?;
        let pool = Self::pg_pool(opts.options([("search_path", schema)]), pool_size, Duration::from_secs(30))
            .await?;
        let create = format!("create schema if not exists \"{}\"", schema.replace('"', ""));
        sqlx::query(sqlx::AssertSqlSafe(create)).execute(&pool).await?;
        Ok(Db::new(Pool::Postgres(pool), Arc::default()))
    }

    async fn pg_pool(opts: PgConnectOptions, size: u32, timeout: Duration) -> AppResult<PgPool> {
        Ok(PgPoolOptions::new().max_connections(size).acquire_timeout(timeout).connect_with(opts).await?)
    }

    fn sqlite_options(opts: SqliteConnectOptions) -> SqliteConnectOptions {
        opts.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    }

    /// Connections are not pinged when taken from the pool: a SQLite connection is a thread of
    /// this process, and a statement on a dead one fails all the same (one hand-off fewer per
    /// statement).
    async fn sqlite_pool(opts: SqliteConnectOptions, size: u32, timeout: Duration) -> AppResult<SqlitePool> {
        Ok(SqlitePoolOptions::new()
            .max_connections(size)
            .acquire_timeout(timeout)
            .test_before_acquire(false)
            .connect_with(opts)
            .await?)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(..) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Statements run through this handle (and its transactions) so far.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub async fn begin(&self) -> AppResult<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(_, w) => TxInner::Sqlite(w.begin().await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            statements: self.statements.clone(),
            caches: self.caches.clone(),
            changes: Vec::new(),
        })
    }

    /// Applies pending migrations. Safe when several instances start at once: PostgreSQL takes
    /// an advisory lock; on SQLite a lost race is retried after the winner has finished.
    pub async fn migrate(&self) -> AppResult<()> {
        let mut attempt = 0;
        loop {
            let result = match &self.pool {
                Pool::Sqlite(p, _) => sqlx::migrate!("migrations/sqlite").run(p).await,
                Pool::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 && self.backend() == Backend::Sqlite => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "migration race, retrying");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(AppError::internal(format!("migration failed: {e}"))),
            }
        }
    }

    /// `select 1` on a pooled connection.
    pub async fn ping(&self) -> AppResult<()> {
        run!(self, e => sqlx::query("select 1").execute(e).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p, w) => {
                w.flush().await;
                p.close().await
            }
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> AppResult<()> {
        let Tx { inner, caches, changes, .. } = self;
        match inner {
            // The group's commit drops the changes from the caches.
            TxInner::Sqlite(m) => m.commit(changes).await,
            TxInner::Postgres(t) => {
                let committed = t.commit().await;
                // Also when the commit reports an error: it may have happened all the same.
                caches.apply_all(&changes);
                Ok(committed?)
            }
        }
    }

    /// Declares that this transaction writes `what` (cached copies go after the commit).
    pub fn changes(&mut self, what: cache::Change) {
        self.changes.push(what);
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(..) => Backend::Sqlite,
            TxInner::Postgres(..) => Backend::Postgres,
        }
    }
}

/// Of `ids`, the ones that are the `id` of a row of `table` (one statement).
pub(crate) async fn ids_in(
    ex: impl Into<Exec<'_>>,
    table: &'static str,
    ids: &[String],
) -> AppResult<std::collections::HashSet<String>> {
    if ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let sql = format!("select id from {table} where id in ({})", placeholders(1, ids.len()));
    let found: Vec<String> = crate::run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(found.into_iter().collect())
}

/// `$from, $from+1, …` for `count` values (an `in (…)` list).
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
