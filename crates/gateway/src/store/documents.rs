//! A gateway's datasets and evaluations as the store sees them (docs/evaluations.md): small JSON
//! documents of one kind each, read from the store on every management call (no cache), so every
//! instance on a shared store answers the same.

use async_trait::async_trait;

use super::StoreResult;

/// What a document is; its JSON body is the API's object for that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Dataset,
    Evaluation,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Dataset => "dataset",
            DocumentKind::Evaluation => "evaluation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub account_id: String,
    pub gateway_id: String,
    pub kind: DocumentKind,
    pub id: String,
    /// The API object without its id and times, as JSON text.
    pub body: String,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// The gateway's documents of `kind`, oldest first (ties by id).
    async fn list_documents(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
    ) -> StoreResult<Vec<StoredDocument>>;
    /// Fails with `NotFound` if the gateway does not exist, `Conflict` if the id does.
    async fn insert_document(&self, document: &StoredDocument) -> StoreResult<()>;
    /// Writes `body` and `modified_at`; `NotFound` if there is no such document.
    async fn update_document(&self, document: &StoredDocument) -> StoreResult<()>;
    /// `NotFound` if there is no such document.
    async fn delete_document(
        &self,
        account_id: &str,
        gateway_id: &str,
        kind: DocumentKind,
        id: &str,
    ) -> StoreResult<()>;
}
