-- Dynamic routes (docs/routing.md): a route per gateway and name, its versions (each an
-- immutable graph of elements, JSON) and its deployments (which version is live: the latest
-- deployment, by `seq`). Removing a gateway removes its routes, their versions and deployments.
CREATE TABLE routes (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL,
    gateway_id  TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (account_id, gateway_id, name),
    FOREIGN KEY (account_id, gateway_id) REFERENCES gateways (account_id, id) ON DELETE CASCADE
);

CREATE TABLE route_versions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    route_id   TEXT COLLATE "C" NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    elements   TEXT NOT NULL,
    comment    TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX route_versions_route ON route_versions (route_id);

CREATE TABLE route_deployments (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL UNIQUE,
    route_id   TEXT COLLATE "C" NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    version_id TEXT COLLATE "C" NOT NULL REFERENCES route_versions (id) ON DELETE CASCADE,
    comment    TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX route_deployments_route ON route_deployments (route_id, seq);

-- Every instance re-reads the deployed routes when any instance creates, renames or deletes a
-- route or deploys a version (the change listener, as for gateways, tokens and keys). A new
-- version changes nothing live until it is deployed.
CREATE TRIGGER routes_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routes
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();

CREATE TRIGGER route_deployments_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON route_deployments
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();
