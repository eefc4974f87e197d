//! The key-encryption keys (docs/keys.md): read from `[secrets] key_file`, from
//! `TOLLGATE_SECRETS__KEY`, or from `<data_dir>/secrets.key`, made at the first start. A key file
//! readable by anyone but its owner is refused, as a private SSH key is.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::crypto::Kek;
use crate::config::KekSource;

/// The keys loaded: the first seals new secrets; the others (kept during a rotation) only open
/// secrets sealed before it.
#[derive(Debug, Clone)]
pub struct KekRing {
    keys: Vec<Kek>,
}

impl KekRing {
    pub fn new(current: Kek, previous: Vec<Kek>) -> KekRing {
        let mut keys = vec![current];
        keys.extend(previous);
        KekRing { keys }
    }

    pub fn current(&self) -> &Kek {
        // Never empty: built from at least one key.
        &self.keys[0]
    }

    /// Every key, the current one first.
    pub fn all(&self) -> &[Kek] {
        &self.keys
    }

    pub fn find(&self, id: &str) -> Option<&Kek> {
        self.keys.iter().find(|k| k.id() == id)
    }

    /// These keys plus any of `older` not among them (a key once loaded still opens what it
    /// sealed, even after the file no longer lists it).
    pub fn merged_with(mut self, older: &KekRing) -> KekRing {
        for key in &older.keys {
            if self.find(key.id()).is_none() {
                self.keys.push(key.clone());
            }
        }
        self
    }
}

/// The keys the source holds, making `<data_dir>/secrets.key` if it is the source and missing.
pub fn load(source: &KekSource) -> anyhow::Result<KekRing> {
    match source {
        KekSource::Inline(keys) => parse_list(keys.expose().split(','), "secrets.key"),
        KekSource::File(path) => read_file(path),
        KekSource::Generated(path) => {
            if !path.exists() {
                let kek = Kek::generate()?;
                write_new(path, &[&kek])?;
                tracing::info!(path = %path.display(), "generated the key-encryption key for stored provider keys");
            }
            read_file(path)
        }
    }
}

/// The file a source re-reads to notice a rotation; none for keys from the environment.
pub fn file_of(source: &KekSource) -> Option<&Path> {
    match source {
        KekSource::File(path) | KekSource::Generated(path) => Some(path),
        KekSource::Inline(_) => None,
    }
}

fn parse_list<'a>(keys: impl Iterator<Item = &'a str>, place: &str) -> anyhow::Result<KekRing> {
    let mut parsed = Vec::new();
    for (index, text) in keys.enumerate() {
        let kek =
            Kek::parse(text).map_err(|why| anyhow::anyhow!("{place}: key {}: {why}", index + 1))?;
        parsed.push(kek);
    }
    let mut parsed = parsed.into_iter();
    let current = parsed
        .next()
        .ok_or_else(|| anyhow::anyhow!("{place}: holds no key"))?;
    Ok(KekRing::new(current, parsed.collect()))
}

fn read_file(path: &Path) -> anyhow::Result<KekRing> {
    check_private(path)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secrets key file {}", path.display()))?,
    );
    let lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    parse_list(lines, &path.display().to_string())
}

/// Refuses a key file that its group or others may read or write.
#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the secrets key file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "the secrets key file {} is readable or writable by others (mode {mode:04o}): anyone \
             who can read it can decrypt every stored provider key; make it private with \
             `chmod 600 {}` and start again",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

const HEADER: &str = "# Tollgate key-encryption key (docs/keys.md). The first key seals new secrets; any\n\
# after it only open secrets sealed before a rotation. Keep this file private (mode 0600).\n";

/// Writes a new key file (mode 0600); fails if one exists.
fn write_new(path: &Path, keys: &[&Kek]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = private_options()
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create the secrets key file {}", path.display()))?;
    write_keys(&mut file, keys)?;
    file.sync_all()?;
    Ok(())
}

/// Replaces the key file with `keys` at once (a new file renamed over it), so a gateway reading
/// it meanwhile sees the old file or the new one, never half of one.
pub fn replace_file(path: &Path, keys: &[&Kek]) -> anyhow::Result<()> {
    let temporary = sibling(path, ".new");
    let _ = std::fs::remove_file(&temporary);
    let mut file = private_options()
        .create_new(true)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    write_keys(&mut file, keys)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

fn write_keys(file: &mut std::fs::File, keys: &[&Kek]) -> std::io::Result<()> {
    let mut text = zeroize::Zeroizing::new(String::from(HEADER));
    for key in keys {
        text.push_str(&key.encode());
        text.push('\n');
    }
    file.write_all(text.as_bytes())
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_makes_a_private_key_file_and_later_starts_read_it() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("secrets.key");
        let source = KekSource::Generated(path.clone());
        let first = load(&source)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = load(&source)?;
        assert_eq!(first.current().id(), again.current().id());
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_naming_the_fix() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("kek");
        replace_file(&path, &[&Kek::generate()?])?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let error = load(&KekSource::File(path.clone()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("mode 0644") && error.contains("chmod 600"),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn a_file_lists_the_current_key_first_and_keeps_the_previous() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("kek");
        let (new, old) = (Kek::generate()?, Kek::generate()?);
        replace_file(&path, &[&new, &old])?;
        let ring = load(&KekSource::File(path))?;
        assert_eq!(ring.current().id(), new.id());
        assert!(ring.find(old.id()).is_some());
        Ok(())
    }
}
