use super::*;
use crate::gateways::Gateway;

fn gateway(id: &str) -> Gateway {
    let now = jiff::Timestamp::now();
    Gateway {
        account_id: "local".into(),
        id: id.into(),
        settings: GatewaySettings::default(),
        created_at: now,
        modified_at: now,
    }
}

#[tokio::test]
async fn gateways_round_trip_and_conflict() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("t.db"))?;
    let mut gw = gateway("one");
    store.insert_gateway(&gw).await?;
    assert!(matches!(
        store.insert_gateway(&gw).await,
        Err(StoreError::Conflict)
    ));
    gw.settings.cache_ttl = 60;
    store.update_gateway(&gw).await?;
    assert_eq!(store.list_gateways().await?, vec![gw.clone()]);
    store.delete_gateway("local", "one").await?;
    assert!(matches!(
        store.delete_gateway("local", "one").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_gateway(&gw).await,
        Err(StoreError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("t.db");
    SqliteStore::open(&path)?
        .insert_gateway(&gateway("kept"))
        .await?;
    let store = SqliteStore::open(&path)?;
    assert_eq!(store.list_gateways().await?.len(), 1);
    assert_eq!(store.insert_setting("k", "v1").await?, "v1");
    assert_eq!(
        store.insert_setting("k", "v2").await?,
        "v1",
        "the first value stays"
    );
    assert_eq!(store.get_setting("k").await?.as_deref(), Some("v1"));
    assert_eq!(store.get_setting("missing").await?, None);
    Ok(())
}

#[tokio::test]
async fn tokens_store_only_hashes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("t.db"))?;
    let token = StoredToken {
        id: "t1".into(),
        account_id: "local".into(),
        name: "ci".into(),
        token_sha256: [7; 32],
        created_at: jiff::Timestamp::now(),
    };
    store.insert_token(&token).await?;
    assert_eq!(store.list_tokens().await?, vec![token]);
    assert!(matches!(
        store.delete_token("other", "t1").await,
        Err(StoreError::NotFound)
    ));
    store.delete_token("local", "t1").await?;
    assert!(store.list_tokens().await?.is_empty());
    Ok(())
}
