-- Dynamic routes (docs/routing.md): a route per gateway and name, its versions (each an
-- immutable graph of elements, JSON) and its deployments (which version is live: the latest
-- deployment, by `seq`). Removing a gateway removes its routes, their versions and deployments.
CREATE TABLE routes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    gateway_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (account_id, gateway_id, name),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

CREATE TABLE route_versions (
    id         TEXT PRIMARY KEY,
    route_id   TEXT NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    elements   TEXT NOT NULL,
    comment    TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX route_versions_route ON route_versions (route_id);

CREATE TABLE route_deployments (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    route_id   TEXT NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL REFERENCES route_versions (id) ON DELETE CASCADE,
    comment    TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX route_deployments_route ON route_deployments (route_id, seq);
