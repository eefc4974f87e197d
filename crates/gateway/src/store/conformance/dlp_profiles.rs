//! Custom DLP profiles: the tests of [`super::suite!`] for the [`DlpProfileStore`] side of a
//! store, each a body generic over the [`Backend`].

use super::Backend;
use crate::store::{StoreError, StoredDlpProfile};

fn profile(id: &str, account_id: &str, name: &str) -> StoredDlpProfile {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredDlpProfile {
        id: id.into(),
        account_id: account_id.into(),
        name: name.into(),
        body: format!(r#"{{"name":"{name}","entries":[]}}"#),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

pub(crate) async fn dlp_profiles_are_kept_per_account_with_their_version<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let first = profile("p1", "local", "employee ids");
    let second = profile("p2", "local", "project names");
    store.insert_dlp_profile(&first).await?;
    store.insert_dlp_profile(&second).await?;
    store
        .insert_dlp_profile(&profile("p3", "other", "x"))
        .await?;
    assert!(matches!(
        store.insert_dlp_profile(&first).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.list_dlp_profiles("local").await?,
        [first.clone(), second.clone()]
    );

    let mut changed = first.clone();
    changed.name = "badge ids".into();
    changed.body = r#"{"name":"badge ids","entries":[]}"#.into();
    changed.version = 2;
    store.update_dlp_profile(&changed).await?;
    assert_eq!(store.list_dlp_profiles("local").await?[0], changed);
    // Another account's id is not this one's to change or delete.
    let mut foreign = profile("p3", "local", "y");
    foreign.version = 2;
    assert!(matches!(
        store.update_dlp_profile(&foreign).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_dlp_profile("local", "p3").await,
        Err(StoreError::NotFound)
    ));

    store.delete_dlp_profile("local", "p1").await?;
    assert!(matches!(
        store.delete_dlp_profile("local", "p1").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_dlp_profiles("local").await?, [second]);
    assert_eq!(store.list_dlp_profiles("other").await?.len(), 1);
    Ok(())
}
