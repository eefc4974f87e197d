//! Custom providers created through the management API, in PostgreSQL, with SQLite's semantics.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::store::{CustomProviderStore, StoreResult, StoredCustomProvider, changed_one};

const COLUMNS: &str = "id, account_id, slug, name, base_url, description, link, curl_example, \
     js_example, enable, beta, position, created_at, modified_at";

fn custom_provider_from_row(row: &Row) -> StoreResult<StoredCustomProvider> {
    let time = |column: &str| -> StoreResult<jiff::Timestamp> {
        row.try_get::<_, String>(column)?.parse().map_err(corrupt)
    };
    Ok(StoredCustomProvider {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        base_url: row.try_get("base_url")?,
        description: row.try_get("description")?,
        link: row.try_get("link")?,
        curl_example: row.try_get("curl_example")?,
        js_example: row.try_get("js_example")?,
        enable: row.try_get("enable")?,
        beta: row.try_get("beta")?,
        position: row.try_get("position")?,
        created_at: time("created_at")?,
        modified_at: time("modified_at")?,
    })
}

#[async_trait]
impl CustomProviderStore for PostgresStore {
    async fn list_custom_providers(&self) -> StoreResult<Vec<StoredCustomProvider>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(&format!("SELECT {COLUMNS} FROM custom_providers"), &[])
                .await?;
            let mut providers = rows
                .iter()
                .map(custom_provider_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            // By real time (RFC 3339 text does not sort by time), as SQLite's.
            providers.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(providers)
        })
        .await
    }

    async fn insert_custom_provider(&self, p: &StoredCustomProvider) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            self.client()
                .await?
                .execute(
                    &format!(
                        "INSERT INTO custom_providers ({COLUMNS})
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ),
                    &[
                        &p.id,
                        &p.account_id,
                        &p.slug,
                        &p.name,
                        &p.base_url,
                        &p.description,
                        &p.link,
                        &p.curl_example,
                        &p.js_example,
                        &p.enable,
                        &p.beta,
                        &p.position,
                        &p.created_at.to_string(),
                        &p.modified_at.to_string(),
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn update_custom_provider(&self, p: &StoredCustomProvider) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let updated = self
                .client()
                .await?
                .execute(
                    "UPDATE custom_providers SET slug = $3, name = $4, base_url = $5,
                         description = $6, link = $7, curl_example = $8, js_example = $9,
                         enable = $10, beta = $11, position = $12, modified_at = $13
                     WHERE account_id = $1 AND id = $2",
                    &[
                        &p.account_id,
                        &p.id,
                        &p.slug,
                        &p.name,
                        &p.base_url,
                        &p.description,
                        &p.link,
                        &p.curl_example,
                        &p.js_example,
                        &p.enable,
                        &p.beta,
                        &p.position,
                        &p.modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(updated)
        })
        .await
    }

    async fn delete_custom_provider(&self, account_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let deleted = self
                .client()
                .await?
                .execute(
                    "DELETE FROM custom_providers WHERE account_id = $1 AND id = $2",
                    &[&account_id, &id],
                )
                .await?;
            changed_one(deleted)
        })
        .await
    }
}
