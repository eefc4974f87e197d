//! The PostgreSQL store: the conformance suite (logs and registry) on a database of its own per
//! test, and what only PostgreSQL has (its query plans, a run at scale).

use async_trait::async_trait;

use super::{ACCOUNT, GATEWAY, TestDb};
use crate::logs::SpoolPosition;
use crate::store::Store;
use crate::store::conformance::logs::{query, time_queries};
use crate::store::conformance::{Backend, fixture, seeded};
use crate::store::logs::{LogQuery, LogStore};
use crate::store::postgres::PostgresStore;
use crate::store::postgres::logs_query::values;
use crate::store::sql::Dialect;
use crate::store::sql::logs::{order_clause, where_clause};

/// A store on a database of its own. Field order is drop order: the store closes before the
/// database is dropped.
pub(crate) struct PgBackend {
    store: PostgresStore,
    db: TestDb,
}

#[async_trait]
impl Backend for PgBackend {
    async fn open() -> anyhow::Result<Self> {
        let db = TestDb::new().await?;
        let store = db.store().await?;
        Ok(PgBackend { store, db })
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(&self) -> anyhow::Result<Box<dyn Store>> {
        Ok(Box::new(self.db.store().await?))
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        self.db.count(sql).await
    }

    async fn bytes(&self, sql: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let row = self.db.client().await?.query_opt(sql, &[]).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_body_column(
        &self,
        log_id: &str,
        column: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let sql = format!("UPDATE log_bodies SET {column} = $1 WHERE log_id = $2");
        self.db
            .client()
            .await?
            .execute(&sql, &[&bytes, &log_id])
            .await?;
        Ok(())
    }
}

mod suite {
    crate::store::conformance::suite!(super::PgBackend);
}

#[tokio::test]
async fn the_default_listing_and_trimming_walk_the_gateway_index() -> anyhow::Result<()> {
    let backend = seeded::<PgBackend>(&fixture()).await?;
    let client = backend.db.client().await?;
    // With a handful of rows a scan is cheaper; what matters is that the index can serve the
    // order without a sort (session setting only).
    client.batch_execute("SET enable_seqscan = off").await?;
    for ascending in [false, true] {
        let q = LogQuery {
            ascending,
            ..query(vec![])
        };
        let clause = where_clause(Dialect::Postgres, ACCOUNT, GATEWAY, &q, true)
            .map_err(anyhow::Error::msg)?;
        let order = order_clause(Dialect::Postgres, &q).map_err(anyhow::Error::msg)?;
        let sql = format!(
            "EXPLAIN SELECT id FROM logs WHERE {} {order} LIMIT 20",
            clause.sql
        );
        let plan = plan(&client, &sql, &values(&clause.params)).await?;
        assert!(plan.contains("logs_by_gateway"), "{plan}");
        assert!(
            !plan.contains("Sort"),
            "sorts instead of walking the index: {plan}"
        );
    }
    let trim = format!(
        "EXPLAIN {}",
        crate::store::postgres::logs_ingest::write::DELETE_OLDEST
    );
    let plan = plan(&client, &trim, &[&"local", &"gw", &1_i64]).await?;
    // Completed and in-flight rows each come off the index oldest first; only those few (at
    // most twice the excess) are sorted together.
    assert_eq!(
        plan.matches("Scan Backward using logs_by_gateway").count(),
        2,
        "{plan}"
    );
    Ok(())
}

async fn plan(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<String> {
    let rows = client.query(sql, params).await?;
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()?;
    Ok(lines.join("\n"))
}

/// Timing at scale, run by hand: `cargo test -p tollgate-gateway --release --lib -- --ignored
/// postgres_at_scale --nocapture`.
#[tokio::test]
#[ignore = "slow: ingests 200,000 requests"]
async fn postgres_at_scale() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let started = crate::clock::monotonic_now();
    for batch in 0..400_u64 {
        let mut records = Vec::new();
        let mut ends = Vec::new();
        for i in 0..500_u64 {
            let n = i64::try_from(batch * 500 + i).unwrap();
            let mut b = super::begin(&format!("{n:012}"), "bench", n);
            b.provider =
                ["openai", "anthropic", "workers-ai"][usize::try_from(n % 3).unwrap()].into();
            b.metadata = Some(format!("{{\"user\":\"u{}\"}}", n % 100));
            let e = super::end(&b, n % 997);
            records.push(super::begin_record(&b));
            records.push(super::end_record(&e));
            ends.push(e);
        }
        let deltas = crate::analytics::rollup_deltas(&ends);
        let position = SpoolPosition {
            segment: 1,
            offset: batch + 1,
        };
        store
            .ingest("bench", records, deltas, position, Vec::new())
            .await?;
    }
    println!("ingest: 200,000 requests in {:?}", started.elapsed());
    time_queries(&store, 190_000, Vec::new()).await
}
