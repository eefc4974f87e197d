//! Datasets and evaluations: the tests of [`super::suite!`] for the [`DocumentStore`] side of a
//! store, each a body generic over the [`Backend`].

use super::Backend;
use super::registry::gateway;
use crate::store::{DocumentKind, StoreError, StoredDocument};

fn document(id: &str, kind: DocumentKind, body: &str) -> StoredDocument {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    StoredDocument {
        account_id: "local".into(),
        gateway_id: "gw".into(),
        kind,
        id: id.into(),
        body: body.into(),
        created_at: now,
        modified_at: now,
    }
}

pub(crate) async fn documents_round_trip_by_kind_and_go_with_their_gateway<B: Backend>()
-> anyhow::Result<()> {
    let backend = B::open().await?;
    let store = backend.store();
    let dataset = document("d1", DocumentKind::Dataset, r#"{"name":"slow"}"#);
    // A document needs its gateway.
    assert!(matches!(
        store.insert_document(&dataset).await,
        Err(StoreError::NotFound)
    ));
    store.insert_gateway(&gateway("gw")).await?;
    store.insert_gateway(&gateway("other")).await?;
    store.insert_document(&dataset).await?;
    assert!(matches!(
        store.insert_document(&dataset).await,
        Err(StoreError::Conflict)
    ));
    // The same id in another kind or gateway is another document.
    let evaluation = document("d1", DocumentKind::Evaluation, r#"{"name":"e"}"#);
    store.insert_document(&evaluation).await?;
    let elsewhere = StoredDocument {
        gateway_id: "other".into(),
        ..document("d1", DocumentKind::Dataset, "{}")
    };
    store.insert_document(&elsewhere).await?;
    let later = StoredDocument {
        created_at: dataset.created_at + jiff::SignedDuration::from_secs(1),
        ..document("a2", DocumentKind::Dataset, r#"{"name":"cheap"}"#)
    };
    store.insert_document(&later).await?;
    assert_eq!(
        store
            .list_documents("local", "gw", DocumentKind::Dataset)
            .await?,
        vec![dataset.clone(), later.clone()],
        "oldest first, whatever the ids"
    );

    let edited = StoredDocument {
        body: r#"{"name":"slower"}"#.into(),
        modified_at: dataset.modified_at + jiff::SignedDuration::from_secs(5),
        ..dataset.clone()
    };
    store.update_document(&edited).await?;
    let listed = store
        .list_documents("local", "gw", DocumentKind::Dataset)
        .await?;
    assert_eq!(listed[0], edited);
    assert!(matches!(
        store
            .update_document(&document("nope", DocumentKind::Dataset, "{}"))
            .await,
        Err(StoreError::NotFound)
    ));

    store
        .delete_document("local", "gw", DocumentKind::Dataset, "a2")
        .await?;
    assert!(matches!(
        store
            .delete_document("local", "gw", DocumentKind::Dataset, "a2")
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .list_documents("local", "gw", DocumentKind::Evaluation)
            .await?,
        vec![evaluation]
    );

    // Deleting a gateway deletes its documents, and only its.
    store.delete_gateway("local", "gw").await?;
    store.insert_gateway(&gateway("gw")).await?;
    for kind in [DocumentKind::Dataset, DocumentKind::Evaluation] {
        assert!(store.list_documents("local", "gw", kind).await?.is_empty());
    }
    assert_eq!(
        store
            .list_documents("local", "other", DocumentKind::Dataset)
            .await?,
        vec![elsewhere]
    );
    Ok(())
}
