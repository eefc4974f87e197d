//! Log columns as PostgreSQL arrays: one typed array per column of a batch of [`LogRow`]s, read
//! through [`LogColumn::get`], for the statements that write whole batches through `UNNEST`
//! (ingest and the transfer).

use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::pg_text;
use crate::store::logs::LogRow;
use crate::store::logs::columns::{ColumnType, LogColumn};
use crate::store::sql::Param;

/// One column of a batch as an array of its type, text made storable ([`pg_text`]).
#[derive(Debug)]
pub(in crate::store) enum Array {
    Text(Vec<Option<String>>),
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Int2(Vec<Option<i16>>),
    Bytea(Vec<Option<Vec<u8>>>),
    Float8(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Json(Vec<Option<Value>>),
}

impl Array {
    /// `column`'s values in `rows`.
    pub(in crate::store) fn of<'a>(
        column: &LogColumn,
        rows: impl Iterator<Item = &'a LogRow>,
    ) -> Array {
        Array::column(column.ty, rows.map(|row| (column.get)(row)))
    }

    pub(in crate::store) fn column(
        ty: ColumnType,
        values: impl Iterator<Item = Option<Param>>,
    ) -> Array {
        let text = |v: Option<Param>| match v {
            // Moved, not copied, unless it holds a NUL.
            Some(Param::Text(t)) => Some(match pg_text(&t) {
                std::borrow::Cow::Borrowed(_) => t,
                std::borrow::Cow::Owned(storable) => storable,
            }),
            _ => None,
        };
        let int = |v: Option<Param>| match v {
            Some(Param::Integer(i)) => Some(i),
            _ => None,
        };
        match ty {
            ColumnType::Text => Array::Text(values.map(text).collect()),
            ColumnType::Integer => Array::Int8(values.map(int).collect()),
            ColumnType::Integer16 => Array::Int2(
                values
                    .map(|v| int(v).and_then(|i| i16::try_from(i).ok()))
                    .collect(),
            ),
            ColumnType::Bytes => Array::Bytea(
                values
                    .map(|v| match v {
                        Some(Param::Bytes(b)) => Some(b),
                        _ => None,
                    })
                    .collect(),
            ),
            ColumnType::Integer32 => Array::Int4(
                values
                    .map(|v| int(v).and_then(|i| i32::try_from(i).ok()))
                    .collect(),
            ),
            ColumnType::Real => Array::Float8(
                values
                    .map(|v| match v {
                        Some(Param::Real(f)) => Some(f),
                        _ => None,
                    })
                    .collect(),
            ),
            ColumnType::Bool => Array::Bool(
                values
                    .map(|v| match v {
                        Some(Param::Bool(b)) => Some(b),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    pub(in crate::store) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Text(v) => v,
            Array::Int8(v) => v,
            Array::Int4(v) => v,
            Array::Int2(v) => v,
            Array::Bytea(v) => v,
            Array::Float8(v) => v,
            Array::Bool(v) => v,
            Array::Json(v) => v,
        }
    }
}

/// `UNNEST($first::type[], …)` of `columns`' arrays, numbered from `first`, and the names to
/// call them by: the start of a statement that writes a batch.
pub(in crate::store) fn unnest<'a>(
    first: usize,
    columns: impl Iterator<Item = (&'a str, &'a str)>,
) -> (String, Vec<&'a str>) {
    let (names, arrays): (Vec<&str>, Vec<String>) = columns
        .enumerate()
        .map(|(i, (name, pg_type))| (name, format!("${}::{pg_type}[]", first + i)))
        .unzip();
    (format!("UNNEST({})", arrays.join(", ")), names)
}
