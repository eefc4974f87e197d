//! Private modes for the data directory: a umask so everything created is 0700/0600, and a
//! start-up check that warns about what an older version (or an operator) left readable.

use std::path::{Path, PathBuf};

/// How many loose paths are named one by one; the rest are counted.
const NAMED_AT_MOST: usize = 10;
/// How deep the check looks (the directory holds `spool/` and files, nothing deeper).
const DEPTH: usize = 3;

/// Makes files this process creates 0600 and directories 0700: the data directory holds every
/// logged prompt and the token hashes (docs/deployment.md, "File permissions").
pub fn private_umask() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}

/// A path other users can read, write or enter, with its permission bits.
#[derive(Debug, PartialEq, Eq)]
pub struct Loose {
    pub path: PathBuf,
    pub mode: u32,
    pub dir: bool,
}

/// Every path under `dir` (itself included) with group or other permission bits set.
pub fn loose_paths(dir: &Path) -> Vec<Loose> {
    let mut loose = Vec::new();
    walk(dir, DEPTH, &mut loose);
    loose
}

#[cfg(unix)]
fn walk(path: &Path, depth: usize, loose: &mut Vec<Loose>) {
    use std::os::unix::fs::PermissionsExt;
    // Not followed: a link's target is not the data directory's to judge.
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        loose.push(Loose {
            path: path.to_owned(),
            mode,
            dir: meta.is_dir(),
        });
    }
    if meta.is_dir()
        && depth > 0
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            walk(&entry.path(), depth - 1, loose);
        }
    }
}

#[cfg(not(unix))]
fn walk(_path: &Path, _depth: usize, _loose: &mut Vec<Loose>) {}

/// One warning per loose path (at most [`NAMED_AT_MOST`]), each naming the path, its mode and
/// the command that fixes it.
pub fn warn_if_loose(dir: &Path) {
    let loose = loose_paths(dir);
    for item in loose.iter().take(NAMED_AT_MOST) {
        let wanted = if item.dir { "700" } else { "600" };
        tracing::warn!(
            "{} is readable by other users (mode {:o}, wanted {wanted}): it holds logged prompts \
             and token hashes; fix with `chmod {wanted} {}`",
            item.path.display(),
            item.mode,
            item.path.display()
        );
    }
    if loose.len() > NAMED_AT_MOST {
        tracing::warn!(
            "{} more paths under {} are readable by other users; fix all with \
             `chmod -R go-rwx {}`",
            loose.len() - NAMED_AT_MOST,
            dir.display(),
            dir.display()
        );
    }
}

#[cfg(all(test, unix))]
mod tests {

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn group_or_other_bits_are_loose_owner_bits_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir(root.join("spool")).unwrap();
        std::fs::set_permissions(root.join("spool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        for (name, mode) in [("a", 0o600), ("b", 0o644), ("spool/1.spool", 0o640)] {
            std::fs::write(root.join(name), "x").unwrap();
            std::fs::set_permissions(root.join(name), std::fs::Permissions::from_mode(mode))
                .unwrap();
        }
        let mut found: Vec<(PathBuf, u32)> = loose_paths(root)
            .into_iter()
            .map(|l| (l.path, l.mode))
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                (root.join("b"), 0o644),
                (root.join("spool"), 0o755),
                (root.join("spool/1.spool"), 0o640),
            ]
        );
    }
}
