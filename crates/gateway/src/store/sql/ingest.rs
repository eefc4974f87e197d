//! What both stores' ingest statements share, from [`LOG_COLUMNS`](crate::store::logs::columns::LOG_COLUMNS):
//! the column beside the row that names its writer, and the end's columns as the assignments
//! that complete a row. Each store generates its statements from these once.

use crate::store::logs::columns;

/// The column that names the instance whose spool a row came from (interrupted rows are
/// marked per instance); kept beside the [`LogRow`](crate::store::logs::LogRow), not in it.
pub(crate) const WRITER_COLUMN: &str = "instance_id";

/// `name = value, …` for each column the end record sets, `value` made from the column's
/// position among them and its name: what completing a row assigns.
pub(crate) fn end_assignments(value: impl Fn(usize, &str) -> String) -> String {
    let assignments: Vec<String> = columns::set_by_end()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", c.name, value(i, c.name)))
        .collect();
    assignments.join(", ")
}
