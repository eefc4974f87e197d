-- The OpenTelemetry trace a request's spans belong to (docs/observability.md), so a log links to
-- its trace. NULL for requests that were not traced.
ALTER TABLE logs ADD COLUMN trace_id TEXT;
