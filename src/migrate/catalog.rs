//! What a database holds, read from its own catalogue (SQLite's `sqlite_master` and pragmas,
//! PostgreSQL's `pg_catalog` in the current schema): tables, their columns and kinds, primary keys,
//! unique constraints and foreign keys; and an order of tables where parents come first.

use std::collections::{BTreeMap, HashSet};

use super::Error;
use super::conn::{Backend, Tx};
use super::value::{Bound, Kind, Value};

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// PostgreSQL's type name (`jsonb`, `json`, …), for casts of bound JSON text.
    pub pg_type: Option<String>,
    pub not_null: bool,
    pub has_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Primary-key columns, in key order (empty when the table has none).
    pub pk: Vec<String>,
    /// Column sets of unique constraints other than the primary key (plain columns, not partial).
    pub uniques: Vec<Vec<String>>,
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.column(name).is_some()
    }
}

/// Every table of the database (SQLite's internal tables excluded), in creation order.
pub async fn tables(tx: &mut Tx<'_>) -> Result<Vec<Table>, Error> {
    let names = table_names(tx).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(match tx.backend() {
            Backend::Sqlite => sqlite_table(tx, name).await?,
            Backend::Postgres => pg_table(tx, name).await?,
        });
    }
    Ok(out)
}

pub async fn table_names(tx: &mut Tx<'_>) -> Result<Vec<String>, Error> {
    let sql = match tx.backend() {
        Backend::Sqlite => {
            "select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by rowid"
        }
        Backend::Postgres => {
            "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = current_schema() and c.relkind in ('r', 'p') order by c.oid"
        }
    };
    let rows = tx.fetch(sql.to_string(), &[], &[Kind::Text]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(|v| v.as_str().map(str::to_string)))
        .collect())
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Null => String::new(),
        other => other.display(),
    }
}

fn split(list: &str) -> Vec<String> {
    list.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The kind of a SQLite column from its declared type (SQLite's affinity rules, plus the names
/// ORMs use: `BOOLEAN`, `JSON`, `DATE`).
pub fn sqlite_kind(declared: &str) -> Kind {
    let t = declared.to_ascii_lowercase();
    if t.contains("bool") {
        Kind::Bool
    } else if t.contains("int") {
        Kind::Int
    } else if t.contains("json") {
        Kind::Json
    } else if t.contains("char") || t.contains("clob") || t.contains("text") {
        Kind::Text
    } else if t.contains("real")
        || t.contains("floa")
        || t.contains("doub")
        || t.contains("numeric")
        || t.contains("decimal")
    {
        Kind::Real
    } else if t.contains("blob") {
        Kind::Blob
    } else {
        Kind::Text
    }
}

pub fn pg_kind(typname: &str) -> Kind {
    match typname {
        "int2" | "int4" | "int8" => Kind::Int,
        "bool" => Kind::Bool,
        "json" | "jsonb" => Kind::Json,
        "float4" | "float8" | "numeric" => Kind::Real,
        "bytea" => Kind::Blob,
        _ => Kind::Text,
    }
}

async fn sqlite_table(tx: &mut Tx<'_>, name: String) -> Result<Table, Error> {
    let arg = [Bound::Text(Some(name.clone()))];
    let cols = tx
        .fetch(
            "select name, type, \"notnull\", dflt_value, pk from pragma_table_info($1) order by cid".into(),
            &arg,
            &[],
        )
        .await?;
    let mut pk: Vec<(i64, String)> = Vec::new();
    let mut columns = Vec::new();
    for c in &cols {
        let col = text(&c[0]);
        if c[4].as_i64().unwrap_or(0) > 0 {
            pk.push((c[4].as_i64().unwrap_or(0), col.clone()));
        }
        columns.push(Column {
            name: col,
            kind: sqlite_kind(&text(&c[1])),
            pg_type: None,
            not_null: c[2].as_i64().unwrap_or(0) != 0,
            has_default: !c[3].is_null(),
        });
    }
    pk.sort();
    let mut uniques = Vec::new();
    let indexes = tx
        .fetch("select name, \"unique\", origin, partial from pragma_index_list($1)".into(), &arg, &[])
        .await?;
    for ix in indexes {
        if ix[1].as_i64() != Some(1) || text(&ix[2]) == "pk" || ix[3].as_i64() == Some(1) {
            continue;
        }
        let parts = tx
            .fetch(
                "select name from pragma_index_info($1) order by seqno".into(),
                &[Bound::Text(Some(text(&ix[0])))],
                &[],
            )
            .await?;
        if parts.iter().any(|p| p[0].is_null()) {
            continue; // an expression index
        }
        uniques.push(parts.iter().map(|p| text(&p[0])).collect());
    }
    let fks = tx
        .fetch(
            "select id, \"table\", \"from\", \"to\" from pragma_foreign_key_list($1) order by id, seq".into(),
            &arg,
            &[],
        )
        .await?;
    let mut grouped: BTreeMap<i64, ForeignKey> = BTreeMap::new();
    for f in fks {
        let fk = grouped.entry(f[0].as_i64().unwrap_or(0)).or_insert_with(|| ForeignKey {
            columns: Vec::new(),
            parent: text(&f[1]),
            parent_columns: Vec::new(),
        });
        fk.columns.push(text(&f[2]));
        fk.parent_columns.push(text(&f[3]));
    }
    let pk: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
    let mut foreign_keys: Vec<ForeignKey> = grouped.into_values().collect();
    // `references t` without a column names the parent's primary key; resolved by the caller.
    for fk in &mut foreign_keys {
        if fk.parent_columns.iter().all(|c| c.is_empty()) {
            fk.parent_columns.clear();
        }
    }
    Ok(Table { name, columns, pk, uniques, foreign_keys })
}

async fn pg_table(tx: &mut Tx<'_>, name: String) -> Result<Table, Error> {
    let arg = [Bound::Text(Some(name.clone()))];
    let cols = tx
        .fetch(
            "select a.attname::text, t.typname::text, a.attnotnull, a.atthasdef \
             from pg_attribute a join pg_class c on c.oid = a.attrelid \
             join pg_namespace n on n.oid = c.relnamespace join pg_type t on t.oid = a.atttypid \
             where n.nspname = current_schema() and c.relname = $1 and a.attnum > 0 and not a.attisdropped \
             order by a.attnum"
                .into(),
            &arg,
            &[Kind::Text, Kind::Text, Kind::Bool, Kind::Bool],
        )
        .await?;
    let columns = cols
        .iter()
        .map(|c| Column {
            name: text(&c[0]),
            kind: pg_kind(&text(&c[1])),
            pg_type: Some(text(&c[1])),
            not_null: c[2].as_bool().unwrap_or(false),
            has_default: c[3].as_bool().unwrap_or(false),
        })
        .collect();
    let key_list = |key: &str, rel: &str| {
        format!(
            "(select string_agg(a.attname::text, ',' order by k.ord) from unnest({key}::int2[]) with ordinality k(attnum, ord) \
             join pg_attribute a on a.attrelid = {rel} and a.attnum = k.attnum)"
        )
    };
    let indexes = tx
        .fetch(
            format!(
                "select ix.indisprimary, ix.indpred is not null or 0 = any(ix.indkey::int2[]), {} \
                 from pg_index ix join pg_class c on c.oid = ix.indrelid join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = current_schema() and c.relname = $1 and ix.indisunique order by ix.indexrelid",
                key_list("ix.indkey", "ix.indrelid")
            ),
            &arg,
            &[Kind::Bool, Kind::Bool, Kind::Text],
        )
        .await?;
    let mut pk = Vec::new();
    let mut uniques = Vec::new();
    for ix in indexes {
        if ix[0].as_bool() == Some(true) {
            pk = split(&text(&ix[2]));
        } else if ix[1].as_bool() != Some(true) {
            uniques.push(split(&text(&ix[2])));
        }
    }
    let fks = tx
        .fetch(
            format!(
                "select {}, p.relname::text, {} from pg_constraint con join pg_class c on c.oid = con.conrelid \
                 join pg_namespace n on n.oid = c.relnamespace join pg_class p on p.oid = con.confrelid \
                 where con.contype = 'f' and n.nspname = current_schema() and c.relname = $1 order by con.oid",
                key_list("con.conkey", "con.conrelid"),
                key_list("con.confkey", "con.confrelid")
            ),
            &arg,
            &[Kind::Text, Kind::Text, Kind::Text],
        )
        .await?;
    let foreign_keys = fks
        .iter()
        .map(|f| ForeignKey {
            columns: split(&text(&f[0])),
            parent: text(&f[1]),
            parent_columns: split(&text(&f[2])),
        })
        .collect();
    Ok(Table { name, columns, pk, uniques, foreign_keys })
}

/// Fills in foreign keys that name no parent column (SQLite's `references t`) with the parent's
/// primary key.
pub fn resolve_foreign_keys(tables: &mut [Table]) {
    let pks: BTreeMap<String, Vec<String>> = tables.iter().map(|t| (t.name.clone(), t.pk.clone())).collect();
    for t in tables.iter_mut() {
        for fk in &mut t.foreign_keys {
            if fk.parent_columns.is_empty()
                && let Some(pk) = pks.get(&fk.parent)
            {
                fk.parent_columns = pk.clone();
            }
        }
    }
}

/// `tables` ordered so that every table comes after the tables its foreign keys name (references
/// to itself aside), keeping the given order otherwise. A cycle is an error.
pub fn parents_first(tables: Vec<Table>) -> Result<Vec<Table>, Error> {
    let names: HashSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut pending = tables;
    let mut out = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|t| {
            t.foreign_keys
                .iter()
                .all(|fk| fk.parent == t.name || done.contains(&fk.parent) || !names.contains(&fk.parent))
        });
        let Some(i) = ready else {
            let left: Vec<&str> = pending.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::new(format!("foreign keys form a cycle between {}", left.join(", "))));
        };
        let t = pending.remove(i);
        done.insert(t.name.clone());
        out.push(t);
    }
    Ok(out)
}
