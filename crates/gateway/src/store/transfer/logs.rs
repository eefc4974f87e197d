//! Copying request logs: every column of every row (feedback, score, metadata, cost, status,
//! the writer's instance id, …) and the stored bodies and headers, still compressed. A batch
//! inserts its rows, then their bodies, in one transaction.

use std::borrow::Cow;

use tokio_postgres::types::ToSql;

use super::registry::{advance, empty};
use super::source::LogCopy;
use super::{Run, TableSummary, TransferError, within};
use crate::store::logs::columns::LOG_COLUMNS;
use crate::store::postgres::log_arrays::{Array, unnest};
use crate::store::postgres::pg_text;
use crate::store::sql::ingest::WRITER_COLUMN;
use crate::store::sql::metadata_object;

pub(super) async fn copy_logs(
    run: &mut Run<'_>,
    total: u64,
) -> Result<[TableSummary; 2], TransferError> {
    let mut logs = empty("logs", total);
    let mut bodies = empty("log_bodies", 0);
    let mut after = String::new();
    let insert = insert_logs();
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
        let rows = log_arrays(&batch);
        let rows: Vec<&(dyn ToSql + Sync)> = rows.iter().map(Array::as_sql).collect();
        let stored = BodyColumns::from(batch.as_slice());
        let client = &mut run.client;
        let (copied, bodies_copied) = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction.execute(&insert, &rows).await?;
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

/// Every column of the table, the filters' `jsonb` copy of the metadata and the writer's
/// instance id, one array parameter each; a row already there is left alone.
fn insert_logs() -> String {
    let columns = LOG_COLUMNS
        .iter()
        .map(|c| (c.name, c.ty.pg_type()))
        .chain([("metadata_json", "jsonb"), (WRITER_COLUMN, "text")]);
    let (arrays, names) = unnest(1, columns);
    format!(
        "INSERT INTO logs ({}) SELECT * FROM {arrays} ON CONFLICT (id) DO NOTHING",
        names.join(", "),
    )
}

/// Bodies of rows already in the target are left alone: the row and its body always arrive
/// in the same transaction, so a row that is there has its body.
const INSERT_BODIES: &str = "INSERT INTO log_bodies (log_id, request, request_headers, response,
        response_headers)
    SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[], $4::bytea[], $5::text[])
    ON CONFLICT (log_id) DO NOTHING";

type Text<'a> = Vec<Cow<'a, str>>;
type OptText<'a> = Vec<Option<Cow<'a, str>>>;

/// A batch's rows as one array per parameter of [`insert_logs`].
fn log_arrays(batch: &[LogCopy]) -> Vec<Array> {
    let mut arrays: Vec<Array> = LOG_COLUMNS
        .iter()
        .map(|c| Array::of(c, batch.iter().map(|copy| &copy.row)))
        .collect();
    arrays.push(Array::Json(
        batch
            .iter()
            .map(|copy| metadata_object(copy.row.metadata.as_deref()))
            .collect(),
    ));
    arrays.push(Array::Text(
        batch
            .iter()
            .map(|copy| Some(pg_text(&copy.instance_id).into_owned()))
            .collect(),
    ));
    arrays
}

fn opt_text(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(pg_text)
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
