//! A gateway's policies: the tests of [`super::suite!`] for the [`PolicyStore`] side of a store,
//! each a body generic over the [`Backend`].

use super::Backend;
use super::registry::gateway;
use crate::store::{StoreError, StoredPolicy};

fn policy(id: &str, gateway_id: &str, draft: &str) -> StoredPolicy {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredPolicy {
        id: id.into(),
        account_id: "local".into(),
        gateway_id: gateway_id.into(),
        committed: None,
        draft: Some(draft.into()),
        created_at: now,
        updated_at: now,
    }
}

pub(crate) async fn policies_stage_commit_and_go_with_their_gateway<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let first = policy("p1", "gw", r#"{"name":"a"}"#);
    // A policy needs its gateway.
    assert!(matches!(
        store.put_policy(&first).await,
        Err(StoreError::NotFound)
    ));
    store.insert_gateway(&gateway("gw")).await?;
    store.insert_gateway(&gateway("other")).await?;
    store.put_policy(&first).await?;
    let mut second = policy("p2", "gw", r#"{"name":"b"}"#);
    second.committed = Some(r#"{"name":"b0"}"#.into());
    store.put_policy(&second).await?;
    assert_eq!(
        store.list_policies("local", "gw").await?,
        [first.clone(), second.clone()]
    );
    // Another gateway's id is not this one's to overwrite.
    assert!(matches!(
        store.put_policy(&policy("p1", "other", "{}")).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_policies("local", "other").await?.is_empty());

    let at = crate::clock::Clock::now(&crate::clock::SystemClock);
    assert_eq!(store.commit_policies("local", "gw", at).await?, 2);
    let committed = store.list_policies("local", "gw").await?;
    assert_eq!(committed[0].committed.as_deref(), Some(r#"{"name":"a"}"#));
    assert_eq!(committed[1].committed.as_deref(), Some(r#"{"name":"b"}"#));
    assert!(
        committed
            .iter()
            .all(|p| p.draft.is_none() && p.updated_at == at)
    );
    assert_eq!(store.commit_policies("local", "gw", at).await?, 0);

    store.delete_policy("local", "gw", "p1").await?;
    assert!(matches!(
        store.delete_policy("local", "gw", "p1").await,
        Err(StoreError::NotFound)
    ));
    store.delete_gateway("local", "gw").await?;
    assert!(store.list_policies("local", "gw").await?.is_empty());
    Ok(())
}
