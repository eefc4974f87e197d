//! Stored keys on the request path (docs/keys.md). The proxy calls [`apply_stored_key`] once it
//! has the headers, URL and body it will send a provider (a Bedrock key signs all three).
//! Credential order: a provider credential the request carries wins; else the stored key of the
//! `cf-aig-byok-alias` alias, or the provider's default key; else the request goes without one,
//! unless the gateway says `byok_only` (400). Stored keys are used only on gateways with
//! authentication on. [`used_in`] and [`answered`] let each attempt (`proxy/attempts.rs`)
//! mark a key the provider refuses.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderMap, HeaderValue, Method, header};

use super::ring::{LiveKey, Refusal, sigv4_entry};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::providers::{Provider, StoredKeyAuth};
use crate::state::AppState;
use crate::store::KeyStatus;
use crate::suggest::shown;

/// `last_used_at` is written to the store at most this often per key.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// The request as it will be sent, for keys that sign it (SigV4): its final URL and body.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a Method,
    pub url: &'a str,
    pub body: &'a [u8],
}

/// Which stored key a request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub id: String,
    pub alias: String,
}

/// Puts the stored key the request is due on `headers` (the provider's own credential header),
/// or refuses the request: 400/2040 for an alias the provider has no key under, 400/2102 when
/// the gateway requires a provider credential and there is none, 429 when every key of the
/// alias is at its rate limit.
pub async fn apply_stored_key(
    state: &AppState,
    gateway: &Gateway,
    provider: &Provider,
    alias: Option<&str>,
    request: Outgoing<'_>,
    headers: &mut HeaderMap,
) -> Result<Option<KeyUse>, GatewayError> {
    if provider
        .credential_headers
        .iter()
        .any(|name| headers.contains_key(name))
    {
        return Ok(None);
    }
    let chosen = if gateway.settings.authentication {
        let now_ms = state.clock().now_ms();
        state
            .keys()
            .ring()
            .choose(
                &gateway.account_id,
                &gateway.id,
                &provider.slug,
                alias,
                now_ms,
            )
            .map_err(|refusal| refused(refusal, &provider.slug, alias))?
    } else {
        None
    };
    let Some(key) = chosen else {
        if gateway.settings.byok_only {
            return Err(GatewayError::new(
                ErrorCode::ProviderCredentialRequired,
                format!(
                    "Gateway {:?} requires provider credentials (byok_only) and this request has \
                     none for {}: send the provider's key, or store one for it (docs/keys.md)",
                    gateway.id, provider.slug
                ),
            ));
        }
        return Ok(None);
    };
    if !put_on(state, provider, &key, request, headers).await? {
        return Ok(None);
    }
    remember_use(state, &key);
    Ok(Some(KeyUse {
        id: key.row.id.clone(),
        alias: key.row.alias.clone(),
    }))
}

/// Puts the gateway's default stored key of `provider` on a call the gateway makes for itself,
/// a guardrail classifier's (docs/guardrails.md). As for a client's request, only on a gateway
/// with authentication on: otherwise anyone who can reach the gateway could spend the key.
/// `None` when there is no usable key (the call goes without one).
pub async fn apply_gateway_key(
    state: &AppState,
    gateway: &Gateway,
    provider: &Provider,
    request: Outgoing<'_>,
    headers: &mut HeaderMap,
) -> Result<Option<KeyUse>, GatewayError> {
    if !gateway.settings.authentication {
        return Ok(None);
    }
    let now_ms = state.clock().now_ms();
    let chosen = state.keys().ring().choose(
        &gateway.account_id,
        &gateway.id,
        &provider.slug,
        None,
        now_ms,
    );
    let Ok(Some(key)) = chosen else {
        return Ok(None);
    };
    if !put_on(state, provider, &key, request, headers).await? {
        return Ok(None);
    }
    remember_use(state, &key);
    Ok(Some(KeyUse {
        id: key.row.id.clone(),
        alias: key.row.alias.clone(),
    }))
}

/// Puts `key` on the request the way the provider takes it; false if this key cannot serve it
/// (its secret did not open, or is not the kind the provider needs).
async fn put_on(
    state: &AppState,
    provider: &Provider,
    key: &LiveKey,
    request: Outgoing<'_>,
    headers: &mut HeaderMap,
) -> Result<bool, GatewayError> {
    let (name, text) = match provider.stored_key_auth() {
        StoredKeyAuth::Header(name) => {
            let Some(secret) = &key.secret else {
                return Ok(false);
            };
            let bare = name != header::AUTHORIZATION || secret.expose().contains(' ');
            let text = match bare {
                true => secret.expose().to_owned(),
                false => format!("Bearer {}", secret.expose()),
            };
            (name.clone(), zeroize::Zeroizing::new(text))
        }
        StoredKeyAuth::SigV4 { service } => {
            let Some(aws) = &key.aws else {
                return Ok(false);
            };
            let now = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(crate::convert::non_negative_u64(
                    state.clock().now_ms(),
                ));
            let signed = aws.sign(
                service,
                request.method,
                request.url,
                request.body,
                headers,
                now,
            );
            return match signed {
                Ok(()) => Ok(true),
                Err(error) => {
                    tracing::error!(key = %key.row.id, %error, "could not sign with a stored key");
                    Err(GatewayError::internal())
                }
            };
        }
        StoredKeyAuth::ServiceAccount => {
            let Some(account) = &key.service_account else {
                return Ok(false);
            };
            let now_ms = state.clock().now_ms();
            let minted = state
                .keys()
                .tokens
                .token(&key.row.secret_id, account, &provider.client, now_ms)
                .await;
            let token = minted.map_err(|why| {
                GatewayError::new(
                    ErrorCode::UpstreamFailed,
                    format!(
                        "Could not get an access token for the stored {} key (alias '{}'): {why}",
                        provider.slug, key.row.alias
                    ),
                )
            })?;
            let text = format!("Bearer {}", token.expose());
            (header::AUTHORIZATION, zeroize::Zeroizing::new(text))
        }
        StoredKeyAuth::Unsupported => return Ok(false),
    };
    // Stored keys were checked to be header values; a minted token is the token endpoint's.
    let mut value = HeaderValue::from_str(&text).map_err(|_| {
        GatewayError::new(
            ErrorCode::UpstreamFailed,
            format!(
                "The stored {} credential is not a header value",
                provider.slug
            ),
        )
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(true)
}

fn refused(refusal: Refusal, provider: &str, alias: Option<&str>) -> GatewayError {
    match refusal {
        Refusal::UnknownAlias(aliases) => {
            let configured = if aliases.is_empty() {
                "none".to_owned()
            } else {
                aliases
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            GatewayError::new(
                ErrorCode::ByokAliasNotFound,
                format!(
                    "Provider '{provider}' has no BYOK credential named '{}'. Configured \
                     aliases: {configured}",
                    shown(alias.unwrap_or(""))
                ),
            )
        }
        Refusal::AllLimited => GatewayError::new(
            ErrorCode::RateLimited,
            format!(
                "Every stored {provider} key of this alias is at its rate limit (rate_limit per \
                 rate_limit_period); retry later"
            ),
        )
        .with_header("retry-after", 1),
    }
}

/// Writes `last_used_at` now and then, off the request's path.
fn remember_use(state: &AppState, key: &Arc<LiveKey>) {
    let now_ms = state.clock().now_ms();
    let last = key.persisted_ms.load(Ordering::Relaxed);
    if now_ms - last < LAST_USED_EVERY_MS
        || key
            .persisted_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let (store, id) = (state.store().clone(), key.row.id.clone());
    let at = jiff::Timestamp::from_millisecond(now_ms).unwrap_or_else(|_| state.clock().now());
    state.tasks().spawn(async move {
        if let Err(error) = store.touch_provider_key(&id, at).await {
            tracing::debug!(%error, key = %id, "could not record a stored key's last use");
        }
    });
}

/// The stored key the headers bound for `provider` carry, if any (read before they are sent).
pub fn used_in(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
) -> Option<StoredKeyUsed> {
    let ring = state.keys().ring();
    if ring.is_empty() {
        return None;
    }
    provider
        .credential_headers
        .iter()
        .filter_map(|name| headers.get(name))
        .find_map(|value| {
            let value = value.as_bytes();
            match super::sigv4::access_key_id_of(value) {
                Some(id) => ring.by_credential(&sigv4_entry(id)).cloned(),
                None => ring.by_credential(value).cloned(),
            }
        })
        .map(StoredKeyUsed)
}

/// A stored key a request went upstream with.
#[derive(Debug, Clone)]
pub struct StoredKeyUsed(Arc<LiveKey>);

/// What the provider's answer says about the stored key the request carried: a 401 or 403 marks
/// it `invalid` (in memory at once, then in the store, from where every instance reads it), and
/// it is skipped until edited.
pub async fn answered(state: &AppState, used: Option<&StoredKeyUsed>, status: u16) {
    let Some(StoredKeyUsed(key)) = used else {
        return;
    };
    if !matches!(status, 401 | 403) || key.status() == KeyStatus::Invalid {
        return;
    }
    key.mark_refused();
    tracing::warn!(
        key = %key.row.id,
        alias = %key.row.alias,
        provider = %key.row.provider_slug,
        status,
        "the provider refused a stored key; it is marked invalid and skipped until edited"
    );
    // Awaited (a refusal is rare and the write short), so the status is stored by the time
    // the client has the provider's answer.
    if let Err(error) = state
        .store()
        .set_provider_key_status(&key.row.id, &key.row.secret_id, KeyStatus::Invalid)
        .await
    {
        tracing::warn!(%error, key = %key.row.id, "could not store a stored key's invalid status");
    }
}
