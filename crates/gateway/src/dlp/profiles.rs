//! Each account's custom profiles, compiled, as the proxy reads them (docs/dlp.md, "Custom
//! profiles"): loaded from the store on first use and again once a second old, and at once
//! after a write through this instance, so a change made through another instance takes
//! effect within a second. A profile is compiled once per version: a reload that finds the
//! version it has keeps its scanner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::custom::CustomProfile;
use super::scanner::Scanner;
use crate::store::{Store, StoreResult};

/// How long a loaded account's profiles are used before they are read again.
const FRESH_MS: i64 = 1_000;

/// Profile id → its version and compiled scanner.
pub type CustomScanners = HashMap<String, (i64, Arc<Scanner>)>;

#[derive(Default)]
pub struct CustomProfiles {
    loaded: Mutex<HashMap<String, (i64, Arc<CustomScanners>)>>,
    compiled: AtomicU64,
}

impl std::fmt::Debug for CustomProfiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomProfiles").finish_non_exhaustive()
    }
}

impl CustomProfiles {
    /// The compiled profiles of `account_id` at `now_ms`.
    pub async fn of_account(
        &self,
        store: &dyn Store,
        account_id: &str,
        now_ms: i64,
    ) -> StoreResult<Arc<CustomScanners>> {
        let previous = self.lock().get(account_id).cloned();
        if let Some((at, scanners)) = &previous
            && now_ms - at < FRESH_MS
        {
            return Ok(Arc::clone(scanners));
        }
        let rows = store.list_dlp_profiles(account_id).await?;
        let mut scanners = CustomScanners::new();
        for row in rows {
            let kept = previous
                .as_ref()
                .and_then(|(_, old)| old.get(&row.id))
                .filter(|(version, _)| *version == row.version);
            if let Some(kept) = kept {
                scanners.insert(row.id, kept.clone());
                continue;
            }
            let compiled = serde_json::from_str::<CustomProfile>(&row.body)
                .map_err(|e| e.to_string())
                .and_then(|profile| Scanner::compile(&profile.spec(&row.id)));
            match compiled {
                Ok(scanner) => {
                    self.compiled.fetch_add(1, Ordering::Relaxed);
                    scanners.insert(row.id, (row.version, Arc::new(scanner)));
                }
                Err(why) => {
                    tracing::error!(profile = %row.id, %why, "a stored DLP profile does not compile; skipped");
                }
            }
        }
        let scanners = Arc::new(scanners);
        let mut loaded = self.lock();
        // Accounts come and go: forget the ones no request asked about for a while.
        if loaded.len() >= 10_000 {
            loaded.retain(|_, (at, _)| now_ms - *at < FRESH_MS);
        }
        loaded.insert(account_id.to_owned(), (now_ms, Arc::clone(&scanners)));
        Ok(scanners)
    }

    /// Makes the next read of the account's profiles go to the store (after a write).
    pub fn forget(&self, account_id: &str) {
        if let Some((at, _)) = self.lock().get_mut(account_id) {
            *at = i64::MIN / 2;
        }
    }

    /// How many profile versions this instance compiled (tests check a version compiles once).
    pub fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Arc<CustomScanners>)>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
