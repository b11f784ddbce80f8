//! `duet import-openwebui`: an Open WebUI 0.12 database (SQLite or PostgreSQL) into duet.
//!
//! The source is read in one snapshot and never written. Each kind of data has a step (accounts
//! in `users`, `groups`, `folders` and tags, `chats` and shares, `models` with history and
//! grants, `config`); a step reads its table page by page and writes what it makes of each page
//! in one transaction. Ids and timestamps are kept, so running the import again finds what it
//! wrote and leaves it alone (an interrupted import completes). Rows that cannot be imported
//! as they are are repaired or skipped, each named in the report; `skipped` says which tables
//! are left behind and why.

use std::time::Instant;

use super::catalog::{self, Table};
use super::conn::{Conn, Tx, ident, redact};
use super::progress::Progress;
use super::report::{Left, Report};
use super::target::{self, Target};
use super::write::Mode;
use super::{Error, read, source_identity};

mod chats;
mod config;
mod fields;
mod folders;
mod groups;
mod models;
mod skipped;
mod step;
mod users;

/// The schema revision of Open WebUI 0.12.4 (its last alembic migration).
pub const REVISION_0_12_4: &str = "0bd252b206fb";
const KIND: &str = "import-openwebui";

/// What to import from where.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub from: String,
    pub to: String,
    /// Into a duet database that holds data: add what it lacks.
    pub merge: bool,
    /// Rows whose id duet already has with other values are replaced (otherwise kept).
    pub overwrite: bool,
    /// Do everything inside a transaction that is rolled back.
    pub dry_run: bool,
    pub batch_rows: usize,
    pub progress: bool,
    /// Stops after this many committed batches, as an interruption would (tests).
    pub stop_after_batches: Option<u64>,
}

impl ImportOptions {
    pub fn new(from: &str, to: &str) -> ImportOptions {
        ImportOptions {
            from: from.into(),
            to: to.into(),
            merge: false,
            overwrite: false,
            dry_run: false,
            batch_rows: super::DEFAULT_BATCH_ROWS,
            progress: false,
            stop_after_batches: None,
        }
    }
}

/// Runs an import; the report.
pub async fn run(opts: &ImportOptions) -> Result<Report, Error> {
    let started = Instant::now();
    let source_id = source_identity(&opts.from)?;
    if source_id == source_identity(&opts.to)? {
        return Err(Error::new("the source and the target are the same database"));
    }
    let source = Conn::open_source(&opts.from).await?;
    let mut snapshot = source.snapshot().await?;
    let (source_tables, revision) = source_schema(&mut snapshot).await?;

    let mut target = Target::open(&opts.to, opts.dry_run).await?;
    target.migrate().await?;
    let tables = target.tables().await?;
    let used = target.used_tables(&tables).await?;
    let previous = target.last_run(KIND, &source_id).await?;
    let conflicts = if opts.overwrite { Mode::Overwrite } else { Mode::Keep };
    let (mode, fresh) = if used.is_empty() {
        ("fresh", true)
    } else if let Some(run) = &previous {
        ("resume", run.mode == "fresh")
    } else if opts.merge {
        ("merge", false)
    } else {
        let list: Vec<String> = used.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        return Err(Error::new(format!(
            "the target already holds data ({}): import into an empty duet database, or pass --merge to add \
             Open WebUI's data to it",
            list.join(", ")
        )));
    };
    let run_id = target.start_run(KIND, &source_id, mode).await?;
    let mut report = Report {
        command: KIND.into(),
        source: redact(&opts.from),
        target: redact(&opts.to),
        dry_run: opts.dry_run,
        mode: mode.into(),
        ..Default::default()
    };
    if revision.as_deref() != Some(REVISION_0_12_4) {
        let seen = revision.clone().unwrap_or_else(|| "none".into());
        report.issue(
            "alembic_version",
            &seen,
            super::report::Action::Note,
            format!(
                "schema revision {seen}, not 0.12.4's {REVISION_0_12_4}: columns it lacks are left empty"
            ),
        );
    }
    let progress = if opts.progress { Progress::new(true) } else { Progress::hidden() };
    let mut run = step::Run {
        snapshot,
        source_tables: &source_tables,
        target,
        tables: &tables,
        report,
        opts,
        progress,
        batches: 0,
        conflicts,
        // A fresh target's settings are the defaults duet seeded at start-up: Open WebUI's win.
        config_conflicts: if fresh { Mode::Overwrite } else { conflicts },
    };
    users::users(&mut run).await?;
    users::api_keys(&mut run).await?;
    groups::groups(&mut run).await?;
    folders::folders(&mut run).await?;
    folders::tags(&mut run).await?;
    chats::chats(&mut run).await?;
    chats::shares(&mut run).await?;
    models::models(&mut run).await?;
    models::grants(&mut run).await?;
    config::config(&mut run).await?;
    let left = left_behind(&mut run.snapshot, &source_tables).await?;

    let step::Run { snapshot, mut target, mut report, .. } = run;
    drop(snapshot);
    source.close().await;
    report.not_imported = left;
    for t in &mut report.tables {
        let name = t.name.rsplit(" → ").next().unwrap_or(&t.name).to_string();
        let mut tx = target.begin().await?;
        t.target_rows = Some(read::count(&mut tx, &name).await? as u64);
        tx.rollback().await?;
    }
    // Done when every row was written or found already there, or skipped for a reason given.
    report.ok =
        report.tables.iter().all(|t| t.read == t.written + t.already_there + t.updated + t.skipped + t.kept);
    report.seconds = started.elapsed().as_secs_f64();
    let json = serde_json::to_value(&report).map_err(|e| Error::new(e.to_string()))?;
    target.finish_run(&run_id, &json).await?;
    target.close().await?;
    Ok(report)
}

/// The source's tables, after checking it is an Open WebUI database; its schema revision.
async fn source_schema(tx: &mut Tx<'_>) -> Result<(Vec<Table>, Option<String>), Error> {
    let mut tables = catalog::tables(tx).await?;
    catalog::resolve_foreign_keys(&mut tables);
    let has = |n: &str| tables.iter().any(|t| t.name == n);
    if has(target::MIGRATIONS_TABLE) {
        return Err(Error::new("the source is a duet database: use `duet copy` to move it"));
    }
    if !(has("user") && has("auth") && has("chat")) {
        return Err(Error::new(
            "the source is not an Open WebUI database (it has no user, auth and chat tables)",
        ));
    }
    let revision = if has("alembic_version") {
        let rows = tx
            .fetch(
                format!("select version_num from {}", ident("alembic_version")),
                &[],
                &[super::value::Kind::Text],
            )
            .await?;
        rows.first().map(|r| r[0].display())
    } else {
        None
    };
    Ok((tables, revision))
}

/// The source's tables an import does not read, with their rows and why; plus credentials of
/// accounts that do not exist, and chat data duet keeps nowhere.
async fn left_behind(tx: &mut Tx<'_>, tables: &[Table]) -> Result<Vec<Left>, Error> {
    let mut out = Vec::new();
    for t in tables.iter().filter(|t| !skipped::IMPORTED.contains(&t.name.as_str())) {
        let rows = read::count(tx, &t.name).await? as u64;
        out.push(Left { table: t.name.clone(), rows, why: skipped::why(&t.name).into() });
    }
    let orphans = tx
        .scalar(
            format!(
                "select count(*) from {} a where not exists (select 1 from {} u where u.id = a.id)",
                ident("auth"),
                ident("user")
            ),
            &[],
        )
        .await?;
    out.push(Left {
        table: "auth".into(),
        rows: orphans as u64,
        why: "credentials of accounts that do not exist".into(),
    });
    if let Some(chat) = tables.iter().find(|t| t.name == "chat") {
        let extra: Vec<&str> = ["tasks", "summary"].into_iter().filter(|c| chat.has(c)).collect();
        if !extra.is_empty() {
            let mut pager = read::Pager::new(chat, &extra)?;
            let columns = pager.columns();
            let mut n = 0;
            loop {
                let page = pager.next(tx, 2000).await?;
                if page.is_empty() {
                    break;
                }
                for values in &page {
                    let row = fields::Row { columns: &columns, values };
                    let mut ignore = fields::Fixes::default();
                    let holds = |c: &str, f: &mut fields::Fixes| match fields::json(&row, c, f) {
                        Ok(Some(serde_json::Value::Array(a))) => !a.is_empty(),
                        Ok(Some(serde_json::Value::String(s))) => !s.is_empty(),
                        Ok(Some(_)) => true,
                        Ok(None) => false,
                        Err(_) => fields::text(&row, c, f).is_some_and(|s| !s.is_empty()),
                    };
                    if extra.iter().any(|c| holds(c, &mut ignore)) {
                        n += 1;
                    }
                }
            }
            out.push(Left {
                table: "chat (tasks, summary)".into(),
                rows: n,
                why: "chats' task lists and summaries: duet keeps neither (the chats are imported)".into(),
            });
        }
    }
    Ok(out)
}
