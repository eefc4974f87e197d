//! Copying dynamic routes (docs/routing.md): routes, their versions and their deployments, in
//! keyset batches, in the order they were written (so the last deployment copied is the live
//! one on the target too). Texts are copied as they are stored.

use std::borrow::Cow;

use rusqlite::params;

use super::registry::{advance, empty};
use super::{Run, TableSummary, TransferError, within};
use crate::convert::saturating_i64_from_usize;
use crate::store::postgres::pg_text;

struct RouteRow {
    id: String,
    account_id: String,
    gateway_id: String,
    name: String,
    created_at: String,
    modified_at: String,
}

/// A version or a deployment: its key in the source's order, and its columns.
struct ChildRow {
    order: i64,
    id: String,
    route_id: String,
    /// A version's elements, a deployment's version id.
    payload: String,
    comment: Option<String>,
    created_at: String,
}

pub(super) async fn copy_routes(
    run: &mut Run<'_>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty("routes", total);
    let mut after = String::new();
    loop {
        let limit = saturating_i64_from_usize(run.options.batch_rows);
        let from = after.clone();
        let rows = run
            .source
            .read(move |c| {
                let mut statement = c.prepare_cached(
                    "SELECT id, account_id, gateway_id, name, created_at, modified_at
                     FROM routes WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                statement
                    .query_map(params![from, limit], |r| {
                        Ok(RouteRow {
                            id: r.get(0)?,
                            account_id: r.get(1)?,
                            gateway_id: r.get(2)?,
                            name: r.get(3)?,
                            created_at: r.get(4)?,
                            modified_at: r.get(5)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let text = |f: fn(&RouteRow) -> &str| -> Vec<Cow<'_, str>> {
            rows.iter().map(|r| pg_text(f(r))).collect()
        };
        let (ids, accounts, gateways) = (
            text(|r| &r.id),
            text(|r| &r.account_id),
            text(|r| &r.gateway_id),
        );
        let (names, created, modified) = (
            text(|r| &r.name),
            text(|r| &r.created_at),
            text(|r| &r.modified_at),
        );
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction
                .execute(
                    "INSERT INTO routes (id, account_id, gateway_id, name, created_at, modified_at)
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
                                          $5::text[], $6::text[])
                     ON CONFLICT (id) DO NOTHING",
                    &[&ids, &accounts, &gateways, &names, &created, &modified],
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

/// Versions (`versions`: true) by rowid, or deployments by `seq`.
pub(super) async fn copy_route_children(
    run: &mut Run<'_>,
    versions: bool,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let table = if versions {
        "route_versions"
    } else {
        "route_deployments"
    };
    let mut summary = empty(table, total);
    let mut after: i64 = 0;
    loop {
        let limit = saturating_i64_from_usize(run.options.batch_rows);
        let sql = if versions {
            "SELECT rowid, id, route_id, elements, comment, created_at FROM route_versions
             WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
        } else {
            "SELECT seq, id, route_id, version_id, comment, created_at FROM route_deployments
             WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        };
        let rows = run
            .source
            .read(move |c| {
                let mut statement = c.prepare_cached(sql)?;
                statement
                    .query_map(params![after, limit], |r| {
                        Ok(ChildRow {
                            order: r.get(0)?,
                            id: r.get(1)?,
                            route_id: r.get(2)?,
                            payload: r.get(3)?,
                            comment: r.get(4)?,
                            created_at: r.get(5)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.order;
        let text = |f: fn(&ChildRow) -> &str| -> Vec<Cow<'_, str>> {
            rows.iter().map(|r| pg_text(f(r))).collect()
        };
        let (ids, routes, payloads) =
            (text(|r| &r.id), text(|r| &r.route_id), text(|r| &r.payload));
        let created = text(|r| &r.created_at);
        let comments: Vec<Option<Cow<'_, str>>> = rows
            .iter()
            .map(|r| r.comment.as_deref().map(pg_text))
            .collect();
        // WITH ORDINALITY keeps the batch's order, so the target numbers rows (`seq`) as the
        // source did.
        let sql = if versions {
            "INSERT INTO route_versions (id, route_id, elements, comment, created_at)
             SELECT id, route_id, payload, comment, created_at
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS t(id, route_id, payload, comment, created_at, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING"
        } else {
            "INSERT INTO route_deployments (id, route_id, version_id, comment, created_at)
             SELECT id, route_id, payload, comment, created_at
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS t(id, route_id, payload, comment, created_at, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING"
        };
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let copied = transaction
                .execute(sql, &[&ids, &routes, &payloads, &comments, &created])
                .await?;
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}
