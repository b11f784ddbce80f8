//! What a run did, per table and per row: the machine-readable report (`--json`), the one-line
//! summary per table, and the table checksums compared at the end of a copy.

use serde::Serialize;

use super::write::{Outcome, Rejection};

/// Rows listed one by one in a report; beyond this only counted.
const MAX_LISTED: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not written.
    Skipped,
    /// Written with a change (the reason says which).
    Repaired,
    /// The target's row was kept (its key was there with other values).
    Kept,
    /// Written as it is; worth knowing.
    Note,
}

#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub table: String,
    pub key: String,
    pub action: Action,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checksum {
    pub source: String,
    pub target: String,
    pub matches: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    /// The target table (for an import, `source → target`).
    pub name: String,
    pub read: u64,
    pub written: u64,
    pub already_there: u64,
    pub updated: u64,
    pub skipped: u64,
    pub repaired: u64,
    pub kept: u64,
    pub target_rows: Option<u64>,
    pub checksum: Option<Checksum>,
    pub seconds: f64,
}

/// A table of the source that is not carried over, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    pub table: String,
    pub rows: u64,
    pub why: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub command: String,
    pub source: String,
    pub target: String,
    pub dry_run: bool,
    /// `fresh`, `resume`, `merge` or `replace`.
    pub mode: String,
    pub tables: Vec<TableReport>,
    /// Tables of the source left behind (an import), with their rows.
    pub not_imported: Vec<Left>,
    pub issues: Vec<Issue>,
    /// Issues beyond the listed ones (counted in the tables all the same).
    pub issues_not_listed: u64,
    /// Whether everything that should have arrived did (and, for a copy, checksums agree).
    pub ok: bool,
    pub message: Option<String>,
    pub seconds: f64,
}

impl Report {
    pub fn issue(&mut self, table: &str, key: &str, action: Action, reason: impl Into<String>) {
        if self.issues.len() < MAX_LISTED {
            self.issues.push(Issue { table: table.into(), key: key.into(), action, reason: reason.into() });
        } else {
            self.issues_not_listed += 1;
        }
    }

    /// The table report named `name` (created on first use).
    pub fn table(&mut self, name: &str) -> &mut TableReport {
        if let Some(i) = self.tables.iter().position(|t| t.name == name) {
            return &mut self.tables[i];
        }
        self.tables.push(TableReport { name: name.into(), ..Default::default() });
        let last = self.tables.len() - 1;
        &mut self.tables[last]
    }

    /// Counts a writer's outcome under table `name`, listing its rejected and repaired rows.
    pub fn record(&mut self, name: &str, outcome: Outcome) {
        let t = self.table(name);
        t.written += outcome.inserted;
        t.already_there += outcome.identical;
        t.updated += outcome.updated;
        for r in &outcome.rejected {
            if r.why == Rejection::Conflict {
                t.kept += 1;
            } else {
                t.skipped += 1;
            }
        }
        t.repaired += outcome.repaired.len() as u64;
        for r in outcome.rejected {
            let action = if r.why == Rejection::Conflict { Action::Kept } else { Action::Skipped };
            self.issue(name, &r.key, action, r.reason);
        }
        for (key, reason) in outcome.repaired {
            self.issue(name, &key, Action::Repaired, reason);
        }
    }

    /// One line per table, then one line per table left behind, then the verdict.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let width = self.tables.iter().map(|t| t.name.chars().count()).max().unwrap_or(5).max(5);
        for t in &self.tables {
            let mut line = format!(
                "{:<width$} {:>8} read {:>8} written {:>8} already there",
                t.name, t.read, t.written, t.already_there
            );
            for (n, what) in
                [(t.updated, "updated"), (t.kept, "kept"), (t.skipped, "skipped"), (t.repaired, "repaired")]
            {
                if n > 0 {
                    line.push_str(&format!(", {n} {what}"));
                }
            }
            if let Some(c) = &t.checksum {
                line.push_str(if c.matches { ", checksum ok" } else { ", CHECKSUM DIFFERS" });
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for l in self.not_imported.iter().filter(|l| l.rows > 0) {
            out.push_str(&format!("{:<width$} {:>8} rows not imported: {}\n", l.table, l.rows, l.why));
        }
        let verdict = match (&self.message, self.ok, self.dry_run) {
            (Some(m), _, _) => m.clone(),
            (None, true, true) => "dry run: nothing was written".into(),
            (None, true, false) => "done".into(),
            (None, false, _) => "finished with differences; see the rows above".into(),
        };
        out.push_str(&format!("{verdict} ({:.1} s)\n", self.seconds));
        out
    }
}

/// A checksum of a table's rows that does not depend on their order: the count and the sum of
/// the rows' digests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    sum: u128,
}

impl TableSum {
    pub fn add(&mut self, digest: &[u8; 32]) {
        let mut head = [0u8; 16];
        head.copy_from_slice(&digest[..16]);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(head));
    }

    pub fn text(&self) -> String {
        format!("{}:{:032x}", self.rows, self.sum)
    }
}
