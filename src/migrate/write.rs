//! Writing rows into a table of the target, a batch at a time inside the caller's transaction,
//! so that running the same batch twice changes nothing: each row is checked first against what
//! the target holds (the same key with the same values: already there; other values: a conflict,
//! kept or overwritten), against the target's unique constraints (an email taken by another
//! account) and its foreign keys (an owner that is not there); the rest is inserted. A reference
//! of a table to itself (a group's parent) whose row comes later is written empty and filled in
//! by `finish`.

use std::collections::{HashMap, HashSet};

use super::Error;
use super::catalog::{ForeignKey, Table};
use super::conn::{Backend, Tx, ident};
use super::read::rows_where;
use super::value::{Bound, Kind, Value, bind, row_digest};

/// Binds per statement (SQLite allows 32766, PostgreSQL 65535).
const MAX_BINDS: usize = 16_000;
/// Bytes of bound data per statement.
const MAX_BYTES: usize = 8 << 20;

/// What to do with a row whose key is already in the target with other values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the target's row; report a conflict.
    Keep,
    /// Replace the target's row.
    Overwrite,
}

/// Why a row was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Its key is in the target with other values (kept).
    Conflict,
    /// A unique value (an email, a key) belongs to another row.
    Duplicate,
    /// A row it refers to (its owner, its chat) is not in the target.
    Orphan,
    /// A value the target cannot hold.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct Rejected {
    pub key: String,
    pub why: Rejection,
    pub reason: String,
}

/// What one `write` or `finish` did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub inserted: u64,
    pub identical: u64,
    pub updated: u64,
    pub rejected: Vec<Rejected>,
    /// Rows written with a change, and what changed.
    pub repaired: Vec<(String, String)>,
}

impl Outcome {
    pub fn add(&mut self, other: Outcome) {
        self.inserted += other.inserted;
        self.identical += other.identical;
        self.updated += other.updated;
        self.rejected.extend(other.rejected);
        self.repaired.extend(other.repaired);
    }
}

/// A reference of a row to a row of its own table, written empty until that row is there.
struct Deferred {
    key: Vec<Value>,
    column: usize,
    value: Value,
}

/// Writes rows of `columns` into one target table.
pub struct TableWriter<'t> {
    table: &'t Table,
    catalog: &'t [Table],
    columns: Vec<String>,
    kinds: Vec<Kind>,
    pk_at: Vec<usize>,
    mode: Mode,
    deferred: Vec<Deferred>,
}

/// A row's key as text, for reports.
pub fn key_text(key: &[Value]) -> String {
    key.iter().map(Value::display).collect::<Vec<_>>().join("/")
}

impl<'t> TableWriter<'t> {
    pub fn new(table: &'t Table, catalog: &'t [Table], columns: &[&str], mode: Mode) -> Result<Self, Error> {
        if table.pk.is_empty() {
            return Err(Error::new(format!(
                "table {} has no primary key, so rows cannot be matched",
                table.name
            )));
        }
        let mut kinds = Vec::with_capacity(columns.len());
        for c in columns {
            let col = table
                .column(c)
                .ok_or_else(|| Error::new(format!("the target's table {} has no column {c}", table.name)))?;
            kinds.push(col.kind);
        }
        let pk_at: Vec<usize> = table.pk.iter().filter_map(|k| columns.iter().position(|c| c == k)).collect();
        if pk_at.len() != table.pk.len() {
            return Err(Error::new(format!(
                "rows for {} must carry its key ({})",
                table.name,
                table.pk.join(", ")
            )));
        }
        Ok(TableWriter {
            table,
            catalog,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            kinds,
            pk_at,
            mode,
            deferred: Vec::new(),
        })
    }

    pub fn table(&self) -> &str {
        &self.table.name
    }

    fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.pk_at.iter().map(|&i| row[i].clone()).collect()
    }

    fn position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// Foreign keys whose columns are all written: (positions, key), self-references apart.
    fn references(&self) -> (Vec<(Vec<usize>, &'t ForeignKey)>, Vec<usize>) {
        let mut others = Vec::new();
        let mut own = Vec::new();
        for fk in &self.table.foreign_keys {
            let at: Vec<usize> = fk.columns.iter().filter_map(|c| self.position(c)).collect();
            if at.len() != fk.columns.len() {
                continue;
            }
            if fk.parent == self.table.name && fk.parent_columns == self.table.pk && at.len() == 1 {
                own.push(at[0]);
            } else {
                others.push((at, fk));
            }
        }
        (others, own)
    }

    /// Writes `rows` (values in the order of the writer's columns) inside `tx`.
    pub async fn write(&mut self, tx: &mut Tx<'_>, rows: Vec<Vec<Value>>) -> Result<Outcome, Error> {
        let pg = tx.backend() == Backend::Postgres;
        let mut out = Outcome::default();
        let (references, own) = self.references();

        // 1. Values the target can hold, one row per key.
        let mut seen: HashSet<String> = HashSet::new();
        let mut rows: Vec<Vec<Value>> = rows
            .into_iter()
            .filter(|row| {
                let key = key_text(&self.key_of(row));
                if let Some(reason) = self.invalid(row, pg) {
                    out.rejected.push(Rejected { key, why: Rejection::Invalid, reason });
                    return false;
                }
                if !seen.insert(key.clone()) {
                    out.rejected.push(Rejected {
                        key,
                        why: Rejection::Duplicate,
                        reason: "the same key twice in the source".into(),
                    });
                    return false;
                }
                true
            })
            .collect();

        // 2. References to rows of the same table that are not there yet: written empty for now.
        for &at in &own {
            let wanted: Vec<Vec<Value>> =
                rows.iter().filter(|r| !r[at].is_null()).map(|r| vec![r[at].clone()]).collect();
            let present = self.present_keys(tx, self.table, &self.table.pk, &wanted).await?;
            for row in rows.iter_mut() {
                let v = row[at].clone();
                if !v.is_null() && !seen.contains(&v.display()) && !present.contains(&v.display()) {
                    let key = self.key_of(row);
                    row[at] = Value::Null;
                    self.deferred.push(Deferred { key, column: at, value: v });
                }
            }
        }

        // 3. Rows already in the target.
        let keys: Vec<Vec<Value>> = rows.iter().map(|r| self.key_of(r)).collect();
        let cols: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        let pk: Vec<&str> = self.table.pk.iter().map(String::as_str).collect();
        let existing: HashMap<String, Vec<Value>> = rows_where(tx, self.table, &cols, &pk, &keys)
            .await?
            .into_iter()
            .map(|r| (key_text(&self.key_of(&r)), r))
            .collect();
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for row in rows {
            let key = self.key_of(&row);
            match existing.get(&key_text(&key)) {
                None => inserts.push(row),
                Some(old) if self.same(&row, old, &own) => {
                    // Filled in by an earlier run or still to fill in: the own references the
                    // target holds empty are completed by `finish`.
                    for &at in &own {
                        if old[at].is_null() && !row[at].is_null() {
                            self.deferred.push(Deferred {
                                key: key.clone(),
                                column: at,
                                value: row[at].clone(),
                            });
                        }
                    }
                    out.identical += 1;
                }
                Some(_) if self.mode == Mode::Overwrite => updates.push(row),
                Some(_) => out.rejected.push(Rejected {
                    key: key_text(&key),
                    why: Rejection::Conflict,
                    reason: "already in the target with other values (kept)".into(),
                }),
            }
        }

        // 4. Unique values held by other rows, then missing parents.
        self.drop_duplicates(tx, &mut inserts, &mut out).await?;
        self.drop_duplicates(tx, &mut updates, &mut out).await?;
        for (at, fk) in &references {
            self.drop_orphans(tx, at, fk, &mut inserts, &mut out).await?;
            self.drop_orphans(tx, at, fk, &mut updates, &mut out).await?;
        }

        // 5. The writes.
        out.inserted += self.insert(tx, &inserts, false, pg, &mut out).await?;
        out.updated += self.insert(tx, &updates, true, pg, &mut out).await?;
        Ok(out)
    }

    /// Why the target cannot hold this row, if it cannot.
    fn invalid(&self, row: &[Value], pg: bool) -> Option<String> {
        for (i, v) in row.iter().enumerate() {
            let name = &self.columns[i];
            if let Some(col) = self.table.column(name)
                && v.is_null()
                && col.not_null
            {
                return Some(format!("{name} is empty, and the target requires a value"));
            }
            if let Err(e) = bind(self.kinds[i], v, pg) {
                return Some(format!("{name} {e}"));
            }
        }
        None
    }

    /// Whether `new` and `old` hold the same values, own references the target holds empty aside.
    /// JSON is compared by content (a text column holding JSON text against a JSON value).
    fn same(&self, new: &[Value], old: &[Value], own: &[usize]) -> bool {
        let mut kinds = self.kinds.clone();
        for (i, k) in kinds.iter_mut().enumerate() {
            if *k == Kind::Text && (matches!(new[i], Value::Json(_)) || matches!(old[i], Value::Json(_))) {
                *k = Kind::Json;
            }
        }
        let mask = |row: &[Value]| -> Vec<Value> {
            row.iter()
                .enumerate()
                .map(|(i, v)| if own.contains(&i) && old[i].is_null() { Value::Null } else { v.clone() })
                .collect()
        };
        row_digest(&kinds, &mask(new)) == row_digest(&kinds, &mask(old))
    }

    /// Of `keys` (values of `columns` of `table`), the ones present, as text.
    async fn present_keys(
        &self,
        tx: &mut Tx<'_>,
        table: &Table,
        columns: &[String],
        keys: &[Vec<Value>],
    ) -> Result<HashSet<String>, Error> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let rows = rows_where(tx, table, &cols, &cols, keys).await?;
        Ok(rows.iter().map(|r| key_text(r)).collect())
    }

    async fn drop_duplicates(
        &self,
        tx: &mut Tx<'_>,
        rows: &mut Vec<Vec<Value>>,
        out: &mut Outcome,
    ) -> Result<(), Error> {
        for unique in &self.table.uniques {
            let Some(at) = unique.iter().map(|c| self.position(c)).collect::<Option<Vec<usize>>>() else {
                continue;
            };
            let values = |r: &[Value]| -> Option<Vec<Value>> {
                let v: Vec<Value> = at.iter().map(|&i| r[i].clone()).collect();
                if v.iter().any(Value::is_null) { None } else { Some(v) }
            };
            let wanted: Vec<Vec<Value>> = rows.iter().filter_map(|r| values(r)).collect();
            if wanted.is_empty() {
                continue;
            }
            let mut cols: Vec<&str> = unique.iter().map(String::as_str).collect();
            cols.extend(self.table.pk.iter().map(String::as_str).filter(|k| !unique.iter().any(|u| u == k)));
            let pk_at: Vec<usize> =
                self.table.pk.iter().filter_map(|k| cols.iter().position(|c| c == k)).collect();
            let holders: HashMap<String, String> =
                rows_where(tx, self.table, &cols, &cols[..unique.len()], &wanted)
                    .await?
                    .into_iter()
                    .map(|r| {
                        let owner = key_text(&pk_at.iter().map(|&i| r[i].clone()).collect::<Vec<_>>());
                        (key_text(&r[..unique.len()]), owner)
                    })
                    .collect();
            let mut taken: HashMap<String, String> = HashMap::new();
            rows.retain(|r| {
                let Some(v) = values(r) else { return true };
                let (text, key) = (key_text(&v), key_text(&self.key_of(r)));
                let holder = holders.get(&text).filter(|h| **h != key).or_else(|| taken.get(&text)).cloned();
                if let Some(holder) = holder {
                    out.rejected.push(Rejected {
                        key,
                        why: Rejection::Duplicate,
                        reason: format!("{} {text} already belongs to {holder}", unique.join(", ")),
                    });
                    return false;
                }
                taken.insert(text, key);
                true
            });
        }
        Ok(())
    }

    async fn drop_orphans(
        &self,
        tx: &mut Tx<'_>,
        at: &[usize],
        fk: &ForeignKey,
        rows: &mut Vec<Vec<Value>>,
        out: &mut Outcome,
    ) -> Result<(), Error> {
        let refs = |r: &[Value]| -> Option<Vec<Value>> {
            let v: Vec<Value> = at.iter().map(|&i| r[i].clone()).collect();
            if v.iter().any(Value::is_null) { None } else { Some(v) }
        };
        let wanted: Vec<Vec<Value>> = rows.iter().filter_map(|r| refs(r)).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let parent = self.catalog.iter().find(|t| t.name == fk.parent).ok_or_else(|| {
            Error::new(format!("{} refers to a table {} that is not there", self.table.name, fk.parent))
        })?;
        let present = self.present_keys(tx, parent, &fk.parent_columns, &wanted).await?;
        rows.retain(|r| {
            let Some(v) = refs(r) else { return true };
            if present.contains(&key_text(&v)) {
                return true;
            }
            out.rejected.push(Rejected {
                key: key_text(&self.key_of(r)),
                why: Rejection::Orphan,
                reason: format!("its {} {} is not in {}", fk.columns.join(", "), key_text(&v), fk.parent),
            });
            false
        });
        Ok(())
    }

    /// `$n` for column `i`, with the cast PostgreSQL needs for JSON text.
    fn placeholder(&self, i: usize, n: usize, pg: bool) -> String {
        match self.table.column(&self.columns[i]).and_then(|c| c.pg_type.as_deref()) {
            Some(t @ ("json" | "jsonb")) if pg => format!("cast(${n} as {t})"),
            _ => format!("${n}"),
        }
    }

    /// Inserts `rows` (or, with `upsert`, replaces the rows with their keys); rows written.
    async fn insert(
        &self,
        tx: &mut Tx<'_>,
        rows: &[Vec<Value>],
        upsert: bool,
        pg: bool,
        out: &mut Outcome,
    ) -> Result<u64, Error> {
        if rows.is_empty() {
            return Ok(0);
        }
        let cols: Vec<String> = self.columns.iter().map(|c| ident(c)).collect();
        let tail = if upsert {
            let keys: Vec<String> = self.table.pk.iter().map(|k| ident(k)).collect();
            let sets: Vec<String> = cols.iter().map(|c| format!("{c} = excluded.{c}")).collect();
            format!(" on conflict ({}) do update set {}", keys.join(", "), sets.join(", "))
        } else {
            " on conflict do nothing".to_string()
        };
        let mut written = 0;
        let mut start = 0;
        while start < rows.len() {
            let mut binds: Vec<Bound> = Vec::new();
            let mut tuples = Vec::new();
            let mut bytes = 0;
            let mut end = start;
            while end < rows.len()
                && (end == start || (binds.len() + cols.len() <= MAX_BINDS && bytes < MAX_BYTES))
            {
                let mut params = Vec::with_capacity(cols.len());
                for (i, v) in rows[end].iter().enumerate() {
                    let b = bind(self.kinds[i], v, pg).map_err(Error::new)?;
                    bytes += b.weight();
                    binds.push(b);
                    params.push(self.placeholder(i, binds.len(), pg));
                }
                tuples.push(format!("({})", params.join(", ")));
                end += 1;
            }
            let sql = format!(
                "insert into {} ({}) values {}{tail}",
                ident(&self.table.name),
                cols.join(", "),
                tuples.join(", ")
            );
            let n = tx.execute(sql, &binds).await?;
            if n < (end - start) as u64 && !upsert {
                // Someone else wrote some of these keys (or unique values) in the meantime.
                out.rejected.push(Rejected {
                    key: format!("{} rows", (end - start) as u64 - n),
                    why: Rejection::Conflict,
                    reason: "written by someone else while this ran (kept)".into(),
                });
            }
            written += n;
            start = end;
        }
        Ok(written)
    }

    /// Fills in references to rows of the same table that arrived after the rows naming them; a
    /// reference whose row never came stays empty (reported).
    pub async fn finish(&mut self, tx: &mut Tx<'_>) -> Result<Outcome, Error> {
        let pg = tx.backend() == Backend::Postgres;
        let mut out = Outcome::default();
        let table = ident(&self.table.name);
        let pk: Vec<String> = self.table.pk.iter().map(|k| ident(k)).collect();
        for d in std::mem::take(&mut self.deferred) {
            let column = ident(&self.columns[d.column]);
            let kind = self.kinds[d.column];
            let mut binds = vec![bind(kind, &d.value, pg).map_err(Error::new)?];
            let mut conditions = Vec::new();
            for (i, k) in d.key.iter().enumerate() {
                binds.push(bind(self.kinds[self.pk_at[i]], k, pg).map_err(Error::new)?);
                conditions.push(format!("{} = ${}", pk[i], binds.len()));
            }
            let sql = format!(
                "update {table} set {column} = $1 where {} and {column} is null \
                 and exists (select 1 from {table} p where p.{} = $1)",
                conditions.join(" and "),
                pk[0]
            );
            if tx.execute(sql, &binds).await? == 0 {
                let present =
                    self.present_keys(tx, self.table, &self.table.pk, &[vec![d.value.clone()]]).await?;
                if present.is_empty() {
                    out.repaired.push((
                        key_text(&d.key),
                        format!("{} {} is not there; left empty", self.columns[d.column], d.value.display()),
                    ));
                }
            }
        }
        Ok(out)
    }
}
