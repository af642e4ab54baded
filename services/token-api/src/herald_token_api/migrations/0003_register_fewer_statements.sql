-- token_register, same signature, same behaviour, fewer statements. Each statement a PL/pgSQL
-- function runs costs PostgreSQL a plan-cache lookup, a snapshot and an executor start and end,
-- whatever it does; a nested PL/pgSQL call costs a statement plus the callee's. A new target for
-- a user (the common change) ran 9 of them (2 of them nested calls), now 4:
--   * the caller's lock is taken inline when no other user is involved (token_lock_users, a
--     nested call of 2 statements, only when the target moves between users);
--   * one statement inserts the outbox row with the user's new set, unless the user is past the
--     cap (HAVING count(*)), and returns whether the relay waits for a NOTIFY: it replaces a
--     count, the nested token_outbox_write and its relay-state query; the set is written by
--     token_outbox_write only after an eviction;
--   * the result goes out through the OUT columns and RETURN NEXT, not a RETURN QUERY.
CREATE OR REPLACE FUNCTION token_register(
    p_user text,
    p_target text,
    p_kind text,
    p_project_id text,
    p_platform text,
    p_device_label text,
    p_user_agent text,
    p_max_targets integer,
    p_replaces text,
    p_trace_id text
) RETURNS TABLE (
    outcome text,
    target_id text,
    created_at timestamptz,
    last_seen_at timestamptz,
    evicted text[],
    replaced boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner text;
    v_row push_tokens%ROWTYPE;
    v_changed boolean := false;
    v_relay_idle boolean;
BEGIN
    evicted := '{}';
    replaced := false;
    SELECT t.user_id INTO v_owner FROM push_tokens AS t WHERE t.target = p_target;
    IF v_owner IS NULL OR v_owner = p_user THEN
        PERFORM pg_advisory_xact_lock(1752457833, hashtext(p_user));
    ELSE
        PERFORM token_lock_users(p_user, v_owner);
    END IF;
    IF v_owner IS NOT NULL THEN
        SELECT * INTO v_row FROM push_tokens AS t WHERE t.target = p_target FOR UPDATE;
        IF FOUND AND v_row.user_id <> p_user AND v_row.user_id <> v_owner THEN
            -- It moved in between to a user not locked here: start again (the caller retries).
            RAISE EXCEPTION 'target moved meanwhile' USING ERRCODE = 'serialization_failure';
        END IF;
    END IF;

    IF p_replaces IS NOT NULL AND p_replaces <> p_target THEN
        DELETE FROM push_tokens AS t WHERE t.target = p_replaces AND t.user_id = p_user;
        replaced := FOUND;
    END IF;

    IF v_row.target IS NULL THEN
        INSERT INTO push_tokens AS t (target, target_id, kind, project_id, user_id, platform,
                                      device_label, user_agent)
        VALUES (p_target, left(encode(sha256(convert_to(p_target, 'UTF8')), 'hex'), 32), p_kind,
                p_project_id, p_user, p_platform, p_device_label, p_user_agent)
        ON CONFLICT ON CONSTRAINT push_tokens_pkey DO NOTHING
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO target_id, created_at, last_seen_at;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'target registered concurrently' USING ERRCODE = 'serialization_failure';
        END IF;
        outcome := 'created';
        v_changed := true;
    ELSIF v_row.user_id <> p_user THEN
        UPDATE push_tokens AS t
        SET user_id = p_user, kind = p_kind, project_id = p_project_id, platform = p_platform,
            device_label = p_device_label, user_agent = p_user_agent,
            created_at = now(), last_seen_at = now()
        WHERE t.target = p_target
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO target_id, created_at, last_seen_at;
        PERFORM token_outbox_write(v_row.user_id, p_trace_id);
        outcome := 'moved';
        v_changed := true;
    ELSE
        v_changed := (v_row.kind, v_row.project_id, v_row.platform, v_row.device_label)
            IS DISTINCT FROM (p_kind, p_project_id, p_platform, p_device_label);
        UPDATE push_tokens AS t
        SET kind = p_kind, project_id = p_project_id, platform = p_platform,
            device_label = p_device_label, user_agent = p_user_agent, last_seen_at = now()
        WHERE t.target = p_target
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO target_id, created_at, last_seen_at;
        outcome := 'touched';
    END IF;

    IF v_changed OR replaced THEN
        -- The user's new set goes to the outbox unless the user is past the cap; the same
        -- statement says whether the relay waits for a NOTIFY.
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
        WHERE t.user_id = p_user
        HAVING outcome = 'touched' OR count(*) <= p_max_targets
        RETURNING (SELECT r.idle FROM token_outbox_relay AS r) INTO v_relay_idle;

        IF NOT FOUND THEN
            -- Past the cap (rare): evict the least recently seen, then write the set left.
            WITH doomed AS (
                SELECT t.target FROM push_tokens AS t
                WHERE t.user_id = p_user AND t.target <> p_target
                ORDER BY t.last_seen_at DESC, t.created_at DESC, t.target
                OFFSET greatest(p_max_targets - 1, 0)
            ), gone AS (
                DELETE FROM push_tokens AS t USING doomed WHERE t.target = doomed.target
                RETURNING t.target
            )
            SELECT coalesce(array_agg(gone.target), '{}') INTO evicted FROM gone;
            PERFORM token_outbox_write(p_user, p_trace_id);
        ELSIF v_relay_idle THEN
            -- Wake the relay (on commit) only while it waits for a NOTIFY: see token_outbox_relay.
            PERFORM pg_notify('token_outbox', '');
        END IF;
    END IF;

    RETURN NEXT;
END;
$$;
