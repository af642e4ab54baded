-- Several registrations in one transaction, each exactly as token_register does it, results in
-- the order given. The service gathers the registrations that arrive while its previous calls
-- are still running into one call: a transaction's fixed cost (the round trip, its start, the
-- commit and its WAL flush) is then paid once for the group instead of once per registration.
--
-- Every user involved (the callers, and the current owners of targets that would move) is
-- locked first, in one global order (by lock key, as token_lock_users does), so two batches
-- never wait on each other in a cycle. token_register then takes those locks again, which costs
-- nothing. A target that changed owner in between makes token_register lock that owner out of
-- order, or give up: the service then runs the batch's registrations one by one.
CREATE FUNCTION token_register_batch(
    p_users text[],
    p_targets text[],
    p_kinds text[],
    p_project_ids text[],
    p_platforms text[],
    p_device_labels text[],
    p_user_agents text[],
    p_max_targets integer,
    p_replaces text[],
    p_trace_ids text[]
) RETURNS TABLE (
    outcome text,
    target_id text,
    created_at timestamptz,
    last_seen_at timestamptz,
    evicted text[],
    replaced boolean
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1752457833, keys.k)
    FROM (
        SELECT DISTINCT hashtext(u.user_id) AS k
        FROM (
            SELECT unnest(p_users) AS user_id
            UNION ALL
            SELECT t.user_id FROM push_tokens AS t WHERE t.target = ANY (p_targets)
        ) AS u
        ORDER BY 1
    ) AS keys;
    FOR i IN 1 .. cardinality(p_users) LOOP
        RETURN QUERY SELECT * FROM token_register(
            p_users[i], p_targets[i], p_kinds[i], p_project_ids[i], p_platforms[i],
            p_device_labels[i], p_user_agents[i], p_max_targets, p_replaces[i], p_trace_ids[i]
        );
    END LOOP;
END;
$$;
