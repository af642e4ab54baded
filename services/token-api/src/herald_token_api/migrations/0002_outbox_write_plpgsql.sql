-- token_outbox_write, same behaviour, in PL/pgSQL instead of SQL. PostgreSQL 15 plans the body of
-- a SQL function that it cannot inline again on every call; PL/pgSQL keeps its plans for the
-- session. Measured on the register path: about a third of PostgreSQL's CPU per registration.
CREATE OR REPLACE FUNCTION token_outbox_write(p_user text, p_trace_id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO token_outbox (user_id, targets, trace_id)
    SELECT p_user,
           coalesce(jsonb_agg(jsonb_build_object(
               'kind', t.kind,
               'value', t.target,
               'project_id', t.project_id,
               'platform', t.platform,
               'device_label', t.device_label,
               'created_us', (extract(epoch FROM t.created_at) * 1000000)::bigint,
               'last_seen_us', (extract(epoch FROM t.last_seen_at) * 1000000)::bigint
           ) ORDER BY t.created_at, t.target), '[]'::jsonb),
           p_trace_id
    FROM push_tokens AS t
    WHERE t.user_id = p_user;
    -- Wake the relay (on commit) only while it waits for a NOTIFY: see token_outbox_relay.
    PERFORM pg_notify('token_outbox', '') FROM token_outbox_relay WHERE idle;
END;
$$;
