-- A run token's scope (docs/budgets.md, "Scoped run tokens"): its gateways, providers and models
-- allowlists, expiry and metadata as one JSON object. NULL, as on every token made before this,
-- restricts nothing.
ALTER TABLE tokens ADD COLUMN scope TEXT;
