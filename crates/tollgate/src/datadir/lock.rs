//! The exclusive lock on a data directory: one process at a time owns its spool, database,
//! admin token and instance id (docs/deployment.md, "One process per data directory").

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, bail};

/// The lock file inside the data directory; it holds the holder's pid, for the refusal message.
pub const LOCK_FILE: &str = "tollgate.lock";

/// Held while the process owns what it locks: the OS releases the lock when the file closes,
/// also when the process is killed, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// The lock of a data directory (which must exist): `<dir>/tollgate.lock`.
    pub fn data_dir(dir: &Path) -> anyhow::Result<Lock> {
        Lock::acquire(
            &dir.join(LOCK_FILE),
            &format!("the data directory {}", dir.display()),
        )
    }

    /// The lock of a SQLite database kept outside the data directory: `<database>.lock`. Two
    /// instances with data directories of their own would share its one spool checkpoint.
    pub fn database(db: &Path) -> anyhow::Result<Lock> {
        let mut path = db.as_os_str().to_owned();
        path.push(".lock");
        Lock::acquire(Path::new(&path), &format!("the database {}", db.display()))
    }

    /// Takes the lock at `path` or fails at once, naming `what` and the holder's pid. A refusal
    /// changes nothing: the file is opened without truncation and only the holder writes it.
    fn acquire(path: &Path, what: &str) -> anyhow::Result<Lock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                bail!(
                    "{what} is in use by another tollgate process ({}); stop it first, or give \
                     this process a data directory of its own (--data-dir)",
                    holder(&mut file)
                );
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| {
                    format!(
                        "cannot lock {}: the data directory must be on a file system with \
                         advisory locks",
                        path.display()
                    )
                });
            }
        }
        write_pid(&mut file).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Lock { _file: file })
    }
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())
}

/// "pid N", or why the pid is unknown (the holder may not have written it yet).
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    match file.take(32).read_to_string(&mut text) {
        Ok(_) => match text.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "pid not yet written".to_owned(),
        },
        Err(_) => "pid unreadable".to_owned(),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = Lock::data_dir(dir.path()).unwrap();
        let before = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(before.trim(), std::process::id().to_string());
        let refused = Lock::data_dir(dir.path()).unwrap_err().to_string();
        assert!(
            refused.contains(&dir.path().display().to_string()),
            "{refused}"
        );
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
            before,
            "a refusal leaves the file alone"
        );
        drop(held);
        Lock::data_dir(dir.path()).expect("released when the holder closes it");
    }

    #[test]
    fn a_database_lock_sits_beside_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shared.db");
        let _held = Lock::database(&db).unwrap();
        assert!(dir.path().join("shared.db.lock").is_file());
        let refused = Lock::database(&db).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("the database {}", db.display())),
            "{refused}"
        );
        Lock::data_dir(dir.path()).expect("the directory's lock is another one");
    }
}
