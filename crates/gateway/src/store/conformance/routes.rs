//! Dynamic routes: the tests of [`super::suite!`] for the [`RouteStore`](crate::store::RouteStore)
//! side of a store, each a body generic over the [`Backend`].

use super::Backend;
use super::registry::gateway;
use crate::store::{StoreError, StoredDeployment, StoredRoute, StoredRouteVersion};

fn now() -> jiff::Timestamp {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

fn route(id: &str, gateway_id: &str, name: &str) -> StoredRoute {
    let now = now();
    StoredRoute {
        id: id.into(),
        account_id: "local".into(),
        gateway_id: gateway_id.into(),
        name: name.into(),
        created_at: now,
        modified_at: now,
    }
}

fn version(id: &str, route_id: &str, elements: &str) -> StoredRouteVersion {
    StoredRouteVersion {
        id: id.into(),
        route_id: route_id.into(),
        elements: elements.into(),
        comment: Some(format!("comment of {id}")),
        created_at: now(),
    }
}

fn deployment(id: &str, route_id: &str, version_id: &str) -> StoredDeployment {
    StoredDeployment {
        id: id.into(),
        route_id: route_id.into(),
        version_id: version_id.into(),
        comment: None,
        created_at: now(),
    }
}

pub(crate) async fn routes_versions_and_deployments_round_trip<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let r1 = route("r1", "gw", "support");
    let v1 = version("v1", "r1", r#"[{"id":"a","type":"start"}]"#);
    let d1 = deployment("d1", "r1", "v1");
    // A route needs its gateway.
    assert!(matches!(
        store.insert_route(&r1, &v1, &d1).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_deployed_routes().await?.is_empty());
    store.insert_gateway(&gateway("gw")).await?;
    store.insert_gateway(&gateway("other")).await?;
    store.insert_route(&r1, &v1, &d1).await?;
    // A name is unique per gateway, not across gateways.
    let taken = route("r2", "gw", "support");
    let v2 = version("v2", "r2", "[]");
    let d2 = deployment("d2", "r2", "v2");
    assert!(matches!(
        store.insert_route(&taken, &v2, &d2).await,
        Err(StoreError::Conflict)
    ));
    // The refused route left nothing behind (one transaction).
    assert!(store.list_route_versions("r2").await?.is_empty());
    let elsewhere = route("r2", "other", "support");
    store.insert_route(&elsewhere, &v2, &d2).await?;

    let deployed = store.list_deployed_routes().await?;
    assert_eq!(deployed.len(), 2);
    assert_eq!(deployed[0].route, r1);
    assert_eq!(deployed[0].version, v1);
    assert_eq!(deployed[0].deployment, d1);
    assert_eq!(deployed[1].route, elsewhere);

    // A new version is not live until deployed.
    let v3 = version("v3", "r1", r#"[{"id":"b","type":"end"}]"#);
    store.insert_route_version(&v3).await?;
    assert!(matches!(
        store
            .insert_route_version(&version("v9", "nope", "[]"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.list_route_versions("r1").await?,
        vec![v1.clone(), v3.clone()]
    );
    assert_eq!(store.list_deployed_routes().await?[0].version, v1);

    // Deploying makes it live; deploying the old one again is the rollback.
    let d3 = deployment("d3", "r1", "v3");
    store.insert_route_deployment(&d3).await?;
    assert_eq!(store.list_deployed_routes().await?[0].version, v3);
    let d4 = deployment("d4", "r1", "v1");
    store.insert_route_deployment(&d4).await?;
    let live = &store.list_deployed_routes().await?[0];
    assert_eq!((&live.version, &live.deployment), (&v1, &d4));
    assert_eq!(
        store.list_route_deployments("r1").await?,
        vec![d1.clone(), d3, d4]
    );
    // Only a version of the route itself can be deployed on it.
    assert!(matches!(
        store
            .insert_route_deployment(&deployment("d5", "r1", "v2"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .insert_route_deployment(&deployment("d5", "r1", "missing"))
            .await,
        Err(StoreError::NotFound)
    ));

    // Renaming: to a free name, not to a taken one, not a route of another gateway.
    let later = now();
    store
        .rename_route("local", "gw", "r1", "billing", later)
        .await?;
    let live = &store.list_deployed_routes().await?[0];
    assert_eq!(
        (live.route.name.as_str(), live.route.modified_at),
        ("billing", later)
    );
    store
        .insert_route(
            &route("r3", "gw", "third"),
            &version("v4", "r3", "[]"),
            &deployment("d6", "r3", "v4"),
        )
        .await?;
    assert!(matches!(
        store
            .rename_route("local", "gw", "r3", "billing", later)
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.rename_route("local", "other", "r1", "x", later).await,
        Err(StoreError::NotFound)
    ));

    // Deleting a route takes its versions and deployments.
    store.delete_route("local", "gw", "r3").await?;
    assert!(matches!(
        store.delete_route("local", "gw", "r3").await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_route_versions("r3").await?.is_empty());
    assert!(store.list_route_deployments("r3").await?.is_empty());
    // Deleting a gateway takes its routes.
    store.delete_gateway("local", "gw").await?;
    let left = store.list_deployed_routes().await?;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].route.gateway_id, "other");
    assert!(store.list_route_versions("r1").await?.is_empty());
    assert!(store.list_route_deployments("r1").await?.is_empty());
    Ok(())
}
