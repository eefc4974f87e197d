//! Datasets and evaluations in SQLite (docs/evaluations.md).

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::changed_one;
use crate::store::{DocumentKind, DocumentStore, StoreResult, StoredDocument};

fn document_from_row(
    account_id: &str,
    gateway_id: &str,
    kind: DocumentKind,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredDocument> {
    let created: String = row.get(2)?;
    let modified: String = row.get(3)?;
    Ok(StoredDocument {
        account_id: account_id.to_owned(),
        gateway_id: gateway_id.to_owned(),
        kind,
        id: row.get(0)?,
        body: row.get(1)?,
        created_at: created.parse().map_err(to_text(2))?,
        modified_at: modified.parse().map_err(to_text(3))?,
    })
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn list_documents(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
    ) -> StoreResult<Vec<StoredDocument>> {
        let (account_id, gateway_id) = (account_id.to_owned(), gateway_id.to_owned());
        self.with_read(move |c| {
            let mut documents = c
                .prepare(
                    "SELECT id, body, created_at, modified_at FROM documents
                     WHERE account_id = ?1 AND gateway_id = ?2 AND kind = ?3",
                )?
                .query_map(params![account_id, gateway_id, kind.as_str()], |row| {
                    document_from_row(&account_id, &gateway_id, kind, row)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // By real time: RFC 3339 text with varying fractions does not sort by time.
            documents.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(documents)
        })
        .await
    }

    async fn insert_document(&self, document: &StoredDocument) -> StoreResult<()> {
        let document = document.clone();
        self.with(move |c| {
            super::require_gateway(c, &document.account_id, &document.gateway_id)?;
            c.execute(
                "INSERT INTO documents
                 (account_id, gateway_id, kind, id, body, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    document.account_id,
                    document.gateway_id,
                    document.kind.as_str(),
                    document.id,
                    document.body,
                    document.created_at.to_string(),
                    document.modified_at.to_string(),
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_document(&self, document: &StoredDocument) -> StoreResult<()> {
        let document = document.clone();
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE documents SET body = ?5, modified_at = ?6
                     WHERE account_id = ?1 AND gateway_id = ?2 AND kind = ?3 AND id = ?4",
                    params![
                        document.account_id,
                        document.gateway_id,
                        document.kind.as_str(),
                        document.id,
                        document.body,
                        document.modified_at.to_string(),
                    ],
                )
            })
            .await?;
        changed_one(changed)
    }

    async fn delete_document(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
        id: &str,
    ) -> StoreResult<()> {
        let key = (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM documents
                     WHERE account_id = ?1 AND gateway_id = ?2 AND kind = ?3 AND id = ?4",
                    params![key.0, key.1, kind.as_str(), key.2],
                )
            })
            .await?;
        changed_one(changed)
    }
}
