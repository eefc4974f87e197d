//! Every gateway's routes with their live version, in memory: the proxy reads a route with one
//! atomic load and a map lookup, never the store. Rebuilt from the store after every change.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::graph::{self, Graph};
use crate::clock::SharedClock;
use crate::store::{DeployedRoute, Store, StoreError};

/// A route as deployed: the stored rows, the version's elements as JSON, and its graph.
#[derive(Debug)]
pub struct Deployed {
    pub row: DeployedRoute,
    pub elements: serde_json::Value,
    /// `None` when the stored version no longer reads (never written so by this gateway).
    pub graph: Option<Arc<Graph>>,
}

#[derive(Default)]
struct Live {
    /// By account, gateway and name.
    by_name: HashMap<(String, String, String), Arc<Deployed>>,
    /// By route id.
    by_id: HashMap<String, Arc<Deployed>>,
}

pub struct Routes {
    pub(super) store: Arc<dyn Store>,
    /// When routes, versions and deployments are made (tests move it).
    pub(super) clock: SharedClock,
    live: ArcSwap<Live>,
    /// One reload at a time, so an older read never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// One change at a time, each with its reload.
    pub(super) changes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("routes", &self.live.load().by_id.len())
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// Loads every route's live version.
    pub async fn load(store: Arc<dyn Store>, clock: SharedClock) -> Result<Routes, StoreError> {
        let routes = Routes {
            store,
            clock,
            live: ArcSwap::from_pointee(Live::default()),
            reloading: tokio::sync::Mutex::new(()),
            changes: tokio::sync::Mutex::new(()),
        };
        routes.reload().await?;
        Ok(routes)
    }

    /// Re-reads every route (after a change here, or one another instance made). A version
    /// already read is not read again (versions never change).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let rows = self.store.list_deployed_routes().await?;
        let old = self.live.load_full();
        let mut live = Live::default();
        for row in rows {
            let deployed = match old.by_id.get(&row.route.id) {
                Some(known) if known.row == row => known.clone(),
                _ => Arc::new(read(row)),
            };
            let key = (
                deployed.row.route.account_id.clone(),
                deployed.row.route.gateway_id.clone(),
                deployed.row.route.name.clone(),
            );
            live.by_id
                .insert(deployed.row.route.id.clone(), deployed.clone());
            live.by_name.insert(key, deployed);
        }
        self.live.store(Arc::new(live));
        Ok(())
    }

    /// The route `name` of a gateway, as deployed.
    pub fn named(&self, account_id: &str, gateway_id: &str, name: &str) -> Option<Arc<Deployed>> {
        self.live
            .load()
            .by_name
            .get(&(
                account_id.to_owned(),
                gateway_id.to_owned(),
                name.to_owned(),
            ))
            .cloned()
    }

    /// The route `id` if it is one of the gateway's.
    pub fn by_id(&self, account_id: &str, gateway_id: &str, id: &str) -> Option<Arc<Deployed>> {
        self.live
            .load()
            .by_id
            .get(id)
            .filter(|d| {
                d.row.route.account_id == account_id && d.row.route.gateway_id == gateway_id
            })
            .cloned()
    }

    /// A gateway's routes, by name.
    pub fn of_gateway(&self, account_id: &str, gateway_id: &str) -> Vec<Arc<Deployed>> {
        let live = self.live.load();
        let mut routes: Vec<Arc<Deployed>> = live
            .by_id
            .values()
            .filter(|d| {
                d.row.route.account_id == account_id && d.row.route.gateway_id == gateway_id
            })
            .cloned()
            .collect();
        routes.sort_by(|a, b| a.row.route.name.cmp(&b.row.route.name));
        routes
    }
}

/// The stored version read into its graph. Providers were checked when it was saved; one
/// removed from the configuration since fails the call that names it, not the whole route.
fn read(row: DeployedRoute) -> Deployed {
    let elements: serde_json::Value =
        serde_json::from_str(&row.version.elements).unwrap_or(serde_json::Value::Null);
    let graph = match graph::parse(&elements, &|_| true) {
        Ok(graph) => Some(Arc::new(graph)),
        Err(errors) => {
            tracing::error!(
                route = %row.route.id,
                version = %row.version.id,
                ?errors,
                "a stored route version does not read; the route answers with an error"
            );
            None
        }
    };
    Deployed {
        row,
        elements,
        graph,
    }
}
