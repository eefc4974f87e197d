//! Dynamic routes in PostgreSQL (docs/routing.md). Creating, renaming or deleting a route and
//! deploying a version notify the other instances through the triggers of migration 0009.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt, pg_text};
use crate::store::changed_one;
use crate::store::{
    DeployedRoute, RouteStore, StoreResult, StoredDeployment, StoredRoute, StoredRouteVersion,
};

fn timestamp(row: &Row, column: &str) -> StoreResult<jiff::Timestamp> {
    row.try_get::<_, String>(column)?.parse().map_err(corrupt)
}

fn route_from(row: &Row) -> StoreResult<StoredRoute> {
    Ok(StoredRoute {
        id: row.try_get("r_id")?,
        account_id: row.try_get("r_account_id")?,
        gateway_id: row.try_get("r_gateway_id")?,
        name: row.try_get("r_name")?,
        created_at: timestamp(row, "r_created_at")?,
        modified_at: timestamp(row, "r_modified_at")?,
    })
}

fn version_from(row: &Row) -> StoreResult<StoredRouteVersion> {
    Ok(StoredRouteVersion {
        id: row.try_get("v_id")?,
        route_id: row.try_get("v_route_id")?,
        elements: row.try_get("v_elements")?,
        comment: row.try_get("v_comment")?,
        created_at: timestamp(row, "v_created_at")?,
    })
}

fn deployment_from(row: &Row) -> StoreResult<StoredDeployment> {
    Ok(StoredDeployment {
        id: row.try_get("d_id")?,
        route_id: row.try_get("d_route_id")?,
        version_id: row.try_get("d_version_id")?,
        comment: row.try_get("d_comment")?,
        created_at: timestamp(row, "d_created_at")?,
    })
}

const VERSION_COLUMNS: &str = "id AS v_id, route_id AS v_route_id, elements AS v_elements, \
     comment AS v_comment, created_at AS v_created_at";
const DEPLOYMENT_COLUMNS: &str = "id AS d_id, route_id AS d_route_id, version_id AS d_version_id, \
     comment AS d_comment, created_at AS d_created_at";

async fn insert_version(
    client: &tokio_postgres::Transaction<'_>,
    version: &StoredRouteVersion,
) -> StoreResult<u64> {
    // `INSERT … SELECT` from the route: no row means no route.
    Ok(client
        .execute(
            "INSERT INTO route_versions (id, route_id, elements, comment, created_at)
             SELECT $1, $2, $3, $4, $5 FROM routes WHERE id = $2",
            &[
                &version.id,
                &version.route_id,
                &pg_text(&version.elements),
                &version.comment.as_deref().map(pg_text),
                &version.created_at.to_string(),
            ],
        )
        .await?)
}

async fn insert_deployment(
    client: &tokio_postgres::Transaction<'_>,
    deployment: &StoredDeployment,
) -> StoreResult<u64> {
    // Only a version of the route itself can be deployed on it.
    Ok(client
        .execute(
            "INSERT INTO route_deployments (id, route_id, version_id, comment, created_at)
             SELECT $1, $2, $3, $4, $5 FROM route_versions WHERE id = $3 AND route_id = $2",
            &[
                &deployment.id,
                &deployment.route_id,
                &deployment.version_id,
                &deployment.comment.as_deref().map(pg_text),
                &deployment.created_at.to_string(),
            ],
        )
        .await?)
}

#[async_trait]
impl RouteStore for PostgresStore {
    async fn list_deployed_routes(&self) -> StoreResult<Vec<DeployedRoute>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT r.id AS r_id, r.account_id AS r_account_id,
                            r.gateway_id AS r_gateway_id, r.name AS r_name,
                            r.created_at AS r_created_at, r.modified_at AS r_modified_at,
                            d.id AS d_id, d.route_id AS d_route_id, d.version_id AS d_version_id,
                            d.comment AS d_comment, d.created_at AS d_created_at,
                            v.id AS v_id, v.route_id AS v_route_id, v.elements AS v_elements,
                            v.comment AS v_comment, v.created_at AS v_created_at
                     FROM routes r
                     JOIN LATERAL (SELECT * FROM route_deployments
                                   WHERE route_id = r.id ORDER BY seq DESC LIMIT 1) d ON true
                     JOIN route_versions v ON v.id = d.version_id
                     ORDER BY r.account_id, r.gateway_id, r.name",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(DeployedRoute {
                        route: route_from(row)?,
                        deployment: deployment_from(row)?,
                        version: version_from(row)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn insert_route(
        &self,
        route: &StoredRoute,
        version: &StoredRouteVersion,
        deployment: &StoredDeployment,
    ) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let inserted = transaction
                .execute(
                    "INSERT INTO routes (id, account_id, gateway_id, name, created_at, modified_at)
                     SELECT $1, $2, $3, $4, $5, $6
                     FROM gateways WHERE account_id = $2 AND id = $3",
                    &[
                        &route.id,
                        &route.account_id,
                        &route.gateway_id,
                        &pg_text(&route.name),
                        &route.created_at.to_string(),
                        &route.modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(inserted)?;
            changed_one(insert_version(&transaction, version).await?)?;
            changed_one(insert_deployment(&transaction, deployment).await?)?;
            transaction.commit().await?;
            Ok(())
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
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE routes SET name = $4, modified_at = $5
                     WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[
                        &account_id,
                        &gateway_id,
                        &id,
                        &pg_text(name),
                        &modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn delete_route(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM routes WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[&account_id, &gateway_id, &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn list_route_versions(&self, route_id: &str) -> StoreResult<Vec<StoredRouteVersion>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {VERSION_COLUMNS} FROM route_versions
                         WHERE route_id = $1 ORDER BY seq"
                    ),
                    &[&route_id],
                )
                .await?;
            rows.iter().map(version_from).collect()
        })
        .await
    }

    async fn insert_route_version(&self, version: &StoredRouteVersion) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            changed_one(insert_version(&transaction, version).await?)?;
            Ok(transaction.commit().await?)
        })
        .await
    }

    async fn insert_route_deployment(&self, deployment: &StoredDeployment) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            changed_one(insert_deployment(&transaction, deployment).await?)?;
            Ok(transaction.commit().await?)
        })
        .await
    }

    async fn list_route_deployments(&self, route_id: &str) -> StoreResult<Vec<StoredDeployment>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {DEPLOYMENT_COLUMNS} FROM route_deployments
                         WHERE route_id = $1 ORDER BY seq"
                    ),
                    &[&route_id],
                )
                .await?;
            rows.iter().map(deployment_from).collect()
        })
        .await
    }
}
