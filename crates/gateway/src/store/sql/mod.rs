//! SQL that the SQLite and PostgreSQL stores share, written once: what differs between the two
//! (placeholders, substring tests, NULL ordering, the metadata JSON) is in [`Dialect`]; the
//! statements the logs API and the analytics reads make are built in [`logs`] and [`rollups`].
//! Each store only binds the [`Param`]s its way and executes.

pub(crate) mod groups;
pub(crate) mod ingest;
pub(crate) mod log_store;
pub(crate) mod logs;
pub(crate) mod rollups;

use serde_json::Value;

use super::postgres::{pg_json, pg_text};

/// The two SQL dialects the stores speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value, independent of the driver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Integer(i64),
    Real(f64),
    Bool(bool),
    /// A JSON document (PostgreSQL's `jsonb` copy of the metadata).
    Json(Value),
    Bytes(Vec<u8>),
}

impl Param {
    /// PostgreSQL's name of the parameter's type.
    fn pg_type(&self) -> &'static str {
        match self {
            Param::Text(_) => "text",
            Param::Integer(_) => "int8",
            Param::Real(_) => "float8",
            Param::Bool(_) => "bool",
            Param::Json(_) => "jsonb",
            Param::Bytes(_) => "bytea",
        }
    }
}

impl Dialect {
    /// The placeholder of parameter `n` (from 1). PostgreSQL's carries its type, so the server
    /// never has to guess it.
    pub(crate) fn placeholder(self, n: usize, pg_type: &str) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{pg_type}"),
        }
    }

    /// Case-insensitive substring test. Neither `instr` nor `strpos` has wildcards to escape,
    /// unlike LIKE.
    pub(crate) fn contains(self, expr: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr(lower({expr}), lower({needle})) > 0"),
            Dialect::Postgres => format!("strpos(lower({expr}), lower({needle})) > 0"),
        }
    }

    /// A true boolean column value (SQLite keeps booleans as 0/1).
    pub(crate) fn truth(self) -> &'static str {
        match self {
            Dialect::Sqlite => "1",
            Dialect::Postgres => "TRUE",
        }
    }

    /// `atom`, with NULL read as false.
    pub(crate) fn null_as_false(self, atom: &str) -> String {
        match self {
            Dialect::Sqlite => format!("IFNULL({atom}, 0)"),
            Dialect::Postgres => format!("COALESCE({atom}, FALSE)"),
        }
    }

    /// An ORDER BY direction. NULL sorts as the smallest value in both: that is SQLite's
    /// rule, and PostgreSQL (whose default is the opposite) is told so; its gateway index is
    /// built with the same NULL order, so the default listing walks it in either direction.
    pub(crate) fn direction(self, ascending: bool) -> &'static str {
        match (self, ascending) {
            (Dialect::Sqlite, true) => "ASC",
            (Dialect::Sqlite, false) => "DESC",
            (Dialect::Postgres, true) => "ASC NULLS FIRST",
            (Dialect::Postgres, false) => "DESC NULLS LAST",
        }
    }

    /// The row's metadata entries as a table `m` with columns `key` and `value`. Invalid or
    /// non-object metadata (never written by the gateway) reads as no entries instead of
    /// failing the query: SQLite checks it here, PostgreSQL keeps only objects in
    /// `metadata_json`.
    pub(crate) fn metadata_entries(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "json_each(CASE WHEN json_valid(logs.metadata) THEN logs.metadata END) AS m"
            }
            Dialect::Postgres => "jsonb_each_text(logs.metadata_json) AS m(key, value)",
        }
    }

    /// A metadata entry's value as text, booleans as `true`/`false` (SQLite's json_each yields
    /// them as 1/0), numbers as written.
    pub(crate) fn metadata_value(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "(CASE m.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(m.value AS TEXT) END)"
            }
            Dialect::Postgres => "m.value",
        }
    }

    /// The column that keeps a parsed copy of `metadata` for the filters, if the dialect has one.
    pub(crate) fn metadata_json_column(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("metadata_json"),
        }
    }
}

/// A statement (or a clause of one) and its parameters, numbered in the order bound.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub dialect: Dialect,
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    pub(crate) fn new(dialect: Dialect) -> Statement {
        Statement {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder.
    pub(crate) fn bind(&mut self, value: Param) -> String {
        let value = match (self.dialect, value) {
            // Stored text has NUL as U+FFFD in PostgreSQL; a bound value compares the same way.
            (Dialect::Postgres, Param::Text(text)) => Param::Text(pg_text(&text).into_owned()),
            (_, other) => other,
        };
        let placeholder = self
            .dialect
            .placeholder(self.params.len() + 1, value.pg_type());
        self.params.push(value);
        placeholder
    }

    pub(crate) fn bind_text(&mut self, text: &str) -> String {
        self.bind(Param::Text(text.to_owned()))
    }
}

/// The metadata text as the filters read it: kept only when it is a JSON object, with text
/// made storable in PostgreSQL.
pub(crate) fn metadata_object(metadata: Option<&str>) -> Option<Value> {
    metadata
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .filter(Value::is_object)
        .map(pg_json)
}
