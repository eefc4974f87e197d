//! `tollgate config check`'s look at the data directory: could `serve` create it and write in
//! it? Nothing is created; the answer names the path.

use std::path::Path;

/// Problems with `dir` as a data directory, each naming the path.
pub fn problems(dir: &Path) -> Vec<String> {
    let shown = dir.display();
    if dir.exists() {
        if !dir.is_dir() {
            return vec![format!(
                "server.data_dir: the data directory {shown} is not a directory"
            )];
        }
        return writable(dir)
            .err()
            .map(|e| format!("server.data_dir: cannot write in the data directory {shown}: {e}"))
            .into_iter()
            .collect();
    }
    // The nearest ancestor that exists is where the first directory would be created.
    let existing = dir
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists());
    let Some(existing) = existing else {
        return Vec::new();
    };
    let why = if existing.is_dir() {
        writable(existing)
            .err()
            .map(|e| format!("{}: {e}", existing.display()))
    } else {
        Some(format!("{} is not a directory", existing.display()))
    };
    why.map(|why| format!("server.data_dir: cannot create the data directory {shown}: {why}"))
        .into_iter()
        .collect()
}

#[cfg(unix)]
fn writable(dir: &Path) -> std::io::Result<()> {
    use rustix::fs::{Access, access};
    access(dir, Access::WRITE_OK | Access::EXEC_OK).map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn writable(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::problems;

    #[test]
    fn a_data_dir_under_a_file_is_named_with_its_cause() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("file");
        std::fs::write(&file, "").unwrap();
        let under = file.join("data");
        assert_eq!(
            problems(&under),
            vec![format!(
                "server.data_dir: cannot create the data directory {}: {} is not a directory",
                under.display(),
                file.display()
            )]
        );
        assert_eq!(
            problems(&file),
            vec![format!(
                "server.data_dir: the data directory {} is not a directory",
                file.display()
            )]
        );
        assert!(problems(&root.path().join("new/deeper")).is_empty());
        assert!(problems(root.path()).is_empty());
    }
}
