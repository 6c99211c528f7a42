-- parley_send_batch, set-based: the steps of 0003 for the whole batch at once, as the SQLite statements in
-- SQLStore+Send.swift take them, instead of seven statements per request. The batch's JSON is parsed once per
-- statement and each table is read and written once, so a send's share of Postgres's work falls as its batch grows.
-- The same rows and guarantees; one more argument, `published`: outbox rows whose events went out, deleted in the
-- same transaction (see SQLStore.markPublished). 0003's function stays for the nodes of the version before, during a
-- rolling upgrade.

-- A message's sender is a member of its room when it is sent (the send checks it under the room's lock, and
-- room_members references users), and users are never deleted. A foreign key from messages to users would check
-- it once more, at a price: its check locks the sender's row in users, a heap write and a WAL record per message.
-- (messages keeps its key to rooms, which deletes a room's messages.)
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_sender_id_fkey;

-- A batch's requests, in order. A function of its own for the planner's sake: it plans for about 10 rows (a batch
-- is small), where a bare json_to_recordset counts as 100.
CREATE FUNCTION parley_send_requests(requests json)
RETURNS TABLE (ord bigint, room text, sender text, client_id text, body text)
LANGUAGE plpgsql ROWS 10 AS $$
BEGIN
    RETURN QUERY
    SELECT e.ord, e.room, e.sender, e.client_id, e.body
    FROM ROWS FROM (json_to_recordset(requests) AS (room text, sender text, "clientId" text, text text))
        WITH ORDINALITY AS e (room, sender, client_id, body, ord);
END
$$;

-- enable_seqscan is off inside it: a batch touches a handful of rows of tables that may be small (a fresh
-- deployment, a benchmark) or huge, and an index lookup per row is right for both.
CREATE FUNCTION parley_send_batch(requests json, now_ms bigint, now_iso text, published bigint[])
RETURNS TABLE (
    ord bigint, status text, msg_seq bigint, msg_text text, msg_sent_at bigint, msg_deleted_at bigint,
    outbox_id bigint, outbox_payload text
)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    -- Locking the room rows serialises each room's senders, so the next seq is free and no seq is skipped. All
    -- of them first, in id order, so that two batches never wait for each other's rooms. The statement below
    -- starts once the locks are held, so it sees every send committed to these rooms before.
    PERFORM 1 FROM rooms
    WHERE id IN (SELECT e.room FROM parley_send_requests(requests) AS e)
    ORDER BY id FOR UPDATE;
    DELETE FROM outbox WHERE id = ANY (published);
    RETURN QUERY
    WITH request AS (
        SELECT e.*, rm.user_id IS NOT NULL AS member
        FROM parley_send_requests(requests) AS e
        LEFT JOIN room_members AS rm ON rm.room_id = e.room AND rm.user_id = e.sender
    ),
    -- Retries of messages already stored.
    stored AS (
        SELECT r.ord, m.seq, m.text, m.sent_at, m.deleted_at
        FROM request AS r
        JOIN messages AS m ON m.room_id = r.room AND m.sender_id = r.sender AND m.client_id = r.client_id
        WHERE r.member
    ),
    -- The first of each new (room, sender, clientId); a later one in the batch is its retry.
    fresh AS (
        SELECT DISTINCT ON (r.room, r.sender, r.client_id) r.ord, r.room, r.sender, r.client_id, r.body
        FROM request AS r
        WHERE r.member AND NOT EXISTS (SELECT 1 FROM stored AS s WHERE s.ord = r.ord)
        ORDER BY r.room, r.sender, r.client_id, r.ord
    ),
    numbered AS (
        SELECT f.*, rooms.last_seq + row_number() OVER (PARTITION BY f.room ORDER BY f.ord) AS seq
        FROM fresh AS f
        JOIN rooms ON rooms.id = f.room
    ),
    -- Outbox ids are taken in request order, so each room's events are in seq order in the outbox too. The event
    -- as Event.messageCreated encodes it.
    created AS (
        SELECT n.*, nextval(pg_get_serial_sequence('outbox', 'id')) AS outbox_id,
            '{"type":"message.created","room":' || to_json(n.room)::text || ',"seq":' || n.seq
            || ',"clientId":' || to_json(n.client_id)::text || ',"sender":' || to_json(n.sender)::text
            || ',"text":' || to_json(n.body)::text || ',"sentAt":' || to_json(now_iso)::text || '}' AS payload
        FROM (SELECT * FROM numbered ORDER BY numbered.ord) AS n
    ),
    inserted AS (
        INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at)
        SELECT c.room, c.seq, c.client_id, c.sender, c.body, now_ms FROM created AS c
    ),
    room_seqs AS (
        UPDATE rooms SET last_seq = latest.seq
        FROM (SELECT c.room, max(c.seq) AS seq FROM created AS c GROUP BY c.room) AS latest
        WHERE rooms.id = latest.room
    ),
    -- What you sent yourself is read.
    read_seqs AS (
        UPDATE room_members AS rm SET last_read_seq = latest.seq
        FROM (SELECT c.room, c.sender, max(c.seq) AS seq FROM created AS c GROUP BY c.room, c.sender) AS latest
        WHERE rm.room_id = latest.room AND rm.user_id = latest.sender
    ),
    -- The channel as Channel.room names it.
    queued AS (
        INSERT INTO outbox (id, channel, payload, created_at)
        SELECT c.outbox_id, 'parley:room:' || c.room, c.payload, now_ms FROM created AS c
    )
    SELECT r.ord,
        CASE WHEN NOT r.member THEN 'not_found' WHEN c.ord = r.ord THEN 'created' ELSE 'exists' END,
        coalesce(s.seq, c.seq), coalesce(s.text, c.body), coalesce(s.sent_at, CASE WHEN c.ord IS NOT NULL THEN now_ms END),
        s.deleted_at,
        CASE WHEN c.ord = r.ord THEN c.outbox_id END,
        CASE WHEN c.ord = r.ord THEN c.payload END
    FROM request AS r
    LEFT JOIN stored AS s ON s.ord = r.ord
    LEFT JOIN created AS c
        ON r.member AND s.ord IS NULL AND c.room = r.room AND c.sender = r.sender AND c.client_id = r.client_id
    ORDER BY r.ord;
END
$$;
