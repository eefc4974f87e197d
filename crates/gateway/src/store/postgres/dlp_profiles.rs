//! Custom DLP profiles in PostgreSQL (docs/dlp.md, "Custom profiles"), with SQLite's semantics.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt, pg_text};
use crate::store::{DlpProfileStore, StoreResult, StoredDlpProfile, changed_one};

const COLUMNS: &str = "id, account_id, name, body, version, created_at, updated_at";

fn profile_from_row(row: &Row) -> StoreResult<StoredDlpProfile> {
    let time = |column: &str| -> StoreResult<jiff::Timestamp> {
        let text: String = row.try_get(column)?;
        text.parse().map_err(corrupt)
    };
    Ok(StoredDlpProfile {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        body: row.try_get("body")?,
        version: row.try_get("version")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    })
}

#[async_trait]
impl DlpProfileStore for PostgresStore {
    async fn list_dlp_profiles(&self, account_id: &str) -> StoreResult<Vec<StoredDlpProfile>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!("SELECT {COLUMNS} FROM dlp_profiles WHERE account_id = $1"),
                    &[&account_id],
                )
                .await?;
            let mut profiles = rows
                .iter()
                .map(profile_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            // By real time (RFC 3339 text does not sort by time), as SQLite's.
            profiles.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(profiles)
        })
        .await
    }

    async fn insert_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            self.client()
                .await?
                .execute(
                    &format!(
                        "INSERT INTO dlp_profiles ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    ),
                    &[
                        &pg_text(&profile.id),
                        &pg_text(&profile.account_id),
                        &pg_text(&profile.name),
                        &pg_text(&profile.body),
                        &profile.version,
                        &profile.created_at.to_string(),
                        &profile.updated_at.to_string(),
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn update_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let updated = self
                .client()
                .await?
                .execute(
                    "UPDATE dlp_profiles SET name = $3, body = $4, version = $5, updated_at = $6
                     WHERE account_id = $1 AND id = $2",
                    &[
                        &profile.account_id,
                        &profile.id,
                        &pg_text(&profile.name),
                        &pg_text(&profile.body),
                        &profile.version,
                        &profile.updated_at.to_string(),
                    ],
                )
                .await?;
            changed_one(updated)
        })
        .await
    }

    async fn delete_dlp_profile(&self, account_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let deleted = self
                .client()
                .await?
                .execute(
                    "DELETE FROM dlp_profiles WHERE account_id = $1 AND id = $2",
                    &[&account_id, &id],
                )
                .await?;
            changed_one(deleted)
        })
        .await
    }
}
