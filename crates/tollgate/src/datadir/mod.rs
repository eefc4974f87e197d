//! Claiming a data directory before anything in it is read or changed: private modes for what
//! this process creates, the exclusive lock, and a warning about what others can read.

pub mod check;
mod lock;
pub mod modes;

use std::path::Path;

use anyhow::Context;

use lock::Lock;

/// The locks a process holds on what it owns; they must live as long as it uses them.
#[derive(Debug)]
pub struct Claim {
    _locks: Vec<Lock>,
}

/// For `serve`: creates `dir` if needed (0700), locks it (and `sqlite`, the database, when it
/// lives elsewhere), and warns about loose modes.
pub fn claim(dir: &Path, sqlite: Option<&Path>) -> anyhow::Result<Claim> {
    modes::private_umask();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mut locks = vec![Lock::data_dir(dir)?];
    locks.extend(database_lock(dir, sqlite)?);
    modes::warn_if_loose(dir);
    Ok(Claim { _locks: locks })
}

/// For verbs that read an existing deployment (`migrate`): like [`claim`], but a directory or
/// database that does not exist is left for the verb to report.
pub fn claim_existing(dir: &Path, sqlite: &Path) -> anyhow::Result<Claim> {
    modes::private_umask();
    let mut locks = Vec::new();
    if dir.is_dir() {
        locks.push(Lock::data_dir(dir)?);
    }
    if sqlite.is_file() {
        locks.extend(database_lock(dir, Some(sqlite))?);
    }
    Ok(Claim { _locks: locks })
}

/// A SQLite database outside the data directory (`storage.url = "sqlite://…"`) gets a lock of
/// its own: instances with separate data directories would otherwise share it.
fn database_lock(dir: &Path, sqlite: Option<&Path>) -> anyhow::Result<Option<Lock>> {
    let Some(db) = sqlite else { return Ok(None) };
    let parent = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let inside = match (parent.canonicalize(), dir.canonicalize()) {
        (Ok(parent), Ok(dir)) => parent == dir,
        _ => false,
    };
    if inside {
        Ok(None)
    } else {
        Lock::database(db).map(Some)
    }
}
