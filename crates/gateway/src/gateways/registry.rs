//! All gateways in memory for the hot path (one atomic load per request), kept in step with the
//! store: every change is written to the store first, then the map is rebuilt from it, both in a
//! task of their own so a caller that goes away midway cannot leave them apart.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{FieldError, Gateway, GatewaySettings};
use crate::clock::SharedClock;
use crate::error::GatewayError;
use crate::store::{Store, StoreError};
use crate::tasks::Tasks;

/// The account that always exists (docs/architecture.md).
pub const LOCAL_ACCOUNT: &str = "local";

type ByAccount = HashMap<String, HashMap<String, Arc<Gateway>>>;

pub struct GatewayRegistry {
    store: Arc<dyn Store>,
    gateways: Arc<ArcSwap<ByAccount>>,
    /// Serialises changes so a reload never races another change's reload.
    changes: Arc<Mutex<()>>,
    /// Stamps `created_at` and `modified_at`.
    clock: SharedClock,
    /// Where changes run, so shutdown waits for one in progress.
    tasks: Tasks,
}

/// One write to the store.
enum Change {
    Insert(Gateway),
    Update(Gateway),
    Delete { account_id: String, id: String },
}

/// Why a management change to a gateway was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("gateway already exists")]
    Conflict,
    #[error("gateway not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ChangeError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ChangeError::Conflict,
            StoreError::NotFound => ChangeError::NotFound,
            other => ChangeError::Store(other),
        }
    }
}

impl GatewayRegistry {
    /// Reads every gateway from `store`; changes are stamped by `clock` and run on `tasks`.
    pub async fn load(
        store: Arc<dyn Store>,
        clock: SharedClock,
        tasks: Tasks,
    ) -> Result<GatewayRegistry, StoreError> {
        let registry = GatewayRegistry {
            store,
            gateways: Arc::new(ArcSwap::from_pointee(HashMap::new())),
            changes: Arc::new(Mutex::new(())),
            clock,
            tasks,
        };
        registry.reload().await?;
        Ok(registry)
    }

    pub async fn reload(&self) -> Result<(), StoreError> {
        reload(&*self.store, &self.gateways).await
    }

    /// Writes `change` and rebuilds the map, holding `lock` until both are done. They run in a
    /// task of their own: when the caller's future is dropped midway (an HTTP/2 client resetting
    /// its stream while its request creates the `default` gateway), the store must not be left
    /// changed and the map not, which made every later request for that gateway a 500.
    async fn commit(&self, lock: OwnedMutexGuard<()>, change: Change) -> Result<(), ChangeError> {
        let store = self.store.clone();
        let gateways = self.gateways.clone();
        let task = self.tasks.spawn(async move {
            let written = match &change {
                Change::Insert(gateway) => store.insert_gateway(gateway).await,
                Change::Update(gateway) => store.update_gateway(gateway).await,
                Change::Delete { account_id, id } => store.delete_gateway(account_id, id).await,
            };
            let reloaded = reload(&*store, &gateways).await;
            drop(lock);
            written?;
            reloaded
        });
        match task.await {
            Ok(result) => result.map_err(ChangeError::from),
            Err(error) => Err(ChangeError::Store(StoreError::Backend(format!(
                "gateway change task failed: {error}"
            )))),
        }
    }

    pub fn get(&self, account_id: &str, id: &str) -> Option<Arc<Gateway>> {
        self.gateways.load().get(account_id)?.get(id).cloned()
    }

    /// `local` always exists; any other account once it has a gateway.
    pub fn account_exists(&self, account_id: &str) -> bool {
        account_id == LOCAL_ACCOUNT
            || self
                .gateways
                .load()
                .get(account_id)
                .is_some_and(|gateways| !gateways.is_empty())
    }

    /// The gateway a proxy request names; `default` is created on its first request.
    pub async fn for_request(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Arc<Gateway>, GatewayError> {
        if let Some(gateway) = self.get(account_id, id) {
            return Ok(gateway);
        }
        if id != "default" || !self.account_exists(account_id) {
            return Err(GatewayError::gateway_not_found(account_id, id));
        }
        match self.create(account_id, "default", &Map::new()).await {
            Ok(_) | Err(ChangeError::Conflict) => {}
            Err(error) => {
                tracing::error!(%error, "could not create the default gateway");
                return Err(GatewayError::internal());
            }
        }
        self.get(account_id, id).ok_or_else(GatewayError::internal)
    }

    /// Every gateway of every account.
    pub fn all(&self) -> Vec<Arc<Gateway>> {
        self.gateways
            .load()
            .values()
            .flat_map(|gateways| gateways.values().cloned())
            .collect()
    }

    /// The account's gateways, oldest first.
    pub fn list(&self, account_id: &str) -> Vec<Arc<Gateway>> {
        let mut gateways: Vec<_> = self
            .gateways
            .load()
            .get(account_id)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default();
        gateways.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        gateways
    }

    pub async fn create(
        &self,
        account_id: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Gateway, ChangeError> {
        if !crate::proxy::is_gateway_id(id) {
            return Err(ChangeError::Invalid(vec![FieldError {
                field: "id".into(),
                message: "must be 1-64 characters of a-z, 0-9, '-' and '_'".into(),
            }]));
        }
        let mut settings = GatewaySettings::default();
        settings.apply(body).map_err(ChangeError::Invalid)?;
        let now = self.clock.now();
        let gateway = Gateway {
            account_id: account_id.to_owned(),
            id: id.to_owned(),
            settings,
            created_at: now,
            modified_at: now,
        };
        let lock = self.changes.clone().lock_owned().await;
        self.commit(lock, Change::Insert(gateway.clone())).await?;
        Ok(gateway)
    }

    /// Applies the fields present in `body`; absent fields keep their current value.
    pub async fn update(
        &self,
        account_id: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Gateway, ChangeError> {
        let lock = self.changes.clone().lock_owned().await;
        let current = self.get(account_id, id).ok_or(ChangeError::NotFound)?;
        let mut gateway = Gateway::clone(&current);
        gateway.settings.apply(body).map_err(ChangeError::Invalid)?;
        if gateway.settings.cache_invalidate_on_update {
            gateway.settings.cache_generation += 1;
        }
        gateway.modified_at = self.clock.now();
        self.commit(lock, Change::Update(gateway.clone())).await?;
        Ok(gateway)
    }

    /// Deletes and returns the deleted gateway.
    pub async fn delete(&self, account_id: &str, id: &str) -> Result<Gateway, ChangeError> {
        let lock = self.changes.clone().lock_owned().await;
        let current = self.get(account_id, id).ok_or(ChangeError::NotFound)?;
        let change = Change::Delete {
            account_id: account_id.to_owned(),
            id: id.to_owned(),
        };
        self.commit(lock, change).await?;
        Ok(Gateway::clone(&current))
    }
}

async fn reload(store: &dyn Store, gateways: &ArcSwap<ByAccount>) -> Result<(), StoreError> {
    let mut by_account: ByAccount = HashMap::new();
    for gateway in store.list_gateways().await? {
        by_account
            .entry(gateway.account_id.clone())
            .or_default()
            .insert(gateway.id.clone(), Arc::new(gateway));
    }
    gateways.store(Arc::new(by_account));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::*;
    use crate::clock::{SystemClock, monotonic_now};
    use crate::store::sqlite::SqliteStore;

    /// An HTTP/2 client that resets its stream drops the request's future wherever it is; the
    /// first request for `default` may be midway through creating it, its row written and the
    /// map not yet rebuilt. Store and map must still agree, or every later request for
    /// `default` is a 500.
    #[tokio::test]
    async fn a_change_dropped_after_its_write_still_reaches_the_map() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("t.db"))?);
        let registry =
            GatewayRegistry::load(store.clone(), Arc::new(SystemClock), Tasks::new()).await?;
        {
            let first = registry.for_request(LOCAL_ACCOUNT, "default");
            let mut first = std::pin::pin!(first);
            let mut context = Context::from_waker(Waker::noop());
            let deadline = monotonic_now() + Duration::from_secs(10);
            // Poll until the row is in the store, then go away as a reset stream's task does.
            loop {
                if let Poll::Ready(done) = first.as_mut().poll(&mut context) {
                    anyhow::ensure!(done.is_ok(), "{:?}", done.err());
                    break;
                }
                if !store.list_gateways().await?.is_empty() {
                    break;
                }
                anyhow::ensure!(monotonic_now() < deadline, "never written");
                tokio::task::yield_now().await;
            }
        }
        let gateway = registry.for_request(LOCAL_ACCOUNT, "default").await;
        anyhow::ensure!(gateway.is_ok(), "{:?}", gateway.err());
        Ok(())
    }
}
