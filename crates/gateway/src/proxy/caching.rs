//! The cache's part of a proxy request (docs/cache.md): whether caching applies, the key, lookups,
//! single flight, and what of a response may be stored.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};

use super::options::RequestOptions;
use crate::cache::{
    CachedResponse, Flight, FlightGuard, KeyParts, Outcome, ResponseCache, cache_key,
};
use crate::gateways::Gateway;
use crate::providers::Provider;

/// TTL given to a request that sends `cf-aig-cache-key` to a gateway with caching off.
const CUSTOM_KEY_DEFAULT_TTL_SECS: u32 = 300;

/// How one request uses the cache.
#[derive(Debug, Clone)]
pub struct CachePlan {
    pub key: String,
    pub ttl_secs: u32,
    /// `cf-aig-skip-cache`: neither read nor written.
    pub skip: bool,
}

impl CachePlan {
    /// `None` when caching does not apply: the gateway's TTL and the request's headers decide.
    pub fn for_request(
        gateway: &Gateway,
        provider: &Provider,
        options: &RequestOptions,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<CachePlan> {
        let ttl_secs = match (options.cache_ttl, &options.cache_key) {
            (Some(ttl), _) => ttl,
            (None, Some(_)) if gateway.settings.cache_ttl == 0 => CUSTOM_KEY_DEFAULT_TTL_SECS,
            (None, _) => gateway.settings.cache_ttl,
        };
        if ttl_secs == 0 {
            return None;
        }
        let credentials = provider
            .credential_headers
            .iter()
            .filter_map(|name| {
                headers
                    .get(name)
                    .map(|value| (name.as_str(), value.as_bytes()))
            })
            .collect();
        let key = cache_key(&KeyParts {
            account: &gateway.account_id,
            gateway: &gateway.id,
            generation: gateway.settings.cache_generation,
            provider: &provider.cache_scope,
            method,
            path_and_query,
            credentials,
            body,
            custom_key: options.cache_key.as_deref(),
            custom_key_shared: gateway.settings.cache_custom_key_shared,
        });
        Some(CachePlan {
            key,
            ttl_secs,
            skip: options.skip_cache,
        })
    }
}

/// How a request stands with the cache before going upstream.
pub enum Lookup {
    /// Answered without an upstream call: from the store, or shared by the request this one
    /// waited for.
    Answered(CachedResponse),
    /// Go upstream; with a guard when this request leads the single flight for its key.
    Miss(Option<FlightGuard>),
}

/// Reads the cache for `plan` (nothing when caching does not apply or is skipped).
pub async fn look_up(cache: &ResponseCache, plan: Option<&CachePlan>) -> Lookup {
    let Some(plan) = plan.filter(|plan| !plan.skip) else {
        return Lookup::Miss(None);
    };
    if let Some(hit) = cache.get(&plan.key).await {
        return Lookup::Answered(hit);
    }
    match cache.join(&plan.key).await {
        Flight::Leader(guard) => Lookup::Miss(Some(guard)),
        Flight::Follower(Outcome::Response(response)) => Lookup::Answered(response),
        // The request this one waited for failed: it makes its own.
        Flight::Follower(Outcome::Retry) => Lookup::Miss(None),
    }
}

/// A response worth storing: complete, 2xx, not marked `no-store`, within the size bound.
pub fn storable(status: u16, headers: &HeaderMap, size: usize) -> bool {
    let no_store = headers.get_all(header::CACHE_CONTROL).iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("no-store")
    });
    (200..300).contains(&status) && !no_store && size <= ResponseCache::MAX_ENTRY_BYTES
}

/// The response headers kept with a cached body: framing headers are recomputed on replay and
/// cookies belong to the client that got them, never to the next one.
pub fn replayable_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            !matches!(
                *name,
                &header::CONTENT_LENGTH
                    | &header::TRANSFER_ENCODING
                    | &header::SET_COOKIE
                    | &header::DATE
            )
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

/// A cached response as the client gets it.
pub fn replay(cached: &CachedResponse) -> http::Response<axum::body::Body> {
    let mut response = http::Response::new(axum::body::Body::from(Bytes::clone(&cached.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(cached.status).unwrap_or(http::StatusCode::OK);
    for (name, value) in &cached.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
