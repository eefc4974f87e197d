//! Custom providers: the tests of [`super::suite!`] for the [`CustomProviderStore`] side of a
//! store, each a body generic over the [`Backend`].
//!
//! [`CustomProviderStore`]: crate::store::CustomProviderStore

use super::Backend;
use crate::store::{StoreError, StoredCustomProvider};

fn provider(id: &str, account_id: &str, slug: &str) -> StoredCustomProvider {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredCustomProvider {
        id: id.into(),
        account_id: account_id.into(),
        slug: slug.into(),
        name: format!("Provider {slug}"),
        base_url: "https://api.example.com/v1".into(),
        description: None,
        link: Some("https://example.com".into()),
        curl_example: None,
        js_example: Some("fetch()".into()),
        enable: true,
        beta: false,
        position: None,
        created_at: now,
        modified_at: now,
    }
}

pub(crate) async fn custom_providers_round_trip_unique_by_account_and_slug<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let first = provider("p1", "local", "neon");
    store.insert_custom_provider(&first).await?;
    // The slug is the account's: another account may have it, the same account not twice.
    let elsewhere = provider("p2", "acct2", "neon");
    store.insert_custom_provider(&elsewhere).await?;
    assert!(matches!(
        store
            .insert_custom_provider(&provider("p3", "local", "neon"))
            .await,
        Err(StoreError::Conflict)
    ));
    let second = provider("p4", "local", "salad");
    store.insert_custom_provider(&second).await?;
    assert_eq!(
        store.list_custom_providers().await?,
        [first.clone(), elsewhere.clone(), second.clone()]
    );

    let later = crate::clock::Clock::now(&crate::clock::SystemClock);
    let changed = StoredCustomProvider {
        name: "Neon".into(),
        base_url: "https://neon.example.com".into(),
        description: Some("Postgres".into()),
        link: None,
        enable: false,
        beta: true,
        position: Some(3),
        modified_at: later,
        ..first.clone()
    };
    store.update_custom_provider(&changed).await?;
    // Taking another provider's slug is a conflict; another account's id is not found.
    let taken = StoredCustomProvider {
        slug: "salad".into(),
        ..changed.clone()
    };
    assert!(matches!(
        store.update_custom_provider(&taken).await,
        Err(StoreError::Conflict)
    ));
    let foreign = StoredCustomProvider {
        account_id: "acct2".into(),
        ..second.clone()
    };
    assert!(matches!(
        store.update_custom_provider(&foreign).await,
        Err(StoreError::NotFound)
    ));
    let listed = store.list_custom_providers().await?;
    assert_eq!(listed[0], changed);

    assert!(matches!(
        store.delete_custom_provider("acct2", "p1").await,
        Err(StoreError::NotFound)
    ));
    store.delete_custom_provider("local", "p1").await?;
    assert!(matches!(
        store.delete_custom_provider("local", "p1").await,
        Err(StoreError::NotFound)
    ));
    // The slug is free again.
    store
        .insert_custom_provider(&provider("p5", "local", "neon"))
        .await?;
    let reopened = backend.reopen().await?;
    assert_eq!(reopened.list_custom_providers().await?.len(), 3);
    Ok(())
}
