//! The writing half of an ingest: the batch's begins and ends as one array per column, and the
//! statements that insert, complete, trim and checkpoint — sent together, so the whole write is
//! one round trip however many rows it carries. A begin that carries its end is inserted
//! completed, in the same statement as the rows still in flight: one insert per batch, so the
//! row counters are locked once, in key order, by its trigger. The rows' columns, and the
//! statements' column lists, come from `LOG_COLUMNS` (docs/logs.md, "Adding a log column").

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use deadpool_postgres::Transaction;
use futures_util::future::try_join_all;
use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::{Begin, End, GatewayKey};
use crate::convert::saturating_i64;
use crate::logs::SpoolPosition;
use crate::store::StoreResult;
use crate::store::logs::columns::{self, LogColumn};
use crate::store::logs::{LogRow, RowCap};
use crate::store::postgres::log_arrays::{Array, unnest};
use crate::store::postgres::pg_text;
use crate::store::sql::ingest::{WRITER_COLUMN, end_assignments};

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
    let insert = transaction.prepare_cached(&INSERT_BEGINS).await?;
    let complete = transaction.prepare_cached(&COMPLETE_ENDS).await?;
    let trim = transaction.prepare_cached(DELETE_OLDEST).await?;
    let save = transaction
        .prepare_cached(
            "INSERT INTO spool_checkpoints (instance_id, segment, byte_offset) VALUES ($1, $2, $3)
             ON CONFLICT (instance_id) DO UPDATE SET segment = excluded.segment,
                byte_offset = excluded.byte_offset, updated_at = now()",
        )
        .await?;
    let begun = row_arrays(columns::ingested(), begins.iter().map(|b| &b.row));
    let beside = BeginsBeside::from(begins);
    let begun: Vec<&(dyn ToSql + Sync)> = begun
        .iter()
        .map(Array::as_sql)
        .chain(beside.as_sql())
        .collect();
    let ended: Vec<LogRow> = ends.iter().map(|e| LogRow::ended(&e.record)).collect();
    let ended = row_arrays(ended_columns(), ended.iter());
    let end_bodies = EndBodies::from(ends);
    let ended: Vec<&(dyn ToSql + Sync)> = ended
        .iter()
        .map(Array::as_sql)
        .chain(end_bodies.as_sql())
        .collect();
    let trims: Vec<(&GatewayKey, i64)> = capped
        .iter()
        .filter_map(|(key, cap)| match cap {
            RowCap::DeleteOldest(limit) => Some((key, saturating_i64(*limit))),
            RowCap::StopInserting(_) => None,
        })
        .collect();
    let segment = saturating_i64(checkpoint.segment);
    let offset = saturating_i64(checkpoint.offset);
    let insert_rows = async {
        if begins.is_empty() {
            return Ok(0);
        }
        transaction.execute(&insert, &begun).await
    };
    let complete_rows = async {
        if ends.is_empty() {
            return Ok(0);
        }
        transaction.execute(&complete, &ended).await
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
/// transition table). Parameters: every column a record sets ([`columns::ingested`]), then
/// [`BeginsBeside`]'s.
static INSERT_BEGINS: LazyLock<String> = LazyLock::new(|| {
    let (arrays, names) = unnest(
        1,
        columns::ingested()
            .map(|c| (c.name, c.ty.pg_type()))
            .chain(BEGINS_BESIDE),
    );
    let written = names[..names.len() - BODY_ARRAYS].join(", ");
    format!(
        "WITH v AS (SELECT * FROM {arrays} AS v({})),
    written AS (
        INSERT INTO logs ({written}) SELECT {written} FROM v
        ON CONFLICT (id) DO UPDATE SET {}
        WHERE excluded.completed
        RETURNING id
    )
    INSERT INTO log_bodies (log_id, request, request_headers, response, response_headers)
    SELECT v.id, v.body, v.headers, v.response, v.response_headers FROM v JOIN written ON written.id = v.id
    WHERE v.body IS NOT NULL
    ON CONFLICT (log_id) DO UPDATE SET response = excluded.response,
        response_headers = excluded.response_headers
    WHERE excluded.response_headers IS NOT NULL",
        names.join(", "),
        end_assignments(|_, name| format!("excluded.{name}")),
    )
});

/// Completes rows and, for rows that were completed and keep their payload, stores the response
/// body. An end without a row (not logged, or refused by a cap) changes nothing. Parameters:
/// the id and the end's columns ([`ended_columns`]), then [`EndBodies`]'.
static COMPLETE_ENDS: LazyLock<String> = LazyLock::new(|| {
    let (arrays, names) = unnest(
        1,
        ended_columns()
            .map(|c| (c.name, c.ty.pg_type()))
            .chain(END_BODIES),
    );
    format!(
        "WITH v AS (SELECT * FROM {arrays} AS v({})),
    completed AS (
        UPDATE logs AS l SET {} FROM v WHERE l.id = v.id
        RETURNING l.id
    )
    UPDATE log_bodies AS b SET response = v.body, response_headers = v.headers
    FROM v JOIN completed ON completed.id = v.id
    WHERE b.log_id = v.id AND v.body IS NOT NULL",
        names.join(", "),
        end_assignments(|_, name| format!("v.{name}")),
    )
});

/// What an update of ended rows reads: the id, then the columns the end record sets.
fn ended_columns() -> impl Iterator<Item = &'static LogColumn> + Clone {
    let id = columns::find("id").into_iter();
    id.chain(columns::set_by_end())
}

/// `columns` of `rows`, one array each.
fn row_arrays<'a>(
    columns: impl Iterator<Item = &'static LogColumn>,
    rows: impl Iterator<Item = &'a LogRow> + Clone,
) -> Vec<Array> {
    columns.map(|c| Array::of(c, rows.clone())).collect()
}

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

/// What an inserted row has beside its [`LogRow`], as [`INSERT_BEGINS`] names it after the
/// row's columns: the filters' `jsonb` copy of the metadata and the writer, then the bodies
/// ([`BODY_ARRAYS`] of them) that go to `log_bodies`.
const BEGINS_BESIDE: [(&str, &str); 6] = [
    ("metadata_json", "jsonb"),
    (WRITER_COLUMN, "text"),
    ("body", "bytea"),
    ("headers", "text"),
    ("response", "bytea"),
    ("response_headers", "text"),
];
const BODY_ARRAYS: usize = 4;

/// The begins' [`BEGINS_BESIDE`] values, one array each, text made storable ([`pg_text`]).
struct BeginsBeside<'a> {
    metadata_json: Vec<Option<&'a Value>>,
    instance_id: Vec<Cow<'a, str>>,
    body: Vec<Option<&'a [u8]>>,
    headers: Vec<Option<&'a str>>,
    response: Vec<Option<&'a [u8]>>,
    response_headers: Vec<Option<&'a str>>,
}

impl<'a> From<&'a [Begin]> for BeginsBeside<'a> {
    fn from(begins: &'a [Begin]) -> Self {
        BeginsBeside {
            metadata_json: begins.iter().map(|b| b.metadata_json.as_ref()).collect(),
            instance_id: begins.iter().map(|b| pg_text(&b.instance_id)).collect(),
            body: begins.iter().map(|b| b.body.as_deref()).collect(),
            headers: begins.iter().map(|b| b.headers.as_deref()).collect(),
            response: begins
                .iter()
                .map(|b| b.end.as_ref().and_then(|e| e.body.as_deref()))
                .collect(),
            response_headers: begins
                .iter()
                .map(|b| b.end.as_ref().and_then(|e| e.headers.as_deref()))
                .collect(),
        }
    }
}

impl BeginsBeside<'_> {
    fn as_sql(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.metadata_json,
            &self.instance_id,
            &self.body,
            &self.headers,
            &self.response,
            &self.response_headers,
        ]
    }
}

/// What an ended row has beside its columns, as [`COMPLETE_ENDS`] names it: the response body.
const END_BODIES: [(&str, &str); 2] = [("body", "bytea"), ("headers", "text")];

/// The ends' [`END_BODIES`] values, one array each.
struct EndBodies<'a> {
    body: Vec<Option<&'a [u8]>>,
    headers: Vec<Option<&'a str>>,
}

impl<'a> From<&'a [End]> for EndBodies<'a> {
    fn from(ends: &'a [End]) -> Self {
        EndBodies {
            body: ends.iter().map(|e| e.body.as_deref()).collect(),
            headers: ends.iter().map(|e| e.headers.as_deref()).collect(),
        }
    }
}

impl EndBodies<'_> {
    fn as_sql(&self) -> [&(dyn ToSql + Sync); 2] {
        [&self.body, &self.headers]
    }
}
