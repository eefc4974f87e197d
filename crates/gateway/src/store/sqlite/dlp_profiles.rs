//! Custom DLP profiles in SQLite (docs/dlp.md, "Custom profiles").

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::{DlpProfileStore, StoreResult, StoredDlpProfile, changed_one};

pub(in crate::store) const COLUMNS: &str =
    "id, account_id, name, body, version, created_at, updated_at";

pub(in crate::store) fn profile_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredDlpProfile> {
    let created: String = row.get(5)?;
    let updated: String = row.get(6)?;
    Ok(StoredDlpProfile {
        id: row.get(0)?,
        account_id: row.get(1)?,
        name: row.get(2)?,
        body: row.get(3)?,
        version: row.get(4)?,
        created_at: created.parse().map_err(to_text(5))?,
        updated_at: updated.parse().map_err(to_text(6))?,
    })
}

#[async_trait]
impl DlpProfileStore for SqliteStore {
    async fn list_dlp_profiles(&self, account_id: &str) -> StoreResult<Vec<StoredDlpProfile>> {
        let account_id = account_id.to_owned();
        let mut profiles = self
            .with_read(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dlp_profiles WHERE account_id = ?1"
                ))?;
                statement
                    .query_map(params![account_id], profile_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        // By real time (RFC 3339 text does not sort by time), as PostgreSQL's.
        profiles.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(profiles)
    }

    async fn insert_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()> {
        let profile = profile.clone();
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO dlp_profiles ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    profile.id,
                    profile.account_id,
                    profile.name,
                    profile.body,
                    profile.version,
                    profile.created_at.to_string(),
                    profile.updated_at.to_string(),
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn update_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()> {
        let profile = profile.clone();
        let updated = self
            .with(move |c| {
                c.execute(
                    "UPDATE dlp_profiles SET name = ?3, body = ?4, version = ?5, updated_at = ?6
                     WHERE account_id = ?1 AND id = ?2",
                    params![
                        profile.account_id,
                        profile.id,
                        profile.name,
                        profile.body,
                        profile.version,
                        profile.updated_at.to_string(),
                    ],
                )
            })
            .await?;
        changed_one(updated)
    }

    async fn delete_dlp_profile(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        let deleted = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM dlp_profiles WHERE account_id = ?1 AND id = ?2",
                    params![account_id, id],
                )
            })
            .await?;
        changed_one(deleted)
    }
}
