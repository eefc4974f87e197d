-- Change notifications: every statement that writes gateways or run tokens sends a NOTIFY on
-- `tollgate_changes` (payload: the table). A trigger, not the gateway's own statements, so writes
-- from any client (`tollgate migrate`, an operator's psql) reach running instances too. NOTIFY is
-- transactional: it is delivered on commit, and never for a rolled-back write.
CREATE FUNCTION tollgate_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER gateways_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gateways
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();

CREATE TRIGGER tokens_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change();
