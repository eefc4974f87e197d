//! The request-log side of storage: rows as the logs API shows them, the queries it makes, and
//! the ingestion calls the log shipper makes (docs/logs.md).

pub(crate) mod body_codec;
pub(crate) mod columns;
pub(crate) mod filter_keys;
mod from_records;

use async_trait::async_trait;
use serde_json::Value;

use super::StoreResult;
use crate::analytics::{AnalyticsQuery, GroupedRow, RollupDelta, RollupRow};
use crate::logs::{SpoolPosition, SpoolRecord};

/// One log row (docs/logs.md). Times are Unix milliseconds; rendering is the API's job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogRow {
    pub id: String,
    pub account_id: String,
    pub gateway_id: String,
    pub created_at_ms: i64,
    pub event_id: Option<String>,
    pub provider: String,
    pub model: Option<String>,
    pub path: String,
    pub method: String,
    pub status_code: Option<u16>,
    pub success: bool,
    pub cached: bool,
    pub duration_ms: Option<i64>,
    pub ttfb_ms: Option<i64>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub custom_cost: bool,
    /// A flat JSON object, kept as its JSON text (Cloudflare's REST API returns it as a string).
    pub metadata: Option<String>,
    pub step: Option<i64>,
    pub attempts: i64,
    pub request_content_type: Option<String>,
    pub response_content_type: Option<String>,
    pub request_size: Option<i64>,
    pub response_size: Option<i64>,
    pub request_head_complete: Option<bool>,
    pub response_head_complete: Option<bool>,
    pub feedback: Option<i64>,
    pub score: Option<f64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Gateway-side reason for a failure (`interrupted`, `client disconnected`, …).
    pub error: Option<String>,
    /// The OpenTelemetry trace of the request, when it was traced.
    pub trace_id: Option<String>,
    /// What DLP matched, as JSON (docs/dlp.md); entry ids only, never the matched text.
    pub dlp: Option<String>,
    /// False while the request is in flight (only its begin record has arrived).
    pub completed: bool,
}

/// Which stored body of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Request,
    Response,
}

/// A stored body, decompressed, with the headers that went with it (credentials redacted).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBody {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub complete: bool,
    /// `[[name, value], …]` as JSON.
    pub headers: Option<Value>,
}

/// Filter operators of Cloudflare's logs API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    Contains,
    Lt,
    Gt,
}

/// One `{key, operator, value[]}` filter. `key` is a column name of [`LogRow`]'s API form
/// (`provider`, `tokens_in`, `metadata.key`, …); values match if any of them matches.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFilter {
    pub key: String,
    pub op: FilterOp,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogQuery {
    pub filters: Vec<LogFilter>,
    /// Free-text search over model, provider, path, metadata, event id and trace id.
    pub search: Option<String>,
    /// Column to order by (default `created_at`) and direction (default descending).
    pub order_by: Option<String>,
    pub ascending: bool,
    pub page: u32,
    pub per_page: u32,
}

/// Aggregates over the whole filtered set, for `result_info`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPageInfo {
    pub total_count: u64,
    pub min_cost: Option<f64>,
    pub max_cost: Option<f64>,
    pub min_duration: Option<i64>,
    pub max_duration: Option<i64>,
    pub min_tokens_in: Option<i64>,
    pub max_tokens_in: Option<i64>,
    pub min_tokens_out: Option<i64>,
    pub max_tokens_out: Option<i64>,
    pub min_total_tokens: Option<i64>,
    pub max_total_tokens: Option<i64>,
    /// What evaluations read (docs/evaluations.md): sums and counts of the rows that have a
    /// cost or a duration, and the thumbs up and down.
    pub cost_sum: Option<f64>,
    pub cost_count: u64,
    pub duration_sum: Option<f64>,
    pub duration_count: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
}

/// Fields a `PATCH …/logs/{id}` may change; `Some(None)` clears.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogPatch {
    pub feedback: Option<Option<i64>>,
    pub score: Option<Option<f64>>,
    pub metadata: Option<Option<String>>,
}

/// Per-gateway limits the shipper applies while ingesting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCap {
    /// Keep at most this many rows; new rows beyond it are not stored.
    StopInserting(u64),
    /// Keep at most this many rows; the oldest go.
    DeleteOldest(u64),
}

#[async_trait]
pub trait LogStore: Send + Sync {
    /// Applies spool records in order (begin → insert row, end → complete it), adds the
    /// batch's rollup deltas and moves the checkpoint, atomically: a batch is applied whole or
    /// not at all, so replaying from the checkpoint never counts a request twice.
    /// `instance_id` names the spool the records come from: a shared store (PostgreSQL) keeps
    /// one checkpoint per instance. `caps` names the gateways that have a row cap, as
    /// `(account, gateway)`.
    async fn ingest(
        &self,
        instance_id: &str,
        records: Vec<SpoolRecord>,
        rollups: Vec<RollupDelta>,
        checkpoint: SpoolPosition,
        caps: Vec<((String, String), RowCap)>,
    ) -> StoreResult<()>;
    /// Where the last ingest of this instance's spool stopped.
    async fn checkpoint(&self, instance_id: &str) -> StoreResult<Option<SpoolPosition>>;
    /// Marks this instance's rows that never completed as interrupted; returns how many.
    async fn mark_interrupted(&self, instance_id: &str) -> StoreResult<u64>;

    async fn list_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
    ) -> StoreResult<(Vec<LogRow>, LogPageInfo)>;
    async fn get_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<Option<LogRow>>;
    async fn get_body(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        kind: BodyKind,
    ) -> StoreResult<Option<StoredBody>>;
    /// Returns false if no such log.
    async fn patch_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        patch: &LogPatch,
    ) -> StoreResult<bool>;
    /// Deletes up to `limit` rows matching `query` (its filters, search and order); returns how many.
    async fn delete_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
        limit: u32,
    ) -> StoreResult<u64>;
}

/// Reading analytics rollups.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Rows of `query.resolution` whose bucket overlaps `[start, end)`, matching its account,
    /// gateway, provider and model filters.
    async fn rollups(&self, query: &AnalyticsQuery) -> StoreResult<Vec<RollupRow>>;

    /// The completed log rows in `query`'s range and filters, summed per value of metadata
    /// `key` (absent: `None`) and bucket of `query.resolution`; at most
    /// [`crate::analytics::MAX_GROUPED_ROWS`] + 1 rows (docs/analytics.md).
    async fn metadata_groups(
        &self,
        query: &AnalyticsQuery,
        key: &str,
    ) -> StoreResult<Vec<GroupedRow>>;
}
