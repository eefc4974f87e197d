-- What DLP matched on a request (docs/dlp.md): `{action, matches, findings}` as JSON, entry ids
-- only, never the matched text. NULL when nothing matched.
ALTER TABLE logs ADD COLUMN dlp TEXT;
