//! A gateway's policies in SQLite (docs/budgets.md, "Policies").

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::{PolicyStore, StoreResult, StoredPolicy, changed_one};

pub(in crate::store) const COLUMNS: &str =
    "id, account_id, gateway_id, committed, draft, created_at, updated_at";

pub(in crate::store) fn policy_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredPolicy> {
    let created: String = row.get(5)?;
    let updated: String = row.get(6)?;
    Ok(StoredPolicy {
        id: row.get(0)?,
        account_id: row.get(1)?,
        gateway_id: row.get(2)?,
        committed: row.get(3)?,
        draft: row.get(4)?,
        created_at: created.parse().map_err(to_text(5))?,
        updated_at: updated.parse().map_err(to_text(6))?,
    })
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn list_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
    ) -> StoreResult<Vec<StoredPolicy>> {
        let (account_id, gateway_id) = (account_id.to_owned(), gateway_id.to_owned());
        let mut policies = self
            .with_read(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM policies WHERE account_id = ?1 AND gateway_id = ?2"
                ))?;
                statement
                    .query_map(params![account_id, gateway_id], policy_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        // By real time (RFC 3339 text does not sort by time), as PostgreSQL's.
        policies.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(policies)
    }

    async fn put_policy(&self, policy: &StoredPolicy) -> StoreResult<()> {
        let policy = policy.clone();
        self.with(move |c| {
            super::require_gateway(c, &policy.account_id, &policy.gateway_id)?;
            let written = c.execute(
                &format!(
                    "INSERT INTO policies ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET committed = excluded.committed,
                         draft = excluded.draft, updated_at = excluded.updated_at
                     WHERE policies.account_id = excluded.account_id
                       AND policies.gateway_id = excluded.gateway_id"
                ),
                params![
                    policy.id,
                    policy.account_id,
                    policy.gateway_id,
                    policy.committed,
                    policy.draft,
                    policy.created_at.to_string(),
                    policy.updated_at.to_string(),
                ],
            )?;
            // An id of another gateway's policy is not this gateway's to overwrite.
            match written {
                0 => Err(rusqlite::Error::QueryReturnedNoRows),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn delete_policy(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        let deleted = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM policies WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![account_id, gateway_id, id],
                )
            })
            .await?;
        changed_one(deleted)
    }

    async fn commit_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<u64> {
        let (account_id, gateway_id) = (account_id.to_owned(), gateway_id.to_owned());
        let committed = self
            .with(move |c| {
                c.execute(
                    "UPDATE policies SET committed = draft, draft = NULL, updated_at = ?3
                     WHERE account_id = ?1 AND gateway_id = ?2 AND draft IS NOT NULL",
                    params![account_id, gateway_id, at.to_string()],
                )
            })
            .await?;
        Ok(u64::try_from(committed).unwrap_or(u64::MAX))
    }
}
