//! Claiming a data directory before anything in it is read or changed: private modes for what
//! this process creates, the exclusive lock, and a warning about what others can read.

mod lock;
mod modes;

use std::path::Path;

use anyhow::Context;

pub use lock::DataDirLock;

/// For `serve`: creates `dir` if needed (0700), locks it, and warns about loose modes. The lock
/// must live as long as the process uses the directory.
pub fn claim(dir: &Path) -> anyhow::Result<DataDirLock> {
    modes::private_umask();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let lock = DataDirLock::acquire(dir)?;
    modes::warn_if_loose(dir);
    Ok(lock)
}

/// For verbs that read an existing deployment (`migrate`): like [`claim`], but a directory that
/// does not exist is left for the verb to report.
pub fn claim_existing(dir: &Path) -> anyhow::Result<Option<DataDirLock>> {
    modes::private_umask();
    if !dir.is_dir() {
        return Ok(None);
    }
    DataDirLock::acquire(dir).map(Some)
}
