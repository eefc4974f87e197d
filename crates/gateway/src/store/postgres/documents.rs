//! Datasets and evaluations in PostgreSQL (docs/evaluations.md).

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::store::changed_one;
use crate::store::{DocumentKind, DocumentStore, StoreResult, StoredDocument};

fn document_from_row(
    account_id: &str,
    gateway_id: &str,
    kind: DocumentKind,
    row: &Row,
) -> StoreResult<StoredDocument> {
    let time = |column: &str| -> StoreResult<jiff::Timestamp> {
        row.try_get::<_, String>(column)?.parse().map_err(corrupt)
    };
    Ok(StoredDocument {
        account_id: account_id.to_owned(),
        gateway_id: gateway_id.to_owned(),
        kind,
        id: row.try_get("id")?,
        body: row.try_get("body")?,
        created_at: time("created_at")?,
        modified_at: time("modified_at")?,
    })
}

#[async_trait]
impl DocumentStore for PostgresStore {
    async fn list_documents(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
    ) -> StoreResult<Vec<StoredDocument>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, body, created_at, modified_at FROM documents
                     WHERE account_id = $1 AND gateway_id = $2 AND kind = $3",
                    &[&account_id, &gateway_id, &kind.as_str()],
                )
                .await?;
            let mut documents = rows
                .iter()
                .map(|row| document_from_row(account_id, gateway_id, kind, row))
                .collect::<StoreResult<Vec<_>>>()?;
            // By real time, as the SQLite store's order (RFC 3339 text does not sort by time).
            documents.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(documents)
        })
        .await
    }

    async fn insert_document(&self, document: &StoredDocument) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            // `INSERT … SELECT` from the gateway: no row means no gateway (not a conflict).
            let inserted = self
                .client()
                .await?
                .execute(
                    "INSERT INTO documents
                     (account_id, gateway_id, kind, id, body, created_at, modified_at)
                     SELECT $1, $2, $3, $4, $5, $6, $7
                     FROM gateways WHERE account_id = $1 AND id = $2",
                    &[
                        &document.account_id,
                        &document.gateway_id,
                        &document.kind.as_str(),
                        &document.id,
                        &document.body,
                        &document.created_at.to_string(),
                        &document.modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(inserted)
        })
        .await
    }

    async fn update_document(&self, document: &StoredDocument) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE documents SET body = $5, modified_at = $6
                     WHERE account_id = $1 AND gateway_id = $2 AND kind = $3 AND id = $4",
                    &[
                        &document.account_id,
                        &document.gateway_id,
                        &document.kind.as_str(),
                        &document.id,
                        &document.body,
                        &document.modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn delete_document(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
        id: &str,
    ) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM documents
                     WHERE account_id = $1 AND gateway_id = $2 AND kind = $3 AND id = $4",
                    &[&account_id, &gateway_id, &kind.as_str(), &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }
}
