//! Copying the small tables that are not keyed by id alone (by_id.rs has those): the gateway's
//! own settings (the admin token's hash), gateways of every account, run tokens, whose SHA-256
//! hashes are copied as they are, and datasets and evaluations.

use std::borrow::Cow;

use serde_json::Value;

use super::{Run, TableSummary, TransferError, within};
use crate::store::postgres::{pg_json, pg_text};

pub(super) async fn copy_settings(
    run: &mut Run<'_>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty("settings", total);
    let mut after = String::new();
    loop {
        let rows = run
            .source
            .settings(after.clone(), run.options.batch_rows)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.key.clone();
        let keys: Vec<Cow<'_, str>> = rows.iter().map(|r| pg_text(&r.key)).collect();
        let values: Vec<Cow<'_, str>> = rows.iter().map(|r| pg_text(&r.value)).collect();
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction
                .execute(
                    "INSERT INTO settings (key, value)
                     SELECT * FROM UNNEST($1::text[], $2::text[])
                     ON CONFLICT (key) DO NOTHING",
                    &[&keys, &values],
                )
                .await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}

pub(super) async fn copy_gateways(
    run: &mut Run<'_>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty("gateways", total);
    let mut after = (String::new(), String::new());
    loop {
        let rows = run
            .source
            .gateways(after.clone(), run.options.batch_rows)
            .await?;
        let Some(last) = rows.last() else { break };
        after = (last.account_id.clone(), last.id.clone());
        let mut settings = Vec::with_capacity(rows.len());
        for row in &rows {
            let value: Value = serde_json::from_str(&row.settings).map_err(|e| {
                TransferError::Source(format!(
                    "gateway {}/{}: settings are not JSON: {e}",
                    row.account_id, row.id
                ))
            })?;
            settings.push(pg_json(value));
        }
        let text = |f: fn(&super::source::GatewayRow) -> &str| -> Vec<Cow<'_, str>> {
            rows.iter().map(|r| pg_text(f(r))).collect()
        };
        let (accounts, ids) = (text(|r| &r.account_id), text(|r| &r.id));
        let (created, modified) = (text(|r| &r.created_at), text(|r| &r.modified_at));
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction
                .execute(
                    "INSERT INTO gateways (account_id, id, settings, created_at, modified_at)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[])
                     ON CONFLICT (account_id, id) DO NOTHING",
                    &[&accounts, &ids, &settings, &created, &modified],
                )
                .await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}

pub(super) async fn copy_tokens(
    run: &mut Run<'_>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty("tokens", total);
    let mut after = String::new();
    loop {
        let rows = run
            .source
            .tokens(after.clone(), run.options.batch_rows)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let text = |f: fn(&super::source::TokenRow) -> &str| -> Vec<Cow<'_, str>> {
            rows.iter().map(|r| pg_text(f(r))).collect()
        };
        let (ids, accounts) = (text(|r| &r.id), text(|r| &r.account_id));
        let (names, created) = (text(|r| &r.name), text(|r| &r.created_at));
        let hashes: Vec<&[u8]> = rows.iter().map(|r| r.token_sha256.as_slice()).collect();
        let scopes: Vec<Option<Cow<'_, str>>> = rows
            .iter()
            .map(|r| r.scope.as_deref().map(pg_text))
            .collect();
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction
                .execute(
                    "INSERT INTO tokens (id, account_id, name, token_sha256, created_at, scope)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[],
                                          $6::text[])
                     ON CONFLICT (id) DO NOTHING",
                    &[&ids, &accounts, &names, &hashes, &created, &scopes],
                )
                .await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}

pub(super) async fn copy_documents(
    run: &mut Run<'_>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty("documents", total);
    let mut after: [String; 4] = Default::default();
    loop {
        let rows = run
            .source
            .documents(after.clone(), run.options.batch_rows)
            .await?;
        let Some(last) = rows.last() else { break };
        after = [
            last.account_id.clone(),
            last.gateway_id.clone(),
            last.kind.clone(),
            last.id.clone(),
        ];
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let mut copied = 0;
            for row in &rows {
                copied += transaction
                    .execute(
                        "INSERT INTO documents
                             (account_id, gateway_id, kind, id, body, created_at, modified_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT DO NOTHING",
                        &[
                            &pg_text(&row.account_id),
                            &pg_text(&row.gateway_id),
                            &pg_text(&row.kind),
                            &pg_text(&row.id),
                            &pg_text(&row.body),
                            &row.created_at,
                            &row.modified_at,
                        ],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}

pub(super) fn empty(table: &'static str, total: u64) -> TableSummary {
    TableSummary {
        table,
        source_rows: total,
        copied: 0,
        skipped: 0,
    }
}

/// Counts a committed batch of `rows` source rows, `copied` of them new to the target.
pub(super) fn advance(run: &mut Run<'_>, summary: &mut TableSummary, rows: usize, copied: u64) {
    let rows = rows as u64;
    summary.copied += copied;
    summary.skipped += rows.saturating_sub(copied);
    run.report(
        summary.table,
        summary.copied + summary.skipped,
        summary.source_rows,
    );
}
