//! Dynamic routes in SQLite (docs/routing.md): routes, their versions and deployments.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{SqliteStore, to_text};
use crate::store::changed_one;
use crate::store::{
    DeployedRoute, RouteStore, StoreResult, StoredDeployment, StoredRoute, StoredRouteVersion,
};

fn timestamp(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<jiff::Timestamp> {
    let text: String = row.get(column)?;
    text.parse().map_err(to_text(column))
}

/// `id, account_id, gateway_id, name, created_at, modified_at` from `at` on.
fn route_from(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredRoute> {
    Ok(StoredRoute {
        id: row.get(at)?,
        account_id: row.get(at + 1)?,
        gateway_id: row.get(at + 2)?,
        name: row.get(at + 3)?,
        created_at: timestamp(row, at + 4)?,
        modified_at: timestamp(row, at + 5)?,
    })
}

/// `id, route_id, elements, comment, created_at` from `at` on.
fn version_from(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredRouteVersion> {
    Ok(StoredRouteVersion {
        id: row.get(at)?,
        route_id: row.get(at + 1)?,
        elements: row.get(at + 2)?,
        comment: row.get(at + 3)?,
        created_at: timestamp(row, at + 4)?,
    })
}

/// `id, route_id, version_id, comment, created_at` from `at` on.
fn deployment_from(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<StoredDeployment> {
    Ok(StoredDeployment {
        id: row.get(at)?,
        route_id: row.get(at + 1)?,
        version_id: row.get(at + 2)?,
        comment: row.get(at + 3)?,
        created_at: timestamp(row, at + 4)?,
    })
}

fn insert_version(c: &Connection, version: &StoredRouteVersion) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO route_versions (id, route_id, elements, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            version.id,
            version.route_id,
            version.elements,
            version.comment,
            version.created_at.to_string()
        ],
    )
    .map(drop)
}

fn insert_deployment(c: &Connection, deployment: &StoredDeployment) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO route_deployments (id, route_id, version_id, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            deployment.id,
            deployment.route_id,
            deployment.version_id,
            deployment.comment,
            deployment.created_at.to_string()
        ],
    )
    .map(drop)
}

fn exists(c: &Connection, sql: &str, values: impl rusqlite::Params) -> rusqlite::Result<bool> {
    c.query_row(sql, values, |row| row.get::<_, i64>(0))
        .map(|n| n > 0)
}

#[async_trait]
impl RouteStore for SqliteStore {
    async fn list_deployed_routes(&self) -> StoreResult<Vec<DeployedRoute>> {
        self.with_read(|c| {
            let mut statement = c.prepare(
                "SELECT r.id, r.account_id, r.gateway_id, r.name, r.created_at, r.modified_at,
                        d.id, d.route_id, d.version_id, d.comment, d.created_at,
                        v.id, v.route_id, v.elements, v.comment, v.created_at
                 FROM routes r
                 JOIN route_deployments d ON d.seq =
                     (SELECT max(seq) FROM route_deployments WHERE route_id = r.id)
                 JOIN route_versions v ON v.id = d.version_id
                 ORDER BY r.account_id, r.gateway_id, r.name",
            )?;
            statement
                .query_map([], |row| {
                    Ok(DeployedRoute {
                        route: route_from(row, 0)?,
                        deployment: deployment_from(row, 6)?,
                        version: version_from(row, 11)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_route(
        &self,
        route: &StoredRoute,
        version: &StoredRouteVersion,
        deployment: &StoredDeployment,
    ) -> StoreResult<()> {
        let (route, version, deployment) = (route.clone(), version.clone(), deployment.clone());
        self.with(move |c| {
            let transaction = c.transaction()?;
            super::require_gateway(&transaction, &route.account_id, &route.gateway_id)?;
            transaction.execute(
                "INSERT INTO routes (id, account_id, gateway_id, name, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    route.id,
                    route.account_id,
                    route.gateway_id,
                    route.name,
                    route.created_at.to_string(),
                    route.modified_at.to_string()
                ],
            )?;
            insert_version(&transaction, &version)?;
            insert_deployment(&transaction, &deployment)?;
            transaction.commit()
        })
        .await
    }

    async fn rename_route(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        name: &str,
        modified_at: jiff::Timestamp,
    ) -> StoreResult<()> {
        let (account_id, gateway_id, id, name) = (
            account_id.to_owned(),
            gateway_id.to_owned(),
            id.to_owned(),
            name.to_owned(),
        );
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE routes SET name = ?4, modified_at = ?5
                     WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![account_id, gateway_id, id, name, modified_at.to_string()],
                )
            })
            .await?;
        changed_one(changed)
    }

    async fn delete_route(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM routes WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![account_id, gateway_id, id],
                )
            })
            .await?;
        changed_one(changed)
    }

    async fn list_route_versions(&self, route_id: &str) -> StoreResult<Vec<StoredRouteVersion>> {
        let route_id = route_id.to_owned();
        self.with_read(move |c| {
            // rowid: the order they were written in (their text timestamps do not sort by time).
            let mut statement = c.prepare(
                "SELECT id, route_id, elements, comment, created_at FROM route_versions
                 WHERE route_id = ?1 ORDER BY rowid",
            )?;
            statement
                .query_map([route_id], |row| version_from(row, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_route_version(&self, version: &StoredRouteVersion) -> StoreResult<()> {
        let version = version.clone();
        self.with(move |c| {
            if !exists(
                c,
                "SELECT count(*) FROM routes WHERE id = ?1",
                [&version.route_id],
            )? {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            insert_version(c, &version)
        })
        .await
    }

    async fn insert_route_deployment(&self, deployment: &StoredDeployment) -> StoreResult<()> {
        let deployment = deployment.clone();
        self.with(move |c| {
            if !exists(
                c,
                "SELECT count(*) FROM route_versions WHERE id = ?1 AND route_id = ?2",
                params![deployment.version_id, deployment.route_id],
            )? {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            insert_deployment(c, &deployment)
        })
        .await
    }

    async fn list_route_deployments(&self, route_id: &str) -> StoreResult<Vec<StoredDeployment>> {
        let route_id = route_id.to_owned();
        self.with_read(move |c| {
            let mut statement = c.prepare(
                "SELECT id, route_id, version_id, comment, created_at FROM route_deployments
                 WHERE route_id = ?1 ORDER BY seq",
            )?;
            statement
                .query_map([route_id], |row| deployment_from(row, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }
}
