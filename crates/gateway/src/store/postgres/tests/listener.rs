//! The change feed: writes through any store wake it, and a lost listener connection comes back
//! and reports a change of its own (notifications sent meanwhile are lost).

use std::time::Duration;

use super::TestDb;
use crate::clock::{Clock, SystemClock};
use crate::store::conformance::registry::gateway;
use crate::store::postgres::ChangeFeed;
use crate::store::{
    GatewayStore, RouteStore, StoredDeployment, StoredRoute, StoredRouteVersion, StoredToken,
    TokenStore,
};
use crate::tasks::Tasks;

const HANG_GUARD: Duration = Duration::from_secs(20);

async fn woken(feed: &mut ChangeFeed, what: &str) -> anyhow::Result<()> {
    tokio::time::timeout(HANG_GUARD, feed.changed())
        .await
        .map_err(|_| anyhow::anyhow!("the feed did not wake for {what}"))
}

#[tokio::test]
async fn writes_through_another_store_wake_the_feed() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let (writer, reader) = (db.store().await?, db.store().await?);
    let mut feed = reader.change_feed(&Tasks::new());
    woken(&mut feed, "the first session").await?;

    writer.insert_gateway(&gateway("a")).await?;
    woken(&mut feed, "a new gateway").await?;
    let mut changed = gateway("a");
    changed.settings.authentication = true;
    writer.update_gateway(&changed).await?;
    woken(&mut feed, "a changed gateway").await?;
    writer.delete_gateway("local", "a").await?;
    woken(&mut feed, "a deleted gateway").await?;
    writer
        .insert_token(&StoredToken {
            id: "t1".into(),
            account_id: "local".into(),
            name: "ci".into(),
            token_sha256: [7; 32],
            created_at: SystemClock.now(),
            scope: Default::default(),
        })
        .await?;
    woken(&mut feed, "a new token").await?;
    // Another client of the database (an operator, `tollgate migrate`) is heard too.
    db.client()
        .await?
        .batch_execute("DELETE FROM tokens")
        .await?;
    woken(&mut feed, "a write from psql").await?;
    Ok(())
}

#[tokio::test]
async fn a_lost_listener_reconnects_and_reports_a_change() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let mut feed = store.change_feed(&Tasks::new());
    woken(&mut feed, "the first session").await?;

    let admin = db.client().await?;
    let terminated: i64 = admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
            &[],
        )
        .await?
        .try_get(0)?;
    assert_eq!(terminated, 1, "the listener's session was found");
    woken(&mut feed, "the new session").await?;

    // Listening again: a write is heard.
    store.insert_gateway(&gateway("after")).await?;
    woken(&mut feed, "a gateway made after the reconnect").await?;
    Ok(())
}

#[tokio::test]
async fn route_changes_and_deployments_wake_the_feed() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let (writer, reader) = (db.store().await?, db.store().await?);
    writer.insert_gateway(&gateway("gw")).await?;
    let mut feed = reader.change_feed(&Tasks::new());
    woken(&mut feed, "the first session").await?;

    let now = SystemClock.now();
    let route = StoredRoute {
        id: "r1".into(),
        account_id: "local".into(),
        gateway_id: "gw".into(),
        name: "support".into(),
        created_at: now,
        modified_at: now,
    };
    let version = |id: &str| StoredRouteVersion {
        id: id.into(),
        route_id: "r1".into(),
        elements: "[]".into(),
        comment: None,
        created_at: now,
    };
    let deployment = |id: &str, version_id: &str| StoredDeployment {
        id: id.into(),
        route_id: "r1".into(),
        version_id: version_id.into(),
        comment: None,
        created_at: now,
    };
    writer
        .insert_route(&route, &version("v1"), &deployment("d1", "v1"))
        .await?;
    woken(&mut feed, "a new route").await?;
    // A version alone changes nothing live (no trigger); its deployment does.
    writer.insert_route_version(&version("v2")).await?;
    writer
        .insert_route_deployment(&deployment("d2", "v2"))
        .await?;
    woken(&mut feed, "a deployment").await?;
    writer
        .rename_route("local", "gw", "r1", "billing", now)
        .await?;
    woken(&mut feed, "a renamed route").await?;
    writer.delete_route("local", "gw", "r1").await?;
    woken(&mut feed, "a deleted route").await?;
    Ok(())
}
