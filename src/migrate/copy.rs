//! `duet copy`: every table of a duet database into another one (SQLite ⇄ PostgreSQL), rows as
//! they are (ids, timestamps, JSON), a batch per transaction, then the row count and a checksum of
//! every table compared between the two.
//!
//! The tables are read from the source's catalogue, not from a list in the code, so a table a
//! later migration adds is copied without changes here. Into a database that already holds data
//! the copy refuses, unless told to add what is missing (`merge`) or to empty it first
//! (`replace`); running the same copy again (after an interruption, say) resumes it: rows already
//! there are recognised and left alone.

use std::time::Instant;

use super::catalog::{self, Table};
use super::conn::{Conn, Tx, redact};
use super::progress::Progress;
use super::read::{self, Pager};
use super::report::{Checksum, Report, TableSum};
use super::target::{self, SEEDED_TABLE, Target};
use super::value::{Kind, row_digest};
use super::write::{Mode, TableWriter};
use super::{Error, source_identity};

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub from: String,
    pub to: String,
    /// Add the rows the target lacks; rows it holds with other values are kept and reported.
    pub merge: bool,
    /// Empty the target's tables first.
    pub replace: bool,
    /// Do everything inside a transaction that is rolled back: counts, checks, conflicts.
    pub dry_run: bool,
    /// Rows per batch (and transaction).
    pub batch_rows: usize,
    pub progress: bool,
    /// Stops after this many committed batches, as an interruption would (tests).
    pub stop_after_batches: Option<u64>,
}

impl CopyOptions {
    pub fn new(from: &str, to: &str) -> CopyOptions {
        CopyOptions {
            from: from.into(),
            to: to.into(),
            merge: false,
            replace: false,
            dry_run: false,
            batch_rows: super::DEFAULT_BATCH_ROWS,
            progress: false,
            stop_after_batches: None,
        }
    }
}

const KIND: &str = "copy";

/// Runs a copy; the report (also when rows were refused: `ok` says whether all arrived).
pub async fn run(opts: &CopyOptions) -> Result<Report, Error> {
    let started = Instant::now();
    if opts.merge && opts.replace {
        return Err(Error::new("--merge and --replace exclude each other"));
    }
    let source_id = source_identity(&opts.from)?;
    if source_id == source_identity(&opts.to)? {
        return Err(Error::new("the source and the target are the same database"));
    }
    let source = Conn::open_source(&opts.from).await?;
    let mut snapshot = source.snapshot().await?;
    let source_tables = source_schema(&mut snapshot).await?;

    let mut target = Target::open(&opts.to, opts.dry_run).await?;
    target.migrate().await?;
    let target_tables = target.tables().await?;
    let plan = plan(&source_tables, &target_tables)?;

    let mut report = Report {
        command: KIND.into(),
        source: redact(&opts.from),
        target: redact(&opts.to),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let used = target.used_tables(&target_tables).await?;
    let previous = target.last_run(KIND, &source_id).await?;
    let (mode, seeded) = if opts.replace {
        target.empty(&target_tables).await?;
        ("replace", true)
    } else if let Some(run) = previous.as_ref().filter(|_| !used.is_empty()) {
        ("resume", run.mode != "merge")
    } else if used.is_empty() {
        ("fresh", true)
    } else if opts.merge {
        ("merge", false)
    } else {
        let list: Vec<String> = used.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        return Err(Error::new(format!(
            "the target is not empty ({}): copy into an empty database, or pass --merge to add only the \
             rows it lacks, or --replace to empty it first",
            list.join(", ")
        )));
    };
    report.mode = mode.into();
    // The rows of the seeded configuration in a target that held nothing else are its start-up
    // defaults: the source's replace them (emptied on a first run, overwritten when resuming).
    if mode == "fresh"
        && let Some(config) = target_tables.iter().find(|t| t.name == SEEDED_TABLE)
    {
        target.empty(std::slice::from_ref(config)).await?;
    }
    let run_id = target.start_run(KIND, &source_id, if seeded { mode } else { "merge" }).await?;

    let progress = if opts.progress { Progress::new(true) } else { Progress::hidden() };
    let mut batches = 0u64;
    let mut sums = Vec::new();
    for (table, columns, kinds) in &plan {
        let t0 = Instant::now();
        let total = read::count(&mut snapshot, &table.name).await?;
        report.table(&table.name).read = total as u64;
        let bar = progress.table(&table.name, total as u64);
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut pager = Pager::new(source_table(&source_tables, &table.name)?, &cols)?;
        let order = pager.columns();
        let write_mode = if seeded && table.name == SEEDED_TABLE { Mode::Overwrite } else { Mode::Keep };
        let order_refs: Vec<&str> = order.iter().map(String::as_str).collect();
        let mut writer = TableWriter::new(table, &target_tables, &order_refs, write_mode)?;
        let logical: Vec<Kind> =
            order.iter().map(|c| kinds[columns.iter().position(|x| x == c).unwrap_or(0)]).collect();
        let mut sum = TableSum::default();
        loop {
            let rows = pager.next(&mut snapshot, opts.batch_rows).await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                sum.add(&row_digest(&logical, r));
            }
            let n = rows.len() as u64;
            let mut tx = target.begin().await?;
            let outcome = writer.write(&mut tx, rows).await?;
            tx.commit().await?;
            report.record(&table.name, outcome);
            bar.inc(n);
            batches += 1;
            if opts.stop_after_batches.is_some_and(|limit| batches >= limit) {
                bar.done();
                return Err(Error::new(format!("stopped after {batches} batches")));
            }
        }
        let mut tx = target.begin().await?;
        let outcome = writer.finish(&mut tx).await?;
        tx.commit().await?;
        report.record(&table.name, outcome);
        bar.done();
        report.table(&table.name).seconds = t0.elapsed().as_secs_f64();
        sums.push((table, order, logical, sum));
    }
    drop(snapshot);
    source.close().await;

    // Verification: the target's rows of every table against the source's.
    let mut all_match = true;
    for (table, order, logical, source_sum) in sums {
        let target_sum = checksum(&mut target, table, &order, &logical).await?;
        let entry = report.table(&table.name);
        entry.target_rows = Some(target_sum.rows);
        if mode != "merge" {
            let matches = target_sum == source_sum;
            all_match &= matches;
            entry.checksum = Some(Checksum { source: source_sum.text(), target: target_sum.text(), matches });
        }
    }
    let refused = report.tables.iter().any(|t| t.skipped > 0 || t.kept > 0);
    report.ok = all_match && (mode == "merge" || !refused);
    report.seconds = started.elapsed().as_secs_f64();
    let json = serde_json::to_value(&report).map_err(|e| Error::new(e.to_string()))?;
    target.finish_run(&run_id, &json).await?;
    target.close().await?;
    Ok(report)
}

/// The source's tables (bookkeeping apart), after checking it is a duet database this duet can
/// read: its migrations must be the ones this duet knows, all applied.
async fn source_schema(tx: &mut Tx<'_>) -> Result<Vec<Table>, Error> {
    let applied = target::applied_versions(tx).await?;
    if applied.is_empty() {
        return Err(Error::new(
            "the source is not a duet database (it has no migration record); for an Open WebUI database use \
             `duet import-openwebui`",
        ));
    }
    let known = target::known_versions(tx.backend());
    target::check_versions(&applied, &known, "the source")?;
    if let Some(missing) = known.iter().find(|v| !applied.contains(v)) {
        return Err(Error::new(format!(
            "the source lacks migration {missing}: bring it up to date first (DATABASE_URL=<source> duet migrate)"
        )));
    }
    let mut tables = catalog::tables(tx).await?;
    tables.retain(|t| !target::is_bookkeeping(&t.name));
    catalog::resolve_foreign_keys(&mut tables);
    Ok(tables)
}

fn source_table<'a>(tables: &'a [Table], name: &str) -> Result<&'a Table, Error> {
    tables
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::new(format!("the source has no table {name}")))
}

/// For every table of the target (parents first) that the source has: the columns to copy (all
/// the source's) and the kind each is compared as. A source table or column the target lacks
/// is an error (the two would not be the same duet).
/// A table to copy: the target's table, the columns to copy and the kind each is compared as.
type Planned = (Table, Vec<String>, Vec<Kind>);

fn plan(source: &[Table], target: &[Table]) -> Result<Vec<Planned>, Error> {
    for s in source {
        let Some(t) = target.iter().find(|t| t.name == s.name) else {
            return Err(Error::new(format!("the target has no table {} (is it an older duet?)", s.name)));
        };
        if let Some(c) = s.columns.iter().find(|c| !t.has(&c.name)) {
            return Err(Error::new(format!("the target's table {} has no column {}", s.name, c.name)));
        }
    }
    let mut out = Vec::new();
    for t in target {
        let Some(s) = source.iter().find(|s| s.name == t.name) else { continue };
        let columns: Vec<String> = s.columns.iter().map(|c| c.name.clone()).collect();
        let kinds = s
            .columns
            .iter()
            .map(|c| Kind::logical(c.kind, t.column(&c.name).map(|tc| tc.kind).unwrap_or(c.kind)))
            .collect();
        out.push((t.clone(), columns, kinds));
    }
    Ok(out)
}

/// The checksum of `columns` of a target table.
async fn checksum(
    target: &mut Target,
    table: &Table,
    columns: &[String],
    logical: &[Kind],
) -> Result<TableSum, Error> {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut pager = Pager::new(table, &cols)?;
    let mut sum = TableSum::default();
    let mut tx = target.begin().await?;
    loop {
        let rows = pager.next(&mut tx, 2000).await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            sum.add(&row_digest(logical, r));
        }
    }
    tx.rollback().await?;
    Ok(sum)
}
