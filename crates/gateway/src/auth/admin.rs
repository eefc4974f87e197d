//! The admin token: from configuration, or generated on first start and written to
//! `<data_dir>/admin-token` (mode 0600) with only its hash in the store.

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
        let token = generate_token(PREFIX)?;
        write_private_file(&server.data_dir.join(TOKEN_FILE), &token)?;
        let admin = AdminToken::from_token(&token);
        store
            .put_setting(SETTING_KEY, &encode_hex(&admin.sha256))
            .await?;
        Ok((admin, Some(token)))
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
