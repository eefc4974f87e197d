//! The writing half of an ingest: the batch's begins and ends as one array per column, and the
//! statements that insert, complete, trim and checkpoint — sent together, so the whole write is
//! one round trip however many rows it carries. A begin that carries its end is inserted
//! completed, in the same statement as the rows still in flight: one insert per batch, so the
//! row counters are locked once, in key order, by its trigger.

use std::borrow::Cow;
use std::collections::HashMap;

use deadpool_postgres::Transaction;
use futures_util::future::try_join_all;
use serde_json::Value;

use super::{Begin, End, GatewayKey};
use crate::logs::SpoolPosition;
use crate::store::StoreResult;
use crate::store::logs::RowCap;
use crate::store::postgres::{pg_text, to_i64};

/// Inserts the begins (completed when they carry their end), completes the other ends, trims
/// `DELETE_OLDEST` gateways and moves the checkpoint: statements that need nothing from each
/// other, so they are sent together (pipelined) and run in this order.
pub(super) async fn write_rows(
    transaction: &Transaction<'_>,
    instance_id: &str,
    begins: &[Begin],
    ends: &[End],
    capped: &HashMap<GatewayKey, RowCap>,
    checkpoint: SpoolPosition,
) -> StoreResult<()> {
    let insert = transaction.prepare_cached(INSERT_BEGINS).await?;
    let complete = transaction.prepare_cached(COMPLETE_ENDS).await?;
    let trim = transaction.prepare_cached(DELETE_OLDEST).await?;
    let save = transaction
        .prepare_cached(
            "INSERT INTO spool_checkpoints (instance_id, segment, byte_offset) VALUES ($1, $2, $3)
             ON CONFLICT (instance_id) DO UPDATE SET segment = excluded.segment,
                byte_offset = excluded.byte_offset, updated_at = now()",
        )
        .await?;
    let b = BeginColumns::from(begins);
    let e = EndColumns::from(ends);
    let trims: Vec<(&GatewayKey, i64)> = capped
        .iter()
        .filter_map(|(key, cap)| match cap {
            RowCap::DeleteOldest(limit) => Some((key, to_i64(*limit))),
            RowCap::StopInserting(_) => None,
        })
        .collect();
    let segment = to_i64(checkpoint.segment);
    let offset = to_i64(checkpoint.offset);
    let insert_rows = async {
        if begins.is_empty() {
            return Ok(0);
        }
        transaction
            .execute(
                &insert,
                &[
                    &b.id,
                    &b.account_id,
                    &b.gateway_id,
                    &b.created_at,
                    &b.event_id,
                    &b.provider,
                    &b.model,
                    &b.path,
                    &b.method,
                    &b.metadata,
                    &b.metadata_json,
                    &b.step,
                    &b.request_content_type,
                    &b.request_size,
                    &b.request_head_complete,
                    &b.client_ip,
                    &b.user_agent,
                    &b.instance_id,
                    &b.body,
                    &b.headers,
                    &b.completed,
                    &b.end.status_code,
                    &b.end.success,
                    &b.end.cached,
                    &b.end.duration,
                    &b.end.ttfb,
                    &b.end.tokens_in,
                    &b.end.tokens_out,
                    &b.end.cache_read_tokens,
                    &b.end.cache_write_tokens,
                    &b.end.cost,
                    &b.end.custom_cost,
                    &b.end.attempts,
                    &b.end.response_content_type,
                    &b.end.response_size,
                    &b.end.response_head_complete,
                    &b.end.error,
                    &b.end.body,
                    &b.end.headers,
                ],
            )
            .await
    };
    let complete_rows = async {
        if ends.is_empty() {
            return Ok(0);
        }
        transaction
            .execute(
                &complete,
                &[
                    &e.id,
                    &e.status_code,
                    &e.success,
                    &e.cached,
                    &e.duration,
                    &e.ttfb,
                    &e.tokens_in,
                    &e.tokens_out,
                    &e.cache_read_tokens,
                    &e.cache_write_tokens,
                    &e.cost,
                    &e.custom_cost,
                    &e.attempts,
                    &e.response_content_type,
                    &e.response_size,
                    &e.response_head_complete,
                    &e.error,
                    &e.body,
                    &e.headers,
                ],
            )
            .await
    };
    let trim = &trim;
    let trim_rows = try_join_all(trims.iter().map(|((account, gateway), limit)| async move {
        transaction.execute(trim, &[account, gateway, limit]).await
    }));
    let save_checkpoint = async {
        transaction
            .execute(&save, &[&instance_id, &segment, &offset])
            .await
    };
    // try_join polls in order, and each statement is sent on its first poll: the server runs
    // them in this order.
    tokio::try_join!(insert_rows, complete_rows, trim_rows, save_checkpoint)?;
    Ok(())
}

/// Inserts new rows, completed when the end came along, and, for those actually written with
/// their payload, the bodies. A replayed id is left alone, unless its end came along: then it
/// is completed as [`COMPLETE_ENDS`] would (a replay whose begin was shipped before), its
/// request body kept. The trigger counts inserted rows only (updated ones are not in its
/// transition table).
const INSERT_BEGINS: &str = "WITH v AS (
        SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::int8[], $13::text[],
            $14::int8[], $15::bool[], $16::text[], $17::text[], $18::text[], $19::bytea[], $20::text[],
            $21::bool[], $22::int4[], $23::bool[], $24::bool[], $25::int8[], $26::int8[], $27::int8[],
            $28::int8[], $29::int8[], $30::int8[], $31::float8[], $32::bool[], $33::int8[],
            $34::text[], $35::int8[], $36::bool[], $37::text[], $38::bytea[], $39::text[])
        AS v(id, account_id, gateway_id, created_at, event_id, provider, model, path, method, metadata,
            metadata_json, step, request_content_type, request_size, request_head_complete, client_ip,
            user_agent, instance_id, body, headers, completed, status_code, success, cached, duration,
            ttfb, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost, custom_cost,
            attempts, response_content_type, response_size, response_head_complete, error, response,
            response_headers)
    ),
    written AS (
        INSERT INTO logs (id, account_id, gateway_id, created_at, event_id, provider, model, path, method,
            metadata, metadata_json, step, request_content_type, request_size, request_head_complete,
            client_ip, user_agent, instance_id, completed, status_code, success, cached, duration,
            ttfb, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost, custom_cost,
            attempts, response_content_type, response_size, response_head_complete, error)
        SELECT id, account_id, gateway_id, created_at, event_id, provider, model, path, method, metadata,
            metadata_json, step, request_content_type, request_size, request_head_complete, client_ip,
            user_agent, instance_id, completed, status_code, success, cached, duration, ttfb,
            tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost, custom_cost, attempts,
            response_content_type, response_size, response_head_complete, error
        FROM v
        ON CONFLICT (id) DO UPDATE SET status_code = excluded.status_code,
            success = excluded.success, cached = excluded.cached, duration = excluded.duration,
            ttfb = excluded.ttfb, tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out,
            cache_read_tokens = excluded.cache_read_tokens,
            cache_write_tokens = excluded.cache_write_tokens, cost = excluded.cost,
            custom_cost = excluded.custom_cost, attempts = excluded.attempts,
            response_content_type = excluded.response_content_type,
            response_size = excluded.response_size,
            response_head_complete = excluded.response_head_complete, error = excluded.error,
            completed = TRUE
        WHERE excluded.completed
        RETURNING id
    )
    INSERT INTO log_bodies (log_id, request, request_headers, response, response_headers)
    SELECT v.id, v.body, v.headers, v.response, v.response_headers FROM v JOIN written ON written.id = v.id
    WHERE v.body IS NOT NULL
    ON CONFLICT (log_id) DO UPDATE SET response = excluded.response,
        response_headers = excluded.response_headers
    WHERE excluded.response_headers IS NOT NULL";

/// Completes rows and, for rows that were completed and keep their payload, stores the response
/// body. An end without a row (not logged, or refused by a cap) changes nothing.
const COMPLETE_ENDS: &str = "WITH v AS (
        SELECT * FROM UNNEST($1::text[], $2::int4[], $3::bool[], $4::bool[], $5::int8[], $6::int8[],
            $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::float8[], $12::bool[], $13::int8[],
            $14::text[], $15::int8[], $16::bool[], $17::text[], $18::bytea[], $19::text[])
        AS v(id, status_code, success, cached, duration, ttfb, tokens_in, tokens_out, cache_read_tokens,
            cache_write_tokens, cost, custom_cost, attempts, response_content_type, response_size,
            response_head_complete, error, body, headers)
    ),
    completed AS (
        UPDATE logs AS l SET status_code = v.status_code, success = v.success, cached = v.cached,
            duration = v.duration, ttfb = v.ttfb, tokens_in = v.tokens_in, tokens_out = v.tokens_out,
            cache_read_tokens = v.cache_read_tokens, cache_write_tokens = v.cache_write_tokens,
            cost = v.cost, custom_cost = v.custom_cost, attempts = v.attempts,
            response_content_type = v.response_content_type, response_size = v.response_size,
            response_head_complete = v.response_head_complete, error = v.error, completed = TRUE
        FROM v WHERE l.id = v.id
        RETURNING l.id
    )
    UPDATE log_bodies AS b SET response = v.body, response_headers = v.headers
    FROM v JOIN completed ON completed.id = v.id
    WHERE b.log_id = v.id AND v.body IS NOT NULL";

/// Deletes a gateway's oldest rows beyond its cap ($3), in flight or not, as SQLite does. The
/// two halves each walk the gateway index backwards (completed is its third column), so
/// trimming never sorts the gateway's rows; under the cap both limits are 0.
pub(in crate::store::postgres) const DELETE_OLDEST: &str = "WITH excess AS (
        SELECT COALESCE((SELECT GREATEST(rows - $3, 0) FROM log_counts
                         WHERE account_id = $1 AND gateway_id = $2), 0) AS n
    )
    DELETE FROM logs WHERE id IN (
        SELECT id FROM (
            (SELECT id, created_at FROM logs WHERE account_id = $1 AND gateway_id = $2 AND completed
             ORDER BY created_at ASC NULLS FIRST, id ASC NULLS FIRST LIMIT (SELECT n FROM excess))
            UNION ALL
            (SELECT id, created_at FROM logs WHERE account_id = $1 AND gateway_id = $2 AND NOT completed
             ORDER BY created_at ASC NULLS FIRST, id ASC NULLS FIRST LIMIT (SELECT n FROM excess))
        ) AS oldest
        ORDER BY created_at, id LIMIT (SELECT n FROM excess)
    )";

/// The begins as one array per column, text made storable ([`pg_text`]).
#[derive(Default)]
struct BeginColumns<'a> {
    id: Vec<Cow<'a, str>>,
    account_id: Vec<Cow<'a, str>>,
    gateway_id: Vec<Cow<'a, str>>,
    created_at: Vec<i64>,
    event_id: Vec<Option<Cow<'a, str>>>,
    provider: Vec<Cow<'a, str>>,
    model: Vec<Option<Cow<'a, str>>>,
    path: Vec<Cow<'a, str>>,
    method: Vec<Cow<'a, str>>,
    metadata: Vec<Option<Cow<'a, str>>>,
    metadata_json: Vec<Option<&'a Value>>,
    step: Vec<Option<i64>>,
    request_content_type: Vec<Option<Cow<'a, str>>>,
    request_size: Vec<i64>,
    request_head_complete: Vec<Option<bool>>,
    client_ip: Vec<Option<Cow<'a, str>>>,
    user_agent: Vec<Option<Cow<'a, str>>>,
    instance_id: Vec<Cow<'a, str>>,
    body: Vec<Option<&'a [u8]>>,
    headers: Vec<Option<&'a str>>,
    completed: Vec<bool>,
    /// The end's columns of each row (what the table's defaults hold while in flight); `id`
    /// is left empty.
    end: EndColumns<'a>,
}

fn opt_text(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(pg_text)
}

impl<'a> From<&'a [Begin]> for BeginColumns<'a> {
    fn from(begins: &'a [Begin]) -> Self {
        let mut c = BeginColumns::default();
        for b in begins {
            let r = &b.record;
            c.id.push(pg_text(&r.id));
            c.account_id.push(pg_text(&r.account_id));
            c.gateway_id.push(pg_text(&r.gateway_id));
            c.created_at.push(r.created_at_ms);
            c.event_id.push(opt_text(&r.event_id));
            c.provider.push(pg_text(&r.provider));
            c.model.push(opt_text(&r.model));
            c.path.push(pg_text(&r.path));
            c.method.push(pg_text(&r.method));
            c.metadata.push(opt_text(&r.metadata));
            c.metadata_json.push(b.metadata_json.as_ref());
            c.step.push(r.step);
            c.request_content_type
                .push(opt_text(&r.request_content_type));
            c.request_size.push(r.request_size);
            c.request_head_complete
                .push(r.keep_payload.then_some(r.request_head_complete));
            c.client_ip.push(opt_text(&r.client_ip));
            c.user_agent.push(opt_text(&r.user_agent));
            c.instance_id.push(pg_text(&r.instance_id));
            c.body.push(b.body.as_deref());
            c.headers.push(b.headers.as_deref());
            c.completed.push(b.end.is_some());
            match &b.end {
                Some(end) => c.end.push_columns(end),
                None => c.end.push_in_flight(),
            }
        }
        c
    }
}

/// The ends as one array per column, text made storable ([`pg_text`]).
#[derive(Default)]
struct EndColumns<'a> {
    id: Vec<Cow<'a, str>>,
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
    attempts: Vec<i64>,
    response_content_type: Vec<Option<Cow<'a, str>>>,
    response_size: Vec<Option<i64>>,
    response_head_complete: Vec<Option<bool>>,
    error: Vec<Option<Cow<'a, str>>>,
    body: Vec<Option<&'a [u8]>>,
    headers: Vec<Option<&'a str>>,
}

impl<'a> From<&'a [End]> for EndColumns<'a> {
    fn from(ends: &'a [End]) -> Self {
        let mut c = EndColumns::default();
        for e in ends {
            c.id.push(pg_text(&e.record.id));
            c.push_columns(e);
        }
        c
    }
}

impl<'a> EndColumns<'a> {
    /// Every column but the id.
    fn push_columns(&mut self, e: &'a End) {
        let r = &e.record;
        self.status_code.push(r.status_code.map(i32::from));
        self.success.push(r.success);
        self.cached.push(r.cached);
        self.duration.push(Some(r.duration_ms));
        self.ttfb.push(r.ttfb_ms);
        self.tokens_in.push(r.tokens_in);
        self.tokens_out.push(r.tokens_out);
        self.cache_read_tokens.push(r.cache_read_tokens);
        self.cache_write_tokens.push(r.cache_write_tokens);
        self.cost.push(r.cost);
        self.custom_cost.push(r.custom_cost);
        self.attempts.push(r.attempts);
        self.response_content_type
            .push(opt_text(&r.response_content_type));
        self.response_size.push(Some(r.response_size));
        self.response_head_complete
            .push(e.headers.is_some().then_some(r.response_head_complete));
        self.error.push(opt_text(&r.error));
        self.body.push(e.body.as_deref());
        self.headers.push(e.headers.as_deref());
    }

    /// The columns of a row whose end has not come: the table's defaults.
    fn push_in_flight(&mut self) {
        self.status_code.push(None);
        self.success.push(false);
        self.cached.push(false);
        self.duration.push(None);
        self.ttfb.push(None);
        self.tokens_in.push(None);
        self.tokens_out.push(None);
        self.cache_read_tokens.push(None);
        self.cache_write_tokens.push(None);
        self.cost.push(None);
        self.custom_cost.push(false);
        self.attempts.push(1);
        self.response_content_type.push(None);
        self.response_size.push(None);
        self.response_head_complete.push(None);
        self.error.push(None);
        self.body.push(None);
        self.headers.push(None);
    }
}
