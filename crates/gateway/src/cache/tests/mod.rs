//! Tests of the response cache against real components: moka, a real Redis, real tasks.

mod flight;
mod key;
mod memory;
mod redis;

use bytes::Bytes;

use super::CachedResponse;

/// A response stored at `now_ms` that lives `ttl_ms`.
fn response(body: impl Into<Bytes>, now_ms: i64, ttl_ms: i64) -> CachedResponse {
    CachedResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into(),
        stored_at_ms: now_ms,
        expires_at_ms: now_ms + ttl_ms,
    }
}
