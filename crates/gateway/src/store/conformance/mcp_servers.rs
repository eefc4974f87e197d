//! Upstream MCP servers: the tests of [`super::suite!`] for the
//! [`McpServerStore`](crate::store::McpServerStore) side of a store.

use super::Backend;
use super::registry::gateway;
use crate::store::{StoreError, StoredMcpServer};

fn server(id: &str, gateway_id: &str, name: &str) -> StoredMcpServer {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredMcpServer {
        id: id.into(),
        account_id: "local".into(),
        gateway_id: gateway_id.into(),
        name: name.into(),
        url: format!("https://{name}.example/mcp"),
        headers: r#"{"x-tenant":"acme"}"#.into(),
        key_id: Some("key-1".into()),
        enabled: true,
        timeout_ms: 30_000,
        cost_per_call: Some(0.0025),
        created_at: now,
        modified_at: now,
    }
}

pub(crate) async fn mcp_servers_round_trip_and_go_with_their_gateway<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let github = server("s1", "gw", "github");
    // A server needs its gateway.
    assert!(matches!(
        store.insert_mcp_server(&github).await,
        Err(StoreError::NotFound)
    ));
    store.insert_gateway(&gateway("gw")).await?;
    store.insert_gateway(&gateway("other")).await?;
    store.insert_mcp_server(&github).await?;
    // A name is unique per gateway, not across gateways.
    assert!(matches!(
        store.insert_mcp_server(&server("s2", "gw", "github")).await,
        Err(StoreError::Conflict)
    ));
    let mut search = server("s2", "other", "github");
    search.key_id = None;
    search.enabled = false;
    store.insert_mcp_server(&search).await?;
    store
        .insert_mcp_server(&server("s3", "gw", "search"))
        .await?;
    let listed = store.list_mcp_servers().await?;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], github);
    assert_eq!(listed[2], search);

    // An update writes every field but the identity; a taken name is a conflict.
    let mut changed = github.clone();
    changed.name = "gh".into();
    changed.url = "http://127.0.0.1:9/mcp".into();
    changed.headers = "{}".into();
    changed.key_id = None;
    changed.enabled = false;
    changed.timeout_ms = 1_500;
    changed.cost_per_call = None;
    changed.modified_at = crate::clock::Clock::now(&crate::clock::SystemClock);
    store.update_mcp_server(&changed).await?;
    assert!(store.list_mcp_servers().await?.contains(&changed));
    changed.name = "search".into();
    assert!(matches!(
        store.update_mcp_server(&changed).await,
        Err(StoreError::Conflict)
    ));
    let mut elsewhere = changed.clone();
    elsewhere.gateway_id = "other".into();
    assert!(matches!(
        store.update_mcp_server(&elsewhere).await,
        Err(StoreError::NotFound)
    ));

    // Deleting: once, and a gateway's deletion takes its servers.
    store.delete_mcp_server("local", "gw", "s3").await?;
    assert!(matches!(
        store.delete_mcp_server("local", "gw", "s3").await,
        Err(StoreError::NotFound)
    ));
    store.delete_gateway("local", "gw").await?;
    assert_eq!(store.list_mcp_servers().await?, vec![search]);
    Ok(())
}
