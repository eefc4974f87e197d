//! The one [`LogStore`] implementation: every SQL store builds its statements with
//! [`super::logs`] and only says how to run them ([`SqlLogs`]), so the two stores share the
//! API's semantics down to the statement, not just the shape.

use async_trait::async_trait;

use super::logs::{self as sql, ListSql, PatchSql};
use super::{Dialect, Statement};
use crate::analytics::RollupDelta;
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::{
    BodyKind, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, RowCap, StoredBody,
};

/// One ingest batch, as [`LogStore::ingest`] takes it.
pub(crate) struct IngestBatch {
    pub records: Vec<SpoolRecord>,
    pub rollups: Vec<RollupDelta>,
    pub checkpoint: SpoolPosition,
    pub caps: Vec<((String, String), RowCap)>,
}

impl IngestBatch {
    pub(crate) fn into_parts(self) -> Parts {
        (self.records, self.rollups, self.checkpoint, self.caps)
    }
}

type Parts = (
    Vec<SpoolRecord>,
    Vec<RollupDelta>,
    SpoolPosition,
    Vec<((String, String), RowCap)>,
);

/// What a SQL store runs: the ingest side its own way, the logs API's statements as built.
#[async_trait]
pub(crate) trait SqlLogs: Send + Sync {
    const DIALECT: Dialect;
    async fn write_batch(&self, instance_id: &str, batch: IngestBatch) -> StoreResult<()>;
    async fn stored_checkpoint(&self, instance_id: &str) -> StoreResult<Option<SpoolPosition>>;
    async fn interrupt(&self, instance_id: &str) -> StoreResult<u64>;
    /// The page's rows and aggregates, from one snapshot.
    async fn list(&self, sql: ListSql) -> StoreResult<(Vec<LogRow>, LogPageInfo)>;
    async fn row(&self, statement: Statement) -> StoreResult<Option<LogRow>>;
    async fn body(&self, statement: Statement) -> StoreResult<Option<StoredBody>>;
    /// The boolean a `SELECT EXISTS` yields.
    async fn exists(&self, statement: Statement) -> StoreResult<bool>;
    /// Rows changed.
    async fn execute(&self, statement: Statement) -> StoreResult<u64>;
}

#[async_trait]
impl<S: SqlLogs> LogStore for S {
    async fn ingest(
        &self,
        instance_id: &str,
        records: Vec<SpoolRecord>,
        rollups: Vec<RollupDelta>,
        checkpoint: SpoolPosition,
        caps: Vec<((String, String), RowCap)>,
    ) -> StoreResult<()> {
        let batch = IngestBatch {
            records,
            rollups,
            checkpoint,
            caps,
        };
        self.write_batch(instance_id, batch).await
    }

    async fn checkpoint(&self, instance_id: &str) -> StoreResult<Option<SpoolPosition>> {
        self.stored_checkpoint(instance_id).await
    }

    async fn mark_interrupted(&self, instance_id: &str) -> StoreResult<u64> {
        self.interrupt(instance_id).await
    }

    async fn list_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
    ) -> StoreResult<(Vec<LogRow>, LogPageInfo)> {
        self.list(sql::list(S::DIALECT, account_id, gateway_id, query)?)
            .await
    }

    async fn get_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<Option<LogRow>> {
        self.row(sql::get(S::DIALECT, account_id, gateway_id, id))
            .await
    }

    async fn get_body(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        kind: BodyKind,
    ) -> StoreResult<Option<StoredBody>> {
        self.body(sql::body(S::DIALECT, account_id, gateway_id, id, kind))
            .await
    }

    async fn patch_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        patch: &LogPatch,
    ) -> StoreResult<bool> {
        match sql::patch(S::DIALECT, account_id, gateway_id, id, patch) {
            PatchSql::Exists(statement) => self.exists(statement).await,
            PatchSql::Update(statement) => Ok(self.execute(statement).await? > 0),
        }
    }

    async fn delete_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
        limit: u32,
    ) -> StoreResult<u64> {
        if limit == 0 {
            return Ok(0);
        }
        // Bodies go with their rows (ON DELETE CASCADE in both stores), and the row counter
        // with its trigger.
        self.execute(sql::delete(
            S::DIALECT,
            account_id,
            gateway_id,
            query,
            limit,
        )?)
        .await
    }
}
