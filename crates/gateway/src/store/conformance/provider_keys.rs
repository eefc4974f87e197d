//! Stored provider keys: the tests of [`super::suite!`] for the [`ProviderKeyStore`] side of a
//! store, each a body generic over the [`Backend`].

use super::Backend;
use super::registry::gateway;
use crate::store::{KeyStatus, SealedSecret, StoreError, StoredProviderKey};

fn key(id: &str, gateway_id: &str) -> StoredProviderKey {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredProviderKey {
        id: id.into(),
        account_id: "local".into(),
        gateway_id: gateway_id.into(),
        alias: "default".into(),
        provider_slug: "openai".into(),
        default_config: true,
        secret_id: "s1".into(),
        secret_preview: "sk-a...wxyz".into(),
        sealed: SealedSecret {
            kek_id: "kek1".into(),
            wrapped_key: vec![1, 2, 3, 0, 255],
            ciphertext: vec![9; 40],
        },
        rate_limit: Some(u32::MAX),
        rate_limit_period: Some(60),
        status: KeyStatus::Active,
        created_at: now,
        modified_at: now,
        last_used_at: None,
    }
}

pub(crate) async fn provider_keys_round_trip<B: Backend>() -> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let mut first = key("k1", "gw");
    // A key needs its gateway.
    assert!(matches!(
        store.insert_provider_key(&first).await,
        Err(StoreError::NotFound)
    ));
    store.insert_gateway(&gateway("gw")).await?;
    store.insert_provider_key(&first).await?;
    assert!(matches!(
        store.insert_provider_key(&first).await,
        Err(StoreError::Conflict)
    ));
    let second = StoredProviderKey {
        alias: "batch".into(),
        default_config: false,
        rate_limit: None,
        rate_limit_period: None,
        ..key("k2", "gw")
    };
    store.insert_provider_key(&second).await?;
    assert_eq!(
        store.list_provider_keys().await?,
        vec![first.clone(), second.clone()]
    );

    // Settings change; the sealed secret only when asked to.
    first.alias = "prod".into();
    first.sealed.ciphertext = vec![7; 40];
    first.modified_at = crate::clock::Clock::now(&crate::clock::SystemClock);
    store.update_provider_key(&first, false).await?;
    let stored = store.list_provider_keys().await?;
    assert_eq!(stored[0].alias, "prod");
    assert_eq!(stored[0].sealed.ciphertext, vec![9; 40]);
    first.secret_id = "s2".into();
    store.update_provider_key(&first, true).await?;
    assert_eq!(store.list_provider_keys().await?[0], first);

    // A refusal of an older secret does not mark the edited key.
    assert!(
        !store
            .set_provider_key_status("k1", "s1", KeyStatus::Invalid)
            .await?
    );
    assert!(
        store
            .set_provider_key_status("k1", "s2", KeyStatus::Invalid)
            .await?
    );
    assert_eq!(
        store.list_provider_keys().await?[0].status,
        KeyStatus::Invalid
    );

    // Rewrapping is compare-and-set on the wrapped key.
    let rewrapped = SealedSecret {
        kek_id: "kek2".into(),
        wrapped_key: vec![4, 5, 6],
        ciphertext: first.sealed.ciphertext.clone(),
    };
    assert!(
        store
            .rewrap_provider_key("k1", &first.sealed, &rewrapped)
            .await?
    );
    assert!(
        !store
            .rewrap_provider_key("k1", &first.sealed, &rewrapped)
            .await?
    );
    assert_eq!(store.list_provider_keys().await?[0].sealed, rewrapped);

    let used = crate::clock::Clock::now(&crate::clock::SystemClock);
    store.touch_provider_key("k2", used).await?;
    assert_eq!(
        store.list_provider_keys().await?[1].last_used_at,
        Some(used)
    );

    store.delete_provider_key("local", "gw", "k2").await?;
    assert!(matches!(
        store.delete_provider_key("local", "gw", "k2").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_provider_key(&second, false).await,
        Err(StoreError::NotFound)
    ));
    // Deleting the gateway deletes its keys.
    store.delete_gateway("local", "gw").await?;
    assert!(store.list_provider_keys().await?.is_empty());
    Ok(())
}
