//! A gateway's policies in PostgreSQL (docs/budgets.md, "Policies"), with SQLite's semantics.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::store::{PolicyStore, StoreResult, StoredPolicy, changed_one};

const COLUMNS: &str = "id, account_id, gateway_id, committed, draft, created_at, updated_at";

fn policy_from_row(row: &Row) -> StoreResult<StoredPolicy> {
    let time = |column: &str| -> StoreResult<jiff::Timestamp> {
        let text: String = row.try_get(column)?;
        text.parse().map_err(corrupt)
    };
    Ok(StoredPolicy {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        gateway_id: row.try_get("gateway_id")?,
        committed: row.try_get("committed")?,
        draft: row.try_get("draft")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    })
}

#[async_trait]
impl PolicyStore for PostgresStore {
    async fn list_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
    ) -> StoreResult<Vec<StoredPolicy>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM policies WHERE account_id = $1 AND gateway_id = $2"
                    ),
                    &[&account_id, &gateway_id],
                )
                .await?;
            let mut policies = rows
                .iter()
                .map(policy_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            // By real time (RFC 3339 text does not sort by time), as SQLite's.
            policies.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(policies)
        })
        .await
    }

    async fn put_policy(&self, policy: &StoredPolicy) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            // `INSERT … SELECT` from the gateway: no row means no gateway (not a conflict); an
            // id of another gateway's policy is not overwritten.
            let written = self
                .client()
                .await?
                .execute(
                    &format!(
                        "INSERT INTO policies ({COLUMNS})
                         SELECT $1, $2, $3, $4, $5, $6, $7
                         FROM gateways WHERE account_id = $2 AND id = $3
                         ON CONFLICT (id) DO UPDATE SET committed = excluded.committed,
                             draft = excluded.draft, updated_at = excluded.updated_at
                         WHERE policies.account_id = excluded.account_id
                           AND policies.gateway_id = excluded.gateway_id"
                    ),
                    &[
                        &policy.id,
                        &policy.account_id,
                        &policy.gateway_id,
                        &policy.committed,
                        &policy.draft,
                        &policy.created_at.to_string(),
                        &policy.updated_at.to_string(),
                    ],
                )
                .await?;
            changed_one(written)
        })
        .await
    }

    async fn delete_policy(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let deleted = self
                .client()
                .await?
                .execute(
                    "DELETE FROM policies WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[&account_id, &gateway_id, &id],
                )
                .await?;
            changed_one(deleted)
        })
        .await
    }

    async fn commit_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<u64> {
        bounded(OP_TIMEOUT, async {
            Ok(self
                .client()
                .await?
                .execute(
                    "UPDATE policies SET committed = draft, draft = NULL, updated_at = $3
                     WHERE account_id = $1 AND gateway_id = $2 AND draft IS NOT NULL",
                    &[&account_id, &gateway_id, &at.to_string()],
                )
                .await?)
        })
        .await
    }
}
