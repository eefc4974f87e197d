//! The cache key (docs/cache.md): a SHA-256 over everything that makes two requests the same request.

use sha2::{Digest, Sha256};

use super::canon::canonical_json;

/// Bumped whenever the key layout changes, so old entries in a shared Redis are never matched.
const KEY_DOMAIN: &[u8] = b"tollgate/cache-key/v1";

/// Everything the key is computed from (docs/cache.md).
#[derive(Debug, Clone)]
pub struct KeyParts<'a> {
    pub account: &'a str,
    pub gateway: &'a str,
    pub generation: u64,
    pub provider: &'a str,
    pub method: &'a str,
    pub path_and_query: &'a str,
    /// (lower-case header name, value) of every provider credential header present in the request.
    pub credentials: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
    /// cf-aig-cache-key: replaces everything but account, gateway, generation and credentials.
    pub custom_key: Option<&'a str>,
    /// The gateway shares custom-key entries across credentials (`cache_custom_key_shared`),
    /// as Cloudflare does: a client then gets answers cached for another client's key.
    pub custom_key_shared: bool,
}

/// Hex SHA-256 of the canonical form of `parts`.
///
/// Every variable-length field is length-prefixed, so no two different requests can produce the
/// same byte stream by moving bytes across a field boundary. Credentials are sorted by name (then
/// value) because header order carries no meaning. A JSON body is canonicalised (keys sorted, no
/// insignificant whitespace); anything else is hashed as bytes. A tag byte says which, so a
/// non-JSON body can never collide with a canonical one.
pub fn cache_key(parts: &KeyParts<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(KEY_DOMAIN);
    field(&mut hasher, parts.account.as_bytes());
    field(&mut hasher, parts.gateway.as_bytes());
    hasher.update(parts.generation.to_be_bytes());
    match parts.custom_key {
        Some(custom) => {
            hasher.update(b"C");
            field(&mut hasher, custom.as_bytes());
            if !parts.custom_key_shared {
                credentials(&mut hasher, &parts.credentials);
            }
        }
        None => {
            hasher.update(b"R");
            field(&mut hasher, parts.provider.as_bytes());
            field(&mut hasher, parts.method.as_bytes());
            field(&mut hasher, parts.path_and_query.as_bytes());
            credentials(&mut hasher, &parts.credentials);
            match canonical_json(parts.body) {
                Some(canonical) => {
                    hasher.update(b"J");
                    field(&mut hasher, &canonical);
                }
                None => {
                    hasher.update(b"B");
                    field(&mut hasher, parts.body);
                }
            }
        }
    }
    hex(&hasher.finalize())
}

fn credentials(hasher: &mut Sha256, credentials: &[(&str, &[u8])]) {
    let mut credentials = credentials.to_vec();
    credentials.sort_unstable();
    hasher.update((credentials.len() as u64).to_be_bytes());
    for (name, value) in credentials {
        field(hasher, name.as_bytes());
        field(hasher, value);
    }
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
