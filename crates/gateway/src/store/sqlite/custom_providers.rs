//! Custom providers created through the management API, in SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::{CustomProviderStore, StoreResult, StoredCustomProvider, changed_one};

pub(in crate::store) const COLUMNS: &str = "id, account_id, slug, name, base_url, description, \
     link, curl_example, js_example, enable, beta, position, created_at, modified_at";

pub(in crate::store) fn custom_provider_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredCustomProvider> {
    let created: String = row.get(12)?;
    let modified: String = row.get(13)?;
    Ok(StoredCustomProvider {
        id: row.get(0)?,
        account_id: row.get(1)?,
        slug: row.get(2)?,
        name: row.get(3)?,
        base_url: row.get(4)?,
        description: row.get(5)?,
        link: row.get(6)?,
        curl_example: row.get(7)?,
        js_example: row.get(8)?,
        enable: row.get(9)?,
        beta: row.get(10)?,
        position: row.get(11)?,
        created_at: created.parse().map_err(to_text(12))?,
        modified_at: modified.parse().map_err(to_text(13))?,
    })
}

#[async_trait]
impl CustomProviderStore for SqliteStore {
    async fn list_custom_providers(&self) -> StoreResult<Vec<StoredCustomProvider>> {
        let mut providers = self
            .with_read(|c| {
                let mut statement =
                    c.prepare_cached(&format!("SELECT {COLUMNS} FROM custom_providers"))?;
                statement
                    .query_map([], custom_provider_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        // By real time (RFC 3339 text does not sort by time), as PostgreSQL's.
        providers.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(providers)
    }

    async fn insert_custom_provider(&self, provider: &StoredCustomProvider) -> StoreResult<()> {
        let p = provider.clone();
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO custom_providers ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    p.id,
                    p.account_id,
                    p.slug,
                    p.name,
                    p.base_url,
                    p.description,
                    p.link,
                    p.curl_example,
                    p.js_example,
                    p.enable,
                    p.beta,
                    p.position,
                    p.created_at.to_string(),
                    p.modified_at.to_string(),
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_custom_provider(&self, provider: &StoredCustomProvider) -> StoreResult<()> {
        let p = provider.clone();
        let updated = self
            .with(move |c| {
                c.execute(
                    "UPDATE custom_providers SET slug = ?3, name = ?4, base_url = ?5,
                         description = ?6, link = ?7, curl_example = ?8, js_example = ?9,
                         enable = ?10, beta = ?11, position = ?12, modified_at = ?13
                     WHERE account_id = ?1 AND id = ?2",
                    params![
                        p.account_id,
                        p.id,
                        p.slug,
                        p.name,
                        p.base_url,
                        p.description,
                        p.link,
                        p.curl_example,
                        p.js_example,
                        p.enable,
                        p.beta,
                        p.position,
                        p.modified_at.to_string(),
                    ],
                )
            })
            .await?;
        changed_one(updated)
    }

    async fn delete_custom_provider(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        let deleted = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM custom_providers WHERE account_id = ?1 AND id = ?2",
                    params![account_id, id],
                )
            })
            .await?;
        changed_one(deleted)
    }
}
