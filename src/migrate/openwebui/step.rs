//! The machinery every import step shares: pages of a source table read from one snapshot, the
//! rows made from a page for one or more duet tables (`Part`s), written together in one
//! transaction, and the counts and row-by-row notes of the report.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::ImportOptions;
use super::fields::{Fixes, Row};
use crate::migrate::Error;
use crate::migrate::catalog::Table;
use crate::migrate::conn::Tx;
use crate::migrate::progress::{Bar, Progress};
use crate::migrate::read::{self, Pager, rows_where};
use crate::migrate::report::{Action, Report};
use crate::migrate::target::Target;
use crate::migrate::value::Value;
use crate::migrate::write::{Mode, TableWriter, key_text};

/// Rows made for one duet table from one page of the source.
pub struct Part {
    pub table: &'static str,
    /// The name the report counts them under (`chat → chats`).
    pub label: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Value>>,
    /// Rows changed to fit, by key: reported once the row is written.
    repairs: Vec<(String, String)>,
}

impl Part {
    pub fn new(table: &'static str, label: &'static str, columns: &'static [&'static str]) -> Part {
        Part { table, label, columns, rows: Vec::new(), repairs: Vec::new() }
    }

    /// Adds a row (values in the order of `columns`); `fixes` say what was changed in it.
    pub fn push(&mut self, row: Vec<Value>, key: &str, fixes: &Fixes) {
        debug_assert_eq!(row.len(), self.columns.len(), "{}", self.table);
        if !fixes.is_empty() {
            self.repairs.push((key.to_string(), fixes.text()));
        }
        self.rows.push(row);
    }
}

/// The writers of one step, by target table (they keep state across batches).
pub type Writers<'a> = HashMap<&'static str, TableWriter<'a>>;

/// What a source row of a one-to-one step becomes.
pub enum Converted {
    /// A row of the target (values in the order of its columns), under `key`, with what was
    /// changed to make it fit.
    Row { values: Vec<Value>, key: String, fixes: Fixes },
    /// Nothing: the row is reported as skipped, for `reason`.
    Skip { key: String, reason: String },
}

/// A step that makes at most one row of one duet table from each row of one source table.
pub struct OneToOne {
    /// The source table and the columns read from it (those it has).
    pub source: &'static str,
    pub wanted: &'static [&'static str],
    /// The report's name for the step.
    pub label: &'static str,
    /// The duet table and its columns.
    pub target: &'static str,
    pub columns: &'static [&'static str],
}

pub struct Run<'a> {
    pub snapshot: Tx<'static>,
    pub source_tables: &'a [Table],
    pub target: Target,
    pub tables: &'a [Table],
    pub report: Report,
    pub opts: &'a ImportOptions,
    pub progress: Progress,
    pub batches: u64,
    /// What to do with a row whose id is already in duet with other values.
    pub conflicts: Mode,
    /// The same for settings (`config`): a fresh target's seeded defaults are overwritten.
    pub config_conflicts: Mode,
}

impl<'a> Run<'a> {
    pub fn source(&self, name: &str) -> Option<&'a Table> {
        self.source_tables.iter().find(|t| t.name == name)
    }

    /// A pager over the columns of `wanted` that the source's `table` has (none: `None`), its
    /// row count and a progress bar named `label`.
    pub async fn pages(
        &mut self,
        table: &str,
        wanted: &[&str],
        label: &str,
    ) -> Result<Option<(Pager<'a>, Vec<String>, Bar)>, Error> {
        let Some(t) = self.source(table) else { return Ok(None) };
        let present: Vec<&str> = wanted.iter().copied().filter(|c| t.has(c)).collect();
        let pager = Pager::new(t, &present)?;
        let columns = pager.columns();
        let total = read::count(&mut self.snapshot, table).await?;
        Ok(Some((pager, columns, self.progress.table(label, total as u64))))
    }

    pub async fn page(&mut self, pager: &mut Pager<'a>) -> Result<Vec<Vec<Value>>, Error> {
        pager.next(&mut self.snapshot, self.opts.batch_rows).await
    }

    /// Rows of the source's `table` whose `key` is one of `keys`: (columns, rows).
    pub async fn rows_by(
        &mut self,
        table: &str,
        wanted: &[&str],
        key: &str,
        keys: &[Value],
    ) -> Result<(Vec<String>, Vec<Vec<Value>>), Error> {
        let Some(t) = self.source(table) else { return Ok((Vec::new(), Vec::new())) };
        let present: Vec<&str> = wanted.iter().copied().filter(|c| t.has(c)).collect();
        let keys: Vec<Vec<Value>> = keys.iter().map(|k| vec![k.clone()]).collect();
        let rows = rows_where(&mut self.snapshot, t, &present, &[key], &keys).await?;
        Ok((present.iter().map(|c| c.to_string()).collect(), rows))
    }

    /// Of `keys` (values of `columns`), those duet's `table` holds, as text (`a/b`).
    pub async fn in_target(
        &mut self,
        table: &str,
        columns: &[&str],
        keys: Vec<Vec<Value>>,
    ) -> Result<HashSet<String>, Error> {
        let t = self.target_table(table)?;
        let keys: Vec<Vec<Value>> = keys.into_iter().filter(|k| !k.iter().any(Value::is_null)).collect();
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let mut tx = self.target.begin().await?;
        let rows = rows_where(&mut tx, t, columns, columns, &keys).await?;
        tx.rollback().await?;
        Ok(rows.iter().map(|r| key_text(r)).collect())
    }

    pub fn target_table(&self, name: &str) -> Result<&'a Table, Error> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::new(format!("duet has no table {name}")))
    }

    /// A source row that is not imported (counted as read and skipped).
    pub fn skip(&mut self, label: &str, key: &str, reason: impl Into<String>) {
        let t = self.report.table(label);
        t.read += 1;
        t.skipped += 1;
        self.report.issue(label, key, Action::Skipped, reason);
    }

    /// Something worth knowing about a row that is imported as it is.
    pub fn note(&mut self, label: &str, key: &str, reason: impl Into<String>) {
        self.report.issue(label, key, Action::Note, reason);
    }

    /// Writes the parts of one batch in one transaction, in order (parents before children).
    pub async fn write(&mut self, writers: &mut Writers<'a>, parts: Vec<Part>) -> Result<(), Error> {
        let started = Instant::now();
        let mut tx = self.target.begin().await?;
        let mut outcomes = Vec::with_capacity(parts.len());
        for part in parts.into_iter().filter(|p| !p.rows.is_empty()) {
            let writer = match writers.entry(part.table) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let mode = if part.table == "config" { self.config_conflicts } else { self.conflicts };
                    let table = self
                        .tables
                        .iter()
                        .find(|t| t.name == part.table)
                        .ok_or_else(|| Error::new(format!("duet has no table {}", part.table)))?;
                    e.insert(TableWriter::new(table, self.tables, part.columns, mode)?)
                }
            };
            let offered = part.rows.len() as u64;
            let mut outcome = writer.write(&mut tx, part.rows).await?;
            let refused: HashSet<&str> = outcome.rejected.iter().map(|r| r.key.as_str()).collect();
            let repairs: Vec<(String, String)> =
                part.repairs.into_iter().filter(|(k, _)| !refused.contains(k.as_str())).collect();
            outcome.repaired.extend(repairs);
            outcomes.push((part.label, offered, outcome));
        }
        tx.commit().await?;
        for (label, offered, outcome) in outcomes {
            self.report.table(label).read += offered;
            self.report.record(label, outcome);
            self.report.table(label).seconds += started.elapsed().as_secs_f64();
        }
        self.batches += 1;
        if self.opts.stop_after_batches.is_some_and(|n| self.batches >= n) {
            return Err(Error::new(format!("stopped after {} batches", self.batches)));
        }
        Ok(())
    }

    /// Runs a one-to-one step page by page, each page written in one transaction. `false` when
    /// the source has no such table.
    pub async fn one_to_one(
        &mut self,
        writers: &mut Writers<'a>,
        step: &OneToOne,
        mut convert: impl FnMut(&Row<'_>) -> Converted,
    ) -> Result<bool, Error> {
        let Some((mut pager, cols, bar)) = self.pages(step.source, step.wanted, step.label).await? else {
            return Ok(false);
        };
        loop {
            let page = self.page(&mut pager).await?;
            if page.is_empty() {
                break;
            }
            let mut part = Part::new(step.target, step.label, step.columns);
            for values in &page {
                match convert(&Row { columns: &cols, values }) {
                    Converted::Row { values, key, fixes } => part.push(values, &key, &fixes),
                    Converted::Skip { key, reason } => self.skip(step.label, &key, reason),
                }
            }
            bar.inc(page.len() as u64);
            self.write(writers, vec![part]).await?;
        }
        bar.done();
        Ok(true)
    }

    /// Completes the writers of a step (references to rows of the same table that came later).
    pub async fn finish(
        &mut self,
        writers: &mut Writers<'a>,
        labels: &[(&'static str, &'static str)],
    ) -> Result<(), Error> {
        let mut tx = self.target.begin().await?;
        let mut outcomes = Vec::new();
        for (table, label) in labels {
            if let Some(w) = writers.get_mut(table) {
                outcomes.push((*label, w.finish(&mut tx).await?));
            }
        }
        tx.commit().await?;
        for (label, outcome) in outcomes {
            self.report.record(label, outcome);
        }
        Ok(())
    }
}
