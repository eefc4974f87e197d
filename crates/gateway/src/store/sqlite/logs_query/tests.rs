//! The SQLite store: the conformance suite (logs and registry), and what only SQLite has (its
//! query plans, a run at scale).

use async_trait::async_trait;
use rusqlite::params;

use super::*;
use crate::store::Store;
use crate::store::conformance::logs::{query, time_queries};
use crate::store::conformance::{ACCOUNT, Backend, GATEWAY, fixture, seeded};
use crate::store::logs::LogQuery;
use crate::store::sql::Dialect;
use crate::store::sql::logs::{order_clause, where_clause};

/// A store in a database file of its own.
pub(crate) struct SqliteBackend {
    store: SqliteStore,
    dir: tempfile::TempDir,
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn open() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("t.db"))?;
        Ok(SqliteBackend { store, dir })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(&self) -> anyhow::Result<Box<dyn Store>> {
        Ok(Box::new(SqliteStore::open(&self.dir.path().join("t.db"))?))
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let sql = sql.to_owned();
        Ok(self
            .store
            .with(move |c| c.query_row(&sql, [], |r| r.get(0)))
            .await?)
    }

    async fn bytes(&self, sql: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let sql = sql.to_owned();
        Ok(self
            .store
            .with(move |c| c.query_row(&sql, [], |r| r.get(0)))
            .await?)
    }

    async fn set_body_column(
        &self,
        log_id: &str,
        column: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let sql = format!("UPDATE log_bodies SET {column} = ?1 WHERE log_id = ?2");
        let (log_id, bytes) = (log_id.to_owned(), bytes.to_vec());
        self.store
            .with(move |c| c.execute(&sql, params![bytes, log_id]))
            .await?;
        Ok(())
    }
}

mod suite {
    crate::store::conformance::suite!(super::SqliteBackend);
}

#[tokio::test]
async fn the_default_listing_walks_the_gateway_index() -> anyhow::Result<()> {
    let backend = seeded::<SqliteBackend>(&fixture()).await?;
    let store = &backend.store;
    let clause = where_clause(Dialect::Sqlite, ACCOUNT, GATEWAY, &query(vec![]), true)
        .map_err(anyhow::Error::msg)?;
    let order = order_clause(Dialect::Sqlite, &query(vec![])).map_err(anyhow::Error::msg)?;
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT id FROM logs WHERE {} {order} LIMIT 20",
        clause.sql
    );
    let plan: Vec<String> = store
        .with_read(move |c| {
            c.prepare(&sql)?
                .query_map(params_from_iter(clause.params.iter()), |r| {
                    r.get::<_, String>(3)
                })?
                .collect()
        })
        .await?;
    let plan = plan.join("\n");
    assert!(plan.contains("logs_by_gateway"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE"),
        "sorts instead of walking the index: {plan}"
    );
    Ok(())
}

/// Timing at scale, run by hand: `cargo test -p tollgate-gateway --release --lib -- --ignored
/// a_million_rows --nocapture`.
#[tokio::test]
#[ignore = "slow: builds a million-row database"]
async fn a_million_rows() -> anyhow::Result<()> {
    let backend = SqliteBackend::open().await?;
    let store = &backend.store;
    store
        .with(|c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO logs (id, account_id, gateway_id, created_at, provider, model, path,
                        method, status_code, success, duration, tokens_in, tokens_out, cost,
                        metadata, completed, instance_id)
                     VALUES (printf('%012d', ?1), 'local', 'gw', ?1, ?2, 'gpt-4o-mini',
                        'v1/chat/completions', 'POST', 200, 1, ?1 % 997, ?1 % 500, ?1 % 300,
                        (?1 % 1000) / 1e5, '{\"user\":\"u' || (?1 % 100) || '\"}', 1, 'bench')",
                )?;
                for i in 0..1_000_000_i64 {
                    let provider = ["openai", "anthropic", "workers-ai"][usize::try_from(i % 3).unwrap()];
                    insert.execute(params![i, provider])?;
                }
            }
            tx.commit()
        })
        .await?;
    let by_cost = LogQuery {
        order_by: Some("cost".into()),
        ..query(vec![])
    };
    time_queries(store, 990_000, vec![("order by cost", by_cost)]).await
}
