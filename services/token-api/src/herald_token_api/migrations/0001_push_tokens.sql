-- Push targets per user, the outbox of their token sets, and the functions that change both in
-- one transaction. Every change takes a per-user advisory lock, so a user's changes commit one
-- after the other and their outbox ids increase in commit order.

CREATE TABLE push_tokens (
    target       text PRIMARY KEY,
    -- What the API shows instead of the target: the first 32 hex digits of its SHA-256.
    target_id    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('token', 'fid')),
    project_id   text NOT NULL DEFAULT '',
    user_id      text NOT NULL,
    platform     text NOT NULL CHECK (platform IN ('web', 'android', 'ios')),
    device_label text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
-- Listing a user's targets, evicting the least recently seen ones, deleting by target_id.
CREATE INDEX push_tokens_user_id_last_seen_at ON push_tokens (user_id, last_seen_at);
-- Finding stale targets.
CREATE INDEX push_tokens_last_seen_at ON push_tokens (last_seen_at);

-- The complete token set of a user after each change, waiting for the relay; [] = no targets.
CREATE TABLE token_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id    text NOT NULL,
    targets    jsonb NOT NULL,
    trace_id   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Whether the relay is idle, waiting for a NOTIFY. Writers notify only then: NOTIFY serialises
-- committing transactions on a global lock, which would cap the write rate while the relay is
-- busy anyway.
CREATE TABLE token_outbox_relay (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    idle      boolean NOT NULL DEFAULT false
);
INSERT INTO token_outbox_relay DEFAULT VALUES;

-- Locks one or two users, in one global order (by lock key), so two changes never deadlock.
CREATE FUNCTION token_lock_users(p_user text, p_other text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_first integer := hashtext(p_user);
    v_second integer := coalesce(hashtext(p_other), v_first);
BEGIN
    PERFORM pg_advisory_xact_lock(1752457833, least(v_first, v_second));
    IF v_first <> v_second THEN
        PERFORM pg_advisory_xact_lock(1752457833, greatest(v_first, v_second));
    END IF;
END;
$$;

-- Appends the user's current set to the outbox and wakes an idle relay (NOTIFY goes on commit).
CREATE FUNCTION token_outbox_write(p_user text, p_trace_id text) RETURNS void
LANGUAGE sql AS $$
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
    SELECT pg_notify('token_outbox', '') FROM token_outbox_relay WHERE idle;
$$;

-- Registers a target for p_user, or touches it, or moves it from its previous owner. With
-- p_replaces, the caller's own row for that old target is deleted in the same transaction.
-- Beyond p_max_targets, the caller's least recently seen targets are evicted.
CREATE FUNCTION token_register(
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
    v_outcome text;
    v_changed boolean := false;
    v_evicted text[] := '{}';
    v_replaced boolean := false;
    v_target_id text;
    v_created_at timestamptz;
    v_last_seen_at timestamptz;
BEGIN
    SELECT t.user_id INTO v_owner FROM push_tokens AS t WHERE t.target = p_target;
    PERFORM token_lock_users(p_user, v_owner);
    IF v_owner IS NOT NULL THEN
        SELECT * INTO v_row FROM push_tokens AS t WHERE t.target = p_target FOR UPDATE;
        IF FOUND AND v_row.user_id <> p_user AND v_row.user_id <> v_owner THEN
            -- It moved in between to a user not locked here: start again (the caller retries).
            RAISE EXCEPTION 'target moved meanwhile' USING ERRCODE = 'serialization_failure';
        END IF;
    END IF;

    IF p_replaces IS NOT NULL AND p_replaces <> p_target THEN
        DELETE FROM push_tokens AS t WHERE t.target = p_replaces AND t.user_id = p_user;
        v_replaced := FOUND;
    END IF;

    IF v_row.target IS NULL THEN
        INSERT INTO push_tokens AS t (target, target_id, kind, project_id, user_id, platform,
                                      device_label, user_agent)
        VALUES (p_target, left(encode(sha256(convert_to(p_target, 'UTF8')), 'hex'), 32), p_kind,
                p_project_id, p_user, p_platform, p_device_label, p_user_agent)
        ON CONFLICT ON CONSTRAINT push_tokens_pkey DO NOTHING
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO v_target_id, v_created_at, v_last_seen_at;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'target registered concurrently' USING ERRCODE = 'serialization_failure';
        END IF;
        v_outcome := 'created';
        v_changed := true;
    ELSIF v_row.user_id <> p_user THEN
        UPDATE push_tokens AS t
        SET user_id = p_user, kind = p_kind, project_id = p_project_id, platform = p_platform,
            device_label = p_device_label, user_agent = p_user_agent,
            created_at = now(), last_seen_at = now()
        WHERE t.target = p_target
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO v_target_id, v_created_at, v_last_seen_at;
        PERFORM token_outbox_write(v_row.user_id, p_trace_id);
        v_outcome := 'moved';
        v_changed := true;
    ELSE
        v_changed := (v_row.kind, v_row.project_id, v_row.platform, v_row.device_label)
            IS DISTINCT FROM (p_kind, p_project_id, p_platform, p_device_label);
        UPDATE push_tokens AS t
        SET kind = p_kind, project_id = p_project_id, platform = p_platform,
            device_label = p_device_label, user_agent = p_user_agent, last_seen_at = now()
        WHERE t.target = p_target
        RETURNING t.target_id, t.created_at, t.last_seen_at
        INTO v_target_id, v_created_at, v_last_seen_at;
        v_outcome := 'touched';
    END IF;

    IF v_outcome <> 'touched'
        AND (SELECT count(*) FROM push_tokens AS t WHERE t.user_id = p_user) > p_max_targets
    THEN
        WITH doomed AS (
            SELECT t.target FROM push_tokens AS t
            WHERE t.user_id = p_user AND t.target <> p_target
            ORDER BY t.last_seen_at DESC, t.created_at DESC, t.target
            OFFSET greatest(p_max_targets - 1, 0)
        ), gone AS (
            DELETE FROM push_tokens AS t USING doomed WHERE t.target = doomed.target
            RETURNING t.target
        )
        SELECT coalesce(array_agg(gone.target), '{}') INTO v_evicted FROM gone;
    END IF;

    IF v_changed OR v_replaced THEN
        PERFORM token_outbox_write(p_user, p_trace_id);
    END IF;

    RETURN QUERY SELECT v_outcome, v_target_id, v_created_at, v_last_seen_at, v_evicted, v_replaced;
END;
$$;

-- Deletes the given targets of p_user (all of them when p_target_ids is NULL).
CREATE FUNCTION token_unregister(p_user text, p_target_ids text[], p_trace_id text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM token_lock_users(p_user, NULL);
    DELETE FROM push_tokens AS t
    WHERE t.user_id = p_user AND (p_target_ids IS NULL OR t.target_id = ANY (p_target_ids));
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM token_outbox_write(p_user, p_trace_id);
    END IF;
    RETURN v_count;
END;
$$;

-- Deletes a target FCM rejected at p_observed_at, unless p_user registered it again since.
CREATE FUNCTION token_invalidate(
    p_user text, p_target text, p_observed_at timestamptz, p_trace_id text
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_deleted boolean;
BEGIN
    PERFORM token_lock_users(p_user, NULL);
    DELETE FROM push_tokens AS t
    WHERE t.target = p_target AND t.user_id = p_user AND t.last_seen_at <= p_observed_at;
    v_deleted := FOUND;
    IF v_deleted THEN
        PERFORM token_outbox_write(p_user, p_trace_id);
    END IF;
    RETURN v_deleted;
END;
$$;

-- Deletes p_user's targets not seen since p_cutoff.
CREATE FUNCTION token_prune_user(p_user text, p_cutoff timestamptz, p_trace_id text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM token_lock_users(p_user, NULL);
    DELETE FROM push_tokens AS t WHERE t.user_id = p_user AND t.last_seen_at < p_cutoff;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        PERFORM token_outbox_write(p_user, p_trace_id);
    END IF;
    RETURN v_count;
END;
$$;
