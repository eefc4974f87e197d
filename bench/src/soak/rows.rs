//! Reading a stopped gateway's SQLite log table: which rows exist, and which event ids repeat.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The rows of one database, by event id and by log id.
pub struct Rows {
    /// event id → (rows with it, completed, error)
    pub by_event: HashMap<String, (usize, bool, Option<String>)>,
    pub ids: HashSet<String>,
    pub total: usize,
    pub integrity_ok: bool,
}

impl Rows {
    pub fn read(database: &Path) -> anyhow::Result<Rows> {
        let db = rusqlite::Connection::open_with_flags(
            database,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let integrity: String = db.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        let mut statement = db.prepare("SELECT id, event_id, completed, error FROM logs")?;
        let mut rows = Rows {
            by_event: HashMap::new(),
            ids: HashSet::new(),
            total: 0,
            integrity_ok: integrity == "ok",
        };
        let mut query = statement.query([])?;
        while let Some(row) = query.next()? {
            rows.total += 1;
            rows.ids.insert(row.get(0)?);
            if let Some(event) = row.get::<_, Option<String>>(1)? {
                let entry = rows.by_event.entry(event).or_insert((0, true, None));
                entry.0 += 1;
                entry.1 &= row.get::<_, bool>(2)?;
                entry.2 = row.get(3)?;
            }
        }
        Ok(rows)
    }

    /// Event ids with more than one row, among those starting with `prefix`.
    pub fn duplicated(&self, prefix: &str) -> usize {
        self.by_event
            .iter()
            .filter(|(event, (count, _, _))| event.starts_with(prefix) && *count > 1)
            .count()
    }
}
