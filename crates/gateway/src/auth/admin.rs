//! The admin token: from configuration, or generated on first start and written to
//! `<data_dir>/admin-token` (mode 0600) with only its hash in the store. Of instances sharing a
//! database that start together, the first to store its hash wins (docs/deployment.md).

use std::io::Write;
use std::path::Path;

use super::{generate_token, hashes_equal, sha256};
use crate::config::ServerConfig;
use crate::store::Store;

const SETTING_KEY: &str = "admin_token_sha256";
const PREFIX: &str = "tga_";
const GENERATED_LEN: usize = PREFIX.len() + super::TOKEN_HEX_CHARS;
pub const TOKEN_FILE: &str = "admin-token";

#[derive(Debug, Clone)]
pub struct AdminToken {
    sha256: [u8; 32],
    /// Lets the outbound check skip hashing values that cannot be the token.
    len: usize,
}

impl AdminToken {
    /// Returns the admin token, and the token text itself when it was generated just now
    /// (so the caller can print it once).
    pub async fn bootstrap(
        server: &ServerConfig,
        store: &dyn Store,
    ) -> anyhow::Result<(AdminToken, Option<String>)> {
        if let Some(token) = &server.admin_token {
            return Ok((AdminToken::from_token(token.expose()), None));
        }
        if let Some(hex) = store.get_setting(SETTING_KEY).await? {
            let sha256 = decode_hex(&hex)
                .ok_or_else(|| anyhow::anyhow!("stored admin token hash is corrupt"))?;
            // Only generated tokens have their hash stored.
            return Ok((
                AdminToken {
                    sha256,
                    len: GENERATED_LEN,
                },
                None,
            ));
        }
        // The file first: a token whose hash is stored but whose text was never written would
        // lock everyone out.
        let token = generate_token(PREFIX)?;
        let file = server.data_dir.join(TOKEN_FILE);
        write_private_file(&file, &token)?;
        let admin = AdminToken::from_token(&token);
        let stored = store
            .insert_setting(SETTING_KEY, &encode_hex(&admin.sha256))
            .await?;
        if stored == encode_hex(&admin.sha256) {
            return Ok((admin, Some(token)));
        }
        // Another instance on the same shared database generated one at the same moment and
        // won: its token is the admin token, and ours (in our own data directory) is void.
        std::fs::remove_file(&file)?;
        tracing::warn!(
            "another instance sharing this database generated the admin token first: use its \
             admin-token file, or set server.admin_token on every instance"
        );
        let sha256 = decode_hex(&stored)
            .ok_or_else(|| anyhow::anyhow!("stored admin token hash is corrupt"))?;
        Ok((
            AdminToken {
                sha256,
                len: GENERATED_LEN,
            },
            None,
        ))
    }

    pub fn from_token(token: &str) -> AdminToken {
        AdminToken {
            sha256: sha256(token),
            len: token.len(),
        }
    }

    /// Constant-time whatever `presented` is (the management API's check).
    pub fn matches(&self, presented: &str) -> bool {
        hashes_equal(&self.sha256, &sha256(presented))
    }

    /// [`AdminToken::matches`] for the values of every request bound upstream: those of another
    /// length are skipped without hashing.
    pub fn is(&self, value: &str) -> bool {
        value.len() == self.len && self.matches(value)
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its old mode on open; make sure it is private.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(contents.as_bytes())?;
        file.write_all(b"\n")
    }
}

fn encode_hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};
    use crate::store::sqlite::SqliteStore;

    fn server(data_dir: &Path) -> anyhow::Result<ServerConfig> {
        let overrides = Overrides {
            data_dir: Some(data_dir.to_owned()),
            ..Overrides::default()
        };
        Ok(Config::parse("", Vec::new(), &overrides)?.server)
    }

    /// Two instances with data directories of their own on one database, both first-starting:
    /// one token wins, both accept it, and no data directory keeps a token that does not work.
    #[tokio::test]
    async fn instances_generating_at_once_agree_on_one_token() -> anyhow::Result<()> {
        let (a, b, db) = (
            tempfile::tempdir()?,
            tempfile::tempdir()?,
            tempfile::tempdir()?,
        );
        let store = SqliteStore::open(&db.path().join("t.db"))?;
        let (server_a, server_b) = (server(a.path())?, server(b.path())?);
        let (first, second) = tokio::join!(
            AdminToken::bootstrap(&server_a, &store),
            AdminToken::bootstrap(&server_b, &store)
        );
        let ((admin_a, new_a), (admin_b, new_b)) = (first?, second?);
        let Some(token) = new_a.clone().or(new_b.clone()) else {
            anyhow::bail!("one instance generated the token");
        };
        anyhow::ensure!(new_a.is_none() || new_b.is_none(), "only one token is new");
        anyhow::ensure!(admin_a.matches(&token) && admin_b.matches(&token));
        let files: Vec<String> = [a.path(), b.path()]
            .iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join(TOKEN_FILE)).ok())
            .collect();
        anyhow::ensure!(files == vec![format!("{token}\n")], "{files:?}");
        Ok(())
    }
}
