//! The database a run writes to: duet's migrations applied first, a transaction per batch — or,
//! for a dry run, one outer transaction (migrations included: DDL is transactional on both
//! backends) that is rolled back at the end, each batch a savepoint inside it — what it already
//! holds, and the record of the runs into it (`migrate_runs`), which lets the same command be run
//! again after an interruption.

use serde_json::Value as Json;

use super::Error;
use super::catalog::{self, Table};
use super::conn::{Backend, Conn, Tx, ident};
use super::value::{Bound, Kind};

/// The table recording runs into this database; never copied.
pub const RUNS_TABLE: &str = "migrate_runs";
/// sqlx's record of applied migrations; each database keeps its own.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
/// The one table duet writes at start-up (its admin configuration, seeded from the
/// environment): rows there do not make a database "used".
pub const SEEDED_TABLE: &str = "config";

/// Tables that belong to the bookkeeping of a database, not to its data.
pub fn is_bookkeeping(table: &str) -> bool {
    table == RUNS_TABLE || table == MIGRATIONS_TABLE
}

fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    }
}

/// The migration versions this duet knows.
pub fn known_versions(backend: Backend) -> Vec<i64> {
    migrator(backend).iter().map(|m| m.version).collect()
}

/// The migration versions a database records as applied (empty without the table).
pub async fn applied_versions(tx: &mut Tx<'_>) -> Result<Vec<i64>, Error> {
    if !catalog::table_names(tx).await?.iter().any(|t| t == MIGRATIONS_TABLE) {
        return Ok(Vec::new());
    }
    let rows = tx
        .fetch(
            format!("select version from {} where success order by version", ident(MIGRATIONS_TABLE)),
            &[],
            &[Kind::Int],
        )
        .await?;
    Ok(rows.iter().filter_map(|r| r[0].as_i64()).collect())
}

/// A run's record in the target.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub mode: String,
    pub finished: bool,
}

pub struct Target {
    pub conn: Conn,
    pub backend: Backend,
    outer: Option<Tx<'static>>,
}

impl Target {
    /// Opens the target; for a dry run into a SQLite file that does not exist, an empty
    /// in-memory database stands in for it.
    pub async fn open(url: &str, dry_run: bool) -> Result<Target, Error> {
        let url = super::conn::normalize_url(url);
        let conn = if dry_run && url.starts_with("sqlite:") && !sqlite_file_exists(&url) {
            Conn::memory().await?
        } else {
            Conn::open_target(&url).await?
        };
        let backend = conn.backend();
        let outer = if dry_run { Some(conn.begin().await?) } else { None };
        Ok(Target { conn, backend, outer })
    }

    pub fn dry_run(&self) -> bool {
        self.outer.is_some()
    }

    /// A transaction for one batch (a savepoint in a dry run).
    pub async fn begin(&mut self) -> Result<Tx<'_>, Error> {
        match &mut self.outer {
            Some(outer) => outer.nested().await,
            None => self.conn.begin().await,
        }
    }

    /// Applies duet's migrations (a dry run applies them inside its transaction).
    pub async fn migrate(&mut self) -> Result<(), Error> {
        let migrator = migrator(self.backend);
        match &mut self.outer {
            None => {
                let result = match &self.conn {
                    Conn::Sqlite(p) => migrator.run(p).await,
                    Conn::Postgres(p) => migrator.run(p).await,
                };
                result.map_err(|e| Error::new(format!("the target's migrations failed: {e}")))
            }
            Some(outer) => {
                let applied = applied_versions(outer).await?;
                check_versions(&applied, &known_versions(self.backend), "the target")?;
                for m in migrator.iter().filter(|m| !applied.contains(&m.version)) {
                    outer.execute_script(m.sql.as_str().to_string()).await?;
                }
                Ok(())
            }
        }
    }

    /// Every table of the target's schema (bookkeeping apart), parents first.
    pub async fn tables(&mut self) -> Result<Vec<Table>, Error> {
        let mut tx = self.begin().await?;
        let mut tables = catalog::tables(&mut tx).await?;
        tx.rollback().await?;
        tables.retain(|t| !is_bookkeeping(&t.name));
        catalog::resolve_foreign_keys(&mut tables);
        catalog::parents_first(tables)
    }

    /// Tables holding rows (the seeded configuration apart), with their counts.
    pub async fn used_tables(&mut self, tables: &[Table]) -> Result<Vec<(String, i64)>, Error> {
        let mut tx = self.begin().await?;
        let mut used = Vec::new();
        for t in tables.iter().filter(|t| t.name != SEEDED_TABLE) {
            let n = super::read::count(&mut tx, &t.name).await?;
            if n > 0 {
                used.push((t.name.clone(), n));
            }
        }
        tx.rollback().await?;
        Ok(used)
    }

    /// Deletes every row of `tables` (children first), in one transaction.
    pub async fn empty(&mut self, tables: &[Table]) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        for t in tables.iter().rev() {
            tx.execute(format!("delete from {}", ident(&t.name)), &[]).await?;
        }
        tx.commit().await
    }

    async fn ensure_runs_table(tx: &mut Tx<'_>) -> Result<(), Error> {
        tx.execute(
            format!(
                "create table if not exists {RUNS_TABLE} (id text primary key not null, kind text not null, \
                 source text not null, mode text not null, started_at bigint not null, finished_at bigint, report text)"
            ),
            &[],
        )
        .await?;
        Ok(())
    }

    /// The latest run of `kind` from `source` into this database.
    pub async fn last_run(&mut self, kind: &str, source: &str) -> Result<Option<Run>, Error> {
        let mut tx = self.begin().await?;
        Self::ensure_runs_table(&mut tx).await?;
        let rows = tx
            .fetch(
                format!(
                    "select id, mode, finished_at from {RUNS_TABLE} where kind = $1 and source = $2 \
                     order by started_at desc, id desc limit 1"
                ),
                &[Bound::Text(Some(kind.into())), Bound::Text(Some(source.into()))],
                &[Kind::Text, Kind::Text, Kind::Int],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(|r| Run { id: r[0].display(), mode: r[1].display(), finished: !r[2].is_null() }))
    }

    /// Records the start of a run; its id.
    pub async fn start_run(&mut self, kind: &str, source: &str, mode: &str) -> Result<String, Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin().await?;
        Self::ensure_runs_table(&mut tx).await?;
        tx.execute(
            format!(
                "insert into {RUNS_TABLE} (id, kind, source, mode, started_at) values ($1, $2, $3, $4, $5)"
            ),
            &[
                Bound::Text(Some(id.clone())),
                Bound::Text(Some(kind.into())),
                Bound::Text(Some(source.into())),
                Bound::Text(Some(mode.into())),
                Bound::Int(Some(crate::store::now())),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn finish_run(&mut self, id: &str, report: &Json) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        tx.execute(
            format!("update {RUNS_TABLE} set finished_at = $2, report = $3 where id = $1"),
            &[
                Bound::Text(Some(id.into())),
                Bound::Int(Some(crate::store::now())),
                Bound::Text(Some(report.to_string())),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Ends the run: a dry run's transaction is rolled back; the connection closes.
    pub async fn close(mut self) -> Result<(), Error> {
        if let Some(outer) = self.outer.take() {
            outer.rollback().await?;
        }
        self.conn.close().await;
        Ok(())
    }
}

fn sqlite_file_exists(url: &str) -> bool {
    use std::str::FromStr;
    sqlx::sqlite::SqliteConnectOptions::from_str(url).is_ok_and(|o| o.get_filename().exists())
}

/// Fails when `applied` holds migrations this duet does not know (a newer duet wrote it).
pub fn check_versions(applied: &[i64], known: &[i64], what: &str) -> Result<(), Error> {
    let unknown: Vec<String> = applied.iter().filter(|v| !known.contains(v)).map(|v| v.to_string()).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{what} has migrations this duet does not know ({}): use the duet version that wrote it",
            unknown.join(", ")
        )))
    }
}
