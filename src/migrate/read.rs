//! Reading tables generically: counts, pages in primary-key order (keyset paging, so a page costs
//! the same however far into the table it is), and the rows whose key is one of a list.

use super::Error;
use super::catalog::{Column, Table};
use super::conn::{Backend, Tx, ident};
use super::value::{Bound, Kind, Value, bind};

/// Keys per `in (…)` list.
const KEYS_PER_QUERY: usize = 400;

/// The select list for `columns`: on PostgreSQL each column is cast to what its kind decodes
/// from (`date` and `uuid` to text, `int4` to `int8`, …).
pub fn select_list(backend: Backend, columns: &[&Column]) -> String {
    columns
        .iter()
        .map(|c| {
            let name = ident(&c.name);
            match (backend, c.kind) {
                (Backend::Postgres, Kind::Int) => format!("{name}::int8"),
                (Backend::Postgres, Kind::Real) => format!("{name}::float8"),
                (Backend::Postgres, Kind::Text) => format!("{name}::text"),
                _ => name,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn count(tx: &mut Tx<'_>, table: &str) -> Result<i64, Error> {
    tx.scalar(format!("select count(*) from {}", ident(table)), &[]).await
}

/// Reads a table page by page in key order.
pub struct Pager<'t> {
    table: &'t Table,
    columns: Vec<&'t Column>,
    kinds: Vec<Kind>,
    /// Positions of the key columns in `columns`.
    key_at: Vec<usize>,
    after: Option<Vec<Value>>,
    offset: i64,
    done: bool,
}

impl<'t> Pager<'t> {
    /// A pager over `columns` of `table` (the key columns are read too, and come first when they
    /// are not among `columns`).
    pub fn new(table: &'t Table, columns: &[&str]) -> Result<Pager<'t>, Error> {
        for name in columns {
            if !table.has(name) {
                return Err(Error::new(format!("table {} has no column {name}", table.name)));
            }
        }
        let mut ordered: Vec<&Column> = table
            .pk
            .iter()
            .filter(|k| !columns.contains(&k.as_str()))
            .filter_map(|k| table.column(k))
            .collect();
        ordered.extend(columns.iter().filter_map(|n| table.column(n)));
        let key_at = table.pk.iter().filter_map(|k| ordered.iter().position(|c| &c.name == k)).collect();
        let kinds = ordered.iter().map(|c| c.kind).collect();
        Ok(Pager { table, columns: ordered, kinds, key_at, after: None, offset: 0, done: false })
    }

    /// The columns each row holds, in order.
    pub fn columns(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The next page of at most `limit` rows (empty at the end).
    pub async fn next(&mut self, tx: &mut Tx<'_>, limit: usize) -> Result<Vec<Vec<Value>>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let backend = tx.backend();
        let pg = backend == Backend::Postgres;
        let mut sql =
            format!("select {} from {}", select_list(backend, &self.columns), ident(&self.table.name));
        let mut binds = Vec::new();
        if self.table.pk.is_empty() {
            // No key: one snapshot, a stable order over every column, and offsets.
            let order: Vec<String> = (1..=self.columns.len()).map(|i| i.to_string()).collect();
            sql.push_str(&format!(" order by {} limit {limit} offset {}", order.join(", "), self.offset));
        } else {
            let keys: Vec<String> = self.table.pk.iter().map(|k| ident(k)).collect();
            if let Some(after) = &self.after {
                let params: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
                sql.push_str(&format!(" where ({}) > ({})", keys.join(", "), params.join(", ")));
                for (i, v) in after.iter().enumerate() {
                    binds.push(bind(self.kinds[self.key_at[i]], v, pg).map_err(Error::new)?);
                }
            }
            sql.push_str(&format!(" order by {} limit {limit}", keys.join(", ")));
        }
        let rows = tx.fetch(sql, &binds, &self.kinds).await?;
        if rows.len() < limit {
            self.done = true;
        }
        self.offset += rows.len() as i64;
        if let Some(last) = rows.last() {
            self.after = Some(self.key_at.iter().map(|&i| last[i].clone()).collect());
        }
        Ok(rows)
    }
}

/// The rows of `table` (its `columns`) whose `key` columns equal one of `keys`.
pub async fn rows_where(
    tx: &mut Tx<'_>,
    table: &Table,
    columns: &[&str],
    key: &[&str],
    keys: &[Vec<Value>],
) -> Result<Vec<Vec<Value>>, Error> {
    let mut cols = Vec::new();
    for name in columns {
        cols.push(
            table
                .column(name)
                .ok_or_else(|| Error::new(format!("table {} has no column {name}", table.name)))?,
        );
    }
    let key_cols: Vec<&Column> = key.iter().filter_map(|k| table.column(k)).collect();
    if key_cols.len() != key.len() {
        return Err(Error::new(format!("table {} lacks a key column of {}", table.name, key.join(", "))));
    }
    let backend = tx.backend();
    let pg = backend == Backend::Postgres;
    let kinds: Vec<Kind> = cols.iter().map(|c| c.kind).collect();
    let mut out = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let mut binds = Vec::with_capacity(chunk.len() * key.len());
        let mut tuples = Vec::with_capacity(chunk.len());
        for k in chunk {
            let mut params = Vec::with_capacity(key.len());
            for (col, v) in key_cols.iter().zip(k) {
                binds.push(bind(col.kind, v, pg).map_err(Error::new)?);
                params.push(format!("${}", binds.len()));
            }
            tuples.push(params);
        }
        let lhs: Vec<String> = key.iter().map(|k| ident(k)).collect();
        let condition = if key.len() == 1 {
            let list: Vec<String> = tuples.into_iter().map(|mut t| t.remove(0)).collect();
            format!("{} in ({})", lhs[0], list.join(", "))
        } else {
            let list: Vec<String> = tuples.into_iter().map(|t| format!("({})", t.join(", "))).collect();
            format!("({}) in (values {})", lhs.join(", "), list.join(", "))
        };
        let sql =
            format!("select {} from {} where {condition}", select_list(backend, &cols), ident(&table.name));
        out.extend(tx.fetch(sql, &binds, &kinds).await?);
    }
    Ok(out)
}

/// A bound for each of `values` against the matching columns of `table`.
pub fn binds_for(table: &Table, columns: &[&str], values: &[Value], pg: bool) -> Result<Vec<Bound>, String> {
    columns
        .iter()
        .zip(values)
        .map(|(name, v)| {
            let col = table.column(name).ok_or_else(|| format!("no column {name}"))?;
            bind(col.kind, v, pg).map_err(|e| format!("{name} {e}"))
        })
        .collect()
}
