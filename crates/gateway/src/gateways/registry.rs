//! All gateways in memory for the hot path (one atomic load per request), kept in step with the
//! store: every change is written to the store first, then the map is rebuilt from it.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

use super::{FieldError, Gateway, GatewaySettings};
use crate::error::GatewayError;
use crate::store::{Store, StoreError};

/// The account that always exists (SPEC §2).
pub const LOCAL_ACCOUNT: &str = "local";

type ByAccount = HashMap<String, HashMap<String, Arc<Gateway>>>;

pub struct GatewayRegistry {
    store: Arc<dyn Store>,
    gateways: ArcSwap<ByAccount>,
    /// Serialises changes so a reload never races another change's reload.
    changes: tokio::sync::Mutex<()>,
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
    pub async fn load(store: Arc<dyn Store>) -> Result<GatewayRegistry, StoreError> {
        let registry = GatewayRegistry {
            store,
            gateways: ArcSwap::from_pointee(HashMap::new()),
            changes: tokio::sync::Mutex::new(()),
        };
        registry.reload().await?;
        Ok(registry)
    }

    pub async fn reload(&self) -> Result<(), StoreError> {
        let mut by_account: ByAccount = HashMap::new();
        for gateway in self.store.list_gateways().await? {
            by_account
                .entry(gateway.account_id.clone())
                .or_default()
                .insert(gateway.id.clone(), Arc::new(gateway));
        }
        self.gateways.store(Arc::new(by_account));
        Ok(())
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
            return Err(GatewayError::gateway_not_found());
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
        let now = jiff::Timestamp::now();
        let gateway = Gateway {
            account_id: account_id.to_owned(),
            id: id.to_owned(),
            settings,
            created_at: now,
            modified_at: now,
        };
        let _change = self.changes.lock().await;
        self.store.insert_gateway(&gateway).await?;
        self.reload().await?;
        Ok(gateway)
    }

    /// Applies the fields present in `body`; absent fields keep their current value.
    pub async fn update(
        &self,
        account_id: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Gateway, ChangeError> {
        let _change = self.changes.lock().await;
        let current = self.get(account_id, id).ok_or(ChangeError::NotFound)?;
        let mut gateway = Gateway::clone(&current);
        gateway.settings.apply(body).map_err(ChangeError::Invalid)?;
        if gateway.settings.cache_invalidate_on_update {
            gateway.settings.cache_generation += 1;
        }
        gateway.modified_at = jiff::Timestamp::now();
        self.store.update_gateway(&gateway).await?;
        self.reload().await?;
        Ok(gateway)
    }

    /// Deletes and returns the deleted gateway.
    pub async fn delete(&self, account_id: &str, id: &str) -> Result<Gateway, ChangeError> {
        let _change = self.changes.lock().await;
        let current = self.get(account_id, id).ok_or(ChangeError::NotFound)?;
        self.store.delete_gateway(account_id, id).await?;
        self.reload().await?;
        Ok(Gateway::clone(&current))
    }
}
