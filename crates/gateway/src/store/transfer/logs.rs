//! Copying request logs: every column of every row (feedback, score, metadata, cost, status,
//! the writer's instance id, …) and the stored bodies and headers, still compressed. A batch
//! inserts its rows, then their bodies, in one transaction.

use std::borrow::Cow;

use serde_json::Value;

use super::registry::{advance, empty};
use super::source::LogCopy;
use super::{Run, TableSummary, TransferError, within};
use crate::store::postgres::pg_text;
use crate::store::sql::metadata_object;

pub(super) async fn copy_logs(
    run: &mut Run<'_>,
    total: u64,
) -> Result<[TableSummary; 2], TransferError> {
    let mut logs = empty("logs", total);
    let mut bodies = empty("log_bodies", 0);
    let mut after = String::new();
    loop {
        let batch = run
            .source
            .logs(
                after.clone(),
                run.options.batch_rows,
                run.options.batch_body_bytes,
            )
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.row.id.clone();
        let rows = LogColumns::from(batch.as_slice());
        let stored = BodyColumns::from(batch.as_slice());
        let client = &mut run.client;
        let (copied, bodies_copied) = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction.execute(INSERT_LOGS, &rows.params()).await?;
            let bodies_copied = transaction
                .execute(
                    INSERT_BODIES,
                    &[
                        &stored.log_id,
                        &stored.request,
                        &stored.request_headers,
                        &stored.response,
                        &stored.response_headers,
                    ],
                )
                .await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>((copied, bodies_copied))
        })
        .await?;
        let body_rows = stored.log_id.len() as u64;
        bodies.source_rows += body_rows;
        bodies.copied += bodies_copied;
        bodies.skipped += body_rows.saturating_sub(bodies_copied);
        advance(run, &mut logs, batch.len(), copied);
    }
    Ok([logs, bodies])
}

const INSERT_LOGS: &str = "INSERT INTO logs (id, account_id, gateway_id, created_at, event_id,
        provider, model, path, method, status_code, success, cached, duration, ttfb, tokens_in,
        tokens_out, cache_read_tokens, cache_write_tokens, cost, custom_cost, metadata,
        metadata_json, step, attempts, request_content_type, response_content_type, request_size,
        response_size, request_head_complete, response_head_complete, feedback, score, client_ip,
        user_agent, error, completed, instance_id)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[],
        $7::text[], $8::text[], $9::text[], $10::int4[], $11::bool[], $12::bool[], $13::int8[],
        $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::float8[],
        $20::bool[], $21::text[], $22::jsonb[], $23::int8[], $24::int8[], $25::text[],
        $26::text[], $27::int8[], $28::int8[], $29::bool[], $30::bool[], $31::int8[],
        $32::float8[], $33::text[], $34::text[], $35::text[], $36::bool[], $37::text[])
    ON CONFLICT (id) DO NOTHING";

/// Bodies of rows already in the target are left alone: the row and its body always arrive
/// in the same transaction, so a row that is there has its body.
const INSERT_BODIES: &str = "INSERT INTO log_bodies (log_id, request, request_headers, response,
        response_headers)
    SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::bytea[], $5::text[])
    ON CONFLICT (log_id) DO NOTHING";

type Text<'a> = Vec<Cow<'a, str>>;
type OptText<'a> = Vec<Option<Cow<'a, str>>>;

/// A batch's rows as one array per column, text made storable ([`pg_text`]).
#[derive(Default)]
struct LogColumns<'a> {
    id: Text<'a>,
    account_id: Text<'a>,
    gateway_id: Text<'a>,
    created_at: Vec<i64>,
    event_id: OptText<'a>,
    provider: Text<'a>,
    model: OptText<'a>,
    path: Text<'a>,
    method: Text<'a>,
    status_code: Vec<Option<i32>>,
    success: Vec<bool>,
    cached: Vec<bool>,
    duration: Vec<Option<i64>>,
    ttfb: Vec<Option<i64>>,
    tokens_in: Vec<Option<i64>>,
    tokens_out: Vec<Option<i64>>,
    cache_read_tokens: Vec<Option<i64>>,
    cache_write_tokens: Vec<Option<i64>>,
    cost: Vec<Option<f64>>,
    custom_cost: Vec<bool>,
    metadata: OptText<'a>,
    metadata_json: Vec<Option<Value>>,
    step: Vec<Option<i64>>,
    attempts: Vec<i64>,
    request_content_type: OptText<'a>,
    response_content_type: OptText<'a>,
    request_size: Vec<Option<i64>>,
    response_size: Vec<Option<i64>>,
    request_head_complete: Vec<Option<bool>>,
    response_head_complete: Vec<Option<bool>>,
    feedback: Vec<Option<i64>>,
    score: Vec<Option<f64>>,
    client_ip: OptText<'a>,
    user_agent: OptText<'a>,
    error: OptText<'a>,
    completed: Vec<bool>,
    instance_id: Text<'a>,
}

fn opt_text(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(pg_text)
}

impl<'a> From<&'a [LogCopy]> for LogColumns<'a> {
    fn from(batch: &'a [LogCopy]) -> Self {
        let mut c = LogColumns::default();
        for copy in batch {
            let r = &copy.row;
            c.id.push(pg_text(&r.id));
            c.account_id.push(pg_text(&r.account_id));
            c.gateway_id.push(pg_text(&r.gateway_id));
            c.created_at.push(r.created_at_ms);
            c.event_id.push(opt_text(&r.event_id));
            c.provider.push(pg_text(&r.provider));
            c.model.push(opt_text(&r.model));
            c.path.push(pg_text(&r.path));
            c.method.push(pg_text(&r.method));
            c.status_code.push(r.status_code.map(i32::from));
            c.success.push(r.success);
            c.cached.push(r.cached);
            c.duration.push(r.duration_ms);
            c.ttfb.push(r.ttfb_ms);
            c.tokens_in.push(r.tokens_in);
            c.tokens_out.push(r.tokens_out);
            c.cache_read_tokens.push(r.cache_read_tokens);
            c.cache_write_tokens.push(r.cache_write_tokens);
            c.cost.push(r.cost);
            c.custom_cost.push(r.custom_cost);
            c.metadata.push(opt_text(&r.metadata));
            c.metadata_json.push(metadata_object(r.metadata.as_deref()));
            c.step.push(r.step);
            c.attempts.push(r.attempts);
            c.request_content_type
                .push(opt_text(&r.request_content_type));
            c.response_content_type
                .push(opt_text(&r.response_content_type));
            c.request_size.push(r.request_size);
            c.response_size.push(r.response_size);
            c.request_head_complete.push(r.request_head_complete);
            c.response_head_complete.push(r.response_head_complete);
            c.feedback.push(r.feedback);
            c.score.push(r.score);
            c.client_ip.push(opt_text(&r.client_ip));
            c.user_agent.push(opt_text(&r.user_agent));
            c.error.push(opt_text(&r.error));
            c.completed.push(r.completed);
            c.instance_id.push(pg_text(&copy.instance_id));
        }
        c
    }
}

impl LogColumns<'_> {
    /// The arrays in the order of [`INSERT_LOGS`]'s parameters.
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 37] {
        [
            &self.id,
            &self.account_id,
            &self.gateway_id,
            &self.created_at,
            &self.event_id,
            &self.provider,
            &self.model,
            &self.path,
            &self.method,
            &self.status_code,
            &self.success,
            &self.cached,
            &self.duration,
            &self.ttfb,
            &self.tokens_in,
            &self.tokens_out,
            &self.cache_read_tokens,
            &self.cache_write_tokens,
            &self.cost,
            &self.custom_cost,
            &self.metadata,
            &self.metadata_json,
            &self.step,
            &self.attempts,
            &self.request_content_type,
            &self.response_content_type,
            &self.request_size,
            &self.response_size,
            &self.request_head_complete,
            &self.response_head_complete,
            &self.feedback,
            &self.score,
            &self.client_ip,
            &self.user_agent,
            &self.error,
            &self.completed,
            &self.instance_id,
        ]
    }
}

/// The batch's stored bodies, one array per column (rows without a body have no entry).
#[derive(Default)]
struct BodyColumns<'a> {
    log_id: Text<'a>,
    request: Vec<Option<&'a [u8]>>,
    request_headers: OptText<'a>,
    response: Vec<Option<&'a [u8]>>,
    response_headers: OptText<'a>,
}

impl<'a> From<&'a [LogCopy]> for BodyColumns<'a> {
    fn from(batch: &'a [LogCopy]) -> Self {
        let mut c = BodyColumns::default();
        for copy in batch {
            let Some(b) = &copy.bodies else { continue };
            c.log_id.push(pg_text(&copy.row.id));
            c.request.push(b.request.as_deref());
            c.request_headers.push(opt_text(&b.request_headers));
            c.response.push(b.response.as_deref());
            c.response_headers.push(opt_text(&b.response_headers));
        }
        c
    }
}
