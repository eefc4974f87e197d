//! Stored Vertex AI service accounts (docs/keys.md): the secret is the service account's JSON
//! key file; the gateway mints OAuth access tokens from it (a JWT signed RS256 with the account's
//! key, exchanged at the JSON's `token_uri`) and keeps each until shortly before it expires, so
//! requests reuse one token and concurrent requests wait for one mint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use serde_json::json;

use super::secret::SecretText;
use crate::proxy::{UpstreamClient, deepest_cause, read_limited};

/// The scope a Vertex AI token needs.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Lifetime asked for in the assertion (Google's maximum).
const ASSERTION_LIFETIME_S: i64 = 3600;
/// A token is minted again this long before it expires, so none is sent about to lapse.
const REFRESH_BEFORE_MS: i64 = 5 * 60 * 1000;
/// The token endpoint's answer is small; a larger one is refused.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// A service account as stored: its key parsed once, never printed.
pub struct ServiceAccount {
    pub client_email: String,
    token_uri: String,
    private_key_id: Option<String>,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key: String,
    token_uri: String,
    #[serde(default)]
    private_key_id: Option<String>,
}

impl ServiceAccount {
    /// The account a stored secret holds; the error never quotes the secret.
    pub fn parse(secret: &str) -> Result<ServiceAccount, String> {
        let raw: Raw = serde_json::from_str(secret).map_err(|e| {
            let why = e.to_string();
            let why = why.split(" at line").next().unwrap_or("").to_owned();
            format!(
                "must be a service account's JSON key file (type, client_email, private_key, \
                 token_uri) ({why})"
            )
        })?;
        if raw.kind != "service_account" {
            return Err("must be a JSON key file of \"type\": \"service_account\"".into());
        }
        let token_uri = url::Url::parse(&raw.token_uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or("token_uri must be an http(s) URL")?;
        let der = pem_body(&raw.private_key).ok_or("private_key must be a PEM private key")?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| "private_key must be an RSA key in PKCS#8 (BEGIN PRIVATE KEY)")?;
        Ok(ServiceAccount {
            client_email: raw.client_email,
            token_uri: token_uri.to_string(),
            private_key_id: raw.private_key_id,
            key,
        })
    }

    /// The signed JWT that asks the token endpoint for an access token.
    fn assertion(&self, now_s: i64) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now_s,
            "exp": now_s + ASSERTION_LIFETIME_S,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the token request failed".to_owned())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok().map(zeroize::Zeroizing::new)
}

#[derive(Clone)]
struct Token {
    value: SecretText,
    refresh_at_ms: i64,
}

/// Access tokens by the secret they were minted from (a new secret gets new tokens).
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Token>>>>>,
}

impl TokenCache {
    /// A token for `account` valid for a while yet: the cached one, else one minted now (one
    /// mint at a time per secret; the others wait for it).
    pub async fn token(
        &self,
        secret_id: &str,
        account: &ServiceAccount,
        client: &UpstreamClient,
        now_ms: i64,
    ) -> Result<SecretText, String> {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| "token cache lock poisoned".to_owned())?;
            slots.entry(secret_id.to_owned()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && now_ms < token.refresh_at_ms
        {
            return Ok(token.value.clone());
        }
        let token = mint(account, client, now_ms).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }
}

#[derive(Deserialize)]
struct Minted {
    access_token: String,
    #[serde(default = "default_expiry")]
    expires_in: i64,
}

fn default_expiry() -> i64 {
    ASSERTION_LIFETIME_S
}

async fn mint(
    account: &ServiceAccount,
    client: &UpstreamClient,
    now_ms: i64,
) -> Result<Token, String> {
    let assertion = account.assertion(now_ms / 1000)?;
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    let request = http::Request::post(account.token_uri.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(http_body_util::Full::new(bytes::Bytes::from(form)))
        .map_err(|e| format!("the token endpoint's URL is not valid: {e}"))?;
    let response = client.send(request).await.map_err(|e| {
        format!(
            "the token endpoint could not be reached: {}",
            deepest_cause(&e)
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the token endpoint answered {status}"));
    }
    let body = read_limited(response, MAX_TOKEN_RESPONSE_BYTES)
        .await
        .map_err(|e| format!("the token endpoint's answer was not read: {e}"))?;
    let minted: Minted = serde_json::from_slice(&body)
        .map_err(|_| "the token endpoint's answer has no access_token".to_owned())?;
    Ok(Token {
        value: SecretText::new(minted.access_token),
        refresh_at_ms: now_ms + minted.expires_in.max(0) * 1000 - REFRESH_BEFORE_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_key_file_is_refused_without_quoting_it() {
        for bad in [
            json!({"type": "service_account", "client_email": "a@b", "token_uri": "https://t",
                   "private_key": "-----BEGIN PRIVATE KEY-----\nhunter2hunter2\n-----END PRIVATE KEY-----"}),
            json!({"type": "authorized_user", "client_email": "a@b", "token_uri": "https://t",
                   "private_key": "hunter2"}),
            json!({"type": "service_account", "client_email": "a@b", "token_uri": "file:///etc",
                   "private_key": "hunter2"}),
            json!({"type": "service_account", "private_key": "hunter2"}),
        ] {
            let error = ServiceAccount::parse(&bad.to_string())
                .err()
                .unwrap_or_default();
            assert!(!error.is_empty() && !error.contains("hunter2"), "{error}");
        }
    }
}
