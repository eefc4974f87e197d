//! Authentication (docs/security.md): the admin token for the management API, run tokens for
//! authenticated gateways. Only SHA-256 hashes are kept; comparisons are constant-time.

mod admin;
mod glob;
mod rate_limit;
mod scope;
mod tokens;

pub use admin::AdminToken;
pub use glob::matches as glob_matches;
pub use rate_limit::TokenRateLimit;
pub use scope::{TOKEN_ID_KEY, TokenScope, refuse_reserved_key};
pub use tokens::{CreatedToken, TokenRegistry, looks_like_run_token};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub(crate) fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// 192 random bits, in hex.
const TOKEN_HEX_CHARS: usize = 48;

/// A new random token: a readable prefix and 192 bits from the OS.
pub(crate) fn generate_token(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; TOKEN_HEX_CHARS / 2];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let mut token = String::with_capacity(prefix.len() + 48);
    token.push_str(prefix);
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    Ok(token)
}

/// The token in `Bearer <token>`, if the value has that form.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
