//! The bounded map of resolved (provider, model) pairs, so a model is matched once, not per request,
//! and its flat rates are derived once per stretch of time, not per request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use arc_swap::{ArcSwapOption, Guard};

use super::bundled::Resolved;
use super::flat::FlatRates;

/// A model found in the data, with what the hot path prices it by.
#[derive(Debug)]
pub(super) struct Priced {
    pub(super) resolved: Resolved,
    /// The latest record derived for the model; the first request past its end replaces it.
    /// An `ArcSwap`, so reading it takes no lock and writes nothing other threads read.
    flat: ArcSwapOption<FlatRates>,
}

impl Priced {
    fn new(resolved: Resolved) -> Priced {
        Priced {
            resolved,
            flat: ArcSwapOption::empty(),
        }
    }

    /// The latest flat rates, if any were derived yet.
    pub(super) fn flat(&self) -> Guard<Option<Arc<FlatRates>>> {
        self.flat.load()
    }

    /// Replaces the flat rates. Two requests past the end may both derive and store, and an older
    /// record may then win; the next request past its end derives again, so that only costs time.
    pub(super) fn set_flat(&self, flat: FlatRates) {
        self.flat.store(Some(Arc::new(flat)));
    }
}

/// Resolution results, unknown models included (`None`): an unknown name is the most expensive
/// one to match, since every model and fallback provider is tried.
#[derive(Debug)]
pub(super) struct ResolvedCache {
    capacity: usize,
    inner: RwLock<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Keyed by provider slug, then model, so a lookup borrows both strings instead of building a key.
    by_provider: HashMap<String, HashMap<String, Option<Arc<Priced>>>>,
    len: usize,
}

impl ResolvedCache {
    pub(super) fn new(capacity: usize) -> ResolvedCache {
        ResolvedCache {
            capacity,
            inner: RwLock::new(Entries::default()),
        }
    }

    /// The cached result, or `resolve`'s, remembered. `resolve` runs outside the lock: two threads
    /// may both resolve a new model, which is harmless and cheaper than serialising every miss.
    pub(super) fn get_or_insert_with(
        &self,
        provider: &str,
        model: &str,
        resolve: impl FnOnce() -> Option<Resolved>,
    ) -> Option<Arc<Priced>> {
        {
            // A panic elsewhere cannot leave the maps half-written (inserts are single calls), so
            // a poisoned lock still holds good data.
            let entries = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = entries.by_provider.get(provider).and_then(|m| m.get(model)) {
                return found.clone();
            }
        }
        let priced = resolve().map(|resolved| Arc::new(Priced::new(resolved)));
        let mut guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let entries = &mut *guard;
        if entries.len >= self.capacity {
            // Only a flood of distinct names fills the map; starting over keeps memory bounded
            // and costs each real model one more resolution.
            entries.by_provider.clear();
            entries.len = 0;
        }
        let models = entries.by_provider.entry(provider.to_owned()).or_default();
        if models.insert(model.to_owned(), priced.clone()).is_none() {
            entries.len += 1;
        }
        priced
    }

    /// How many pairs are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len
    }
}
