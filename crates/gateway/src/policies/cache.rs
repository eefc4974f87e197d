//! Each gateway's committed policies, compiled, as the proxy reads them: loaded from the store
//! on first use and again once a second old, and at once after a write through this instance.
//! So a change made through another instance takes effect within a second (Cloudflare's take
//! up to 15 minutes), and a request never waits on the store more than once a second per
//! gateway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Policy;
use crate::store::{Store, StoreResult, StoredPolicy};

/// How long a loaded set of policies is used before it is read again.
const FRESH_MS: i64 = 1_000;

/// Per account, per gateway: when its policies were loaded, and them. Nested rather than keyed
/// by a pair so that a lookup, on every upstream call, borrows the names instead of copying them.
type Loaded = HashMap<String, HashMap<String, (i64, Arc<Vec<Policy>>)>>;

#[derive(Default)]
pub struct PolicyCache {
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache").finish_non_exhaustive()
    }
}

impl PolicyCache {
    /// The committed policies of gateway `gateway_id` at `now_ms`.
    pub async fn committed(
        &self,
        store: &dyn Store,
        account_id: &str,
        gateway_id: &str,
        now_ms: i64,
    ) -> StoreResult<Arc<Vec<Policy>>> {
        if let Some((at, policies)) = self
            .lock()
            .get(account_id)
            .and_then(|gateways| gateways.get(gateway_id))
            && now_ms - at < FRESH_MS
        {
            return Ok(Arc::clone(policies));
        }
        let rows = store.list_policies(account_id, gateway_id).await?;
        let policies = Arc::new(compile(&rows));
        let mut loaded = self.lock();
        // Gateways come and go: forget the ones no request asked about for a while.
        if loaded.values().map(HashMap::len).sum::<usize>() >= 10_000 {
            for gateways in loaded.values_mut() {
                gateways.retain(|_, (at, _)| now_ms - *at < FRESH_MS);
            }
            loaded.retain(|_, gateways| !gateways.is_empty());
        }
        loaded
            .entry(account_id.to_owned())
            .or_default()
            .insert(gateway_id.to_owned(), (now_ms, Arc::clone(&policies)));
        Ok(policies)
    }

    /// Drops what is loaded for a gateway whose policies just changed.
    pub fn forget(&self, account_id: &str, gateway_id: &str) {
        if let Some(gateways) = self.lock().get_mut(account_id) {
            gateways.remove(gateway_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The committed policies of `rows`, compiled. One that no longer parses (never written so)
/// is left out and logged.
pub fn compile(rows: &[StoredPolicy]) -> Vec<Policy> {
    let mut policies = Vec::new();
    for row in rows {
        let Some(text) = &row.committed else { continue };
        let parsed = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(body)) => Policy::parse(&row.id, &body).ok(),
            _ => None,
        };
        match parsed {
            Some(policy) => policies.push(policy),
            None => tracing::error!(policy = %row.id, "a stored policy does not parse; skipped"),
        }
    }
    policies
}
