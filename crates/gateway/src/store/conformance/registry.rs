//! Gateways, tokens and settings: the tests of [`super::suite!`] for the registry side of a
//! [`Store`](crate::store::Store), each a body generic over the [`Backend`].

use crate::gateways::{Gateway, GatewaySettings, LogStrategy};
use crate::store::{StoreError, StoredToken};

use super::Backend;

/// A gateway of account `local` with the default settings, made now.
pub(crate) fn gateway(id: &str) -> Gateway {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    Gateway {
        account_id: "local".into(),
        id: id.into(),
        settings: GatewaySettings::default(),
        created_at: now,
        modified_at: now,
    }
}

pub(crate) async fn gateways_round_trip_with_conflicts_and_not_found<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let mut gw = gateway("one");
    store.insert_gateway(&gw).await?;
    assert!(matches!(
        store.insert_gateway(&gw).await,
        Err(StoreError::Conflict)
    ));
    // The same id in another account is another gateway.
    let other = Gateway {
        account_id: "acct2".into(),
        ..gateway("one")
    };
    store.insert_gateway(&other).await?;
    gw.settings.cache_ttl = 60;
    gw.settings.log_management = Some(10);
    gw.settings.log_management_strategy = Some(LogStrategy::DeleteOldest);
    gw.settings.cache_generation = u64::MAX;
    gw.modified_at = crate::clock::Clock::now(&crate::clock::SystemClock);
    store.update_gateway(&gw).await?;
    // Settings and nanosecond timestamps come back exactly; ordered by account, then age.
    assert_eq!(
        store.list_gateways().await?,
        vec![other.clone(), gw.clone()]
    );
    store.delete_gateway("local", "one").await?;
    assert!(matches!(
        store.delete_gateway("local", "one").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_gateway(&gw).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_gateways().await?, vec![other]);
    Ok(())
}

pub(crate) async fn tokens_store_only_hashes<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let token = StoredToken {
        id: "t1".into(),
        account_id: "local".into(),
        name: "ci".into(),
        token_sha256: [7; 32],
        created_at: crate::clock::Clock::now(&crate::clock::SystemClock),
        scope: Default::default(),
    };
    store.insert_token(&token).await?;
    assert!(matches!(
        store.insert_token(&token).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.list_tokens().await?, vec![token]);
    assert!(matches!(
        store.delete_token("other", "t1").await,
        Err(StoreError::NotFound)
    ));
    store.delete_token("local", "t1").await?;
    assert!(store.list_tokens().await?.is_empty());
    Ok(())
}

/// Every scope field comes back as it was written, from a new connection too, beside a token
/// without a scope (docs/budgets.md).
pub(crate) async fn a_token_scope_round_trips<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let body = serde_json::json!({
        "gateways": ["prod", "*"],
        "providers": ["openai", "azure-*"],
        "models": ["openai/gpt-4o*", "claude-*"],
        "expires_at": "2031-02-03T04:05:06Z",
        "metadata": {"team": "search", "tier": 2, "internal": true},
    });
    let serde_json::Value::Object(body) = body else {
        anyhow::bail!("not an object")
    };
    let scope = crate::auth::TokenScope::parse(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let scoped = StoredToken {
        id: "t1".into(),
        account_id: "local".into(),
        name: "scoped".into(),
        token_sha256: [1; 32],
        created_at: now,
        scope: std::sync::Arc::new(scope),
    };
    let plain = StoredToken {
        id: "t2".into(),
        name: "plain".into(),
        token_sha256: [2; 32],
        scope: Default::default(),
        ..scoped.clone()
    };
    store.insert_token(&scoped).await?;
    store.insert_token(&plain).await?;
    let expected = vec![scoped, plain];
    assert_eq!(store.list_tokens().await?, expected);
    assert_eq!(backend.reopen().await?.list_tokens().await?, expected);
    Ok(())
}

pub(crate) async fn a_setting_keeps_its_first_value<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let other = backend.reopen().await?;
    assert_eq!(store.get_setting("k").await?, None);
    let (first, second) = tokio::join!(
        store.insert_setting("k", "v1"),
        other.insert_setting("k", "v2")
    );
    let (first, second) = (first?, second?);
    assert_eq!(first, second, "racing instances agree on one value");
    assert_eq!(store.insert_setting("k", "v3").await?, first);
    assert_eq!(
        store.get_setting("k").await?.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(other.get_setting("missing").await?, None);
    Ok(())
}

pub(crate) async fn reopening_keeps_the_data<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let kept = gateway("kept");
    backend.store().insert_gateway(&kept).await?;
    // Opening the database again (migrations find nothing to do) finds the gateway as it was.
    let again = backend.reopen().await?;
    assert_eq!(again.list_gateways().await?, vec![kept]);
    again.ping().await?;
    Ok(())
}
