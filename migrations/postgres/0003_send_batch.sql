-- A batch of sends in one round trip: the same steps as the portable statements in SQLStore+Send.swift, run
-- inside the server, where each statement's plan is cached and none waits on the network. A call runs in its own
-- transaction, so a batch costs one round trip and one commit.
--
-- requests: a JSON array of {"room", "sender", "clientId", "text"}, in order; now_ms and now_iso: the time of the
-- sends, as stored and as the wire shows it (Timestamp's ISO 8601 form, with milliseconds). Returns a row per request, in order:
-- status 'created' (with the new seq, its outbox row and payload), 'exists' (a retry: the stored message) or
-- 'not_found' (the sender is not a member of the room).
CREATE FUNCTION parley_send_batch(requests json, now_ms bigint, now_iso text)
RETURNS TABLE (
    ord bigint, status text, msg_seq bigint, msg_text text, msg_sent_at bigint, msg_deleted_at bigint,
    outbox_id bigint, outbox_payload text
)
LANGUAGE plpgsql AS $$
DECLARE
    request record;
BEGIN
    -- Locking the room rows serialises each room's senders, so the next seq is free and no seq is skipped. All
    -- of them first, in id order, so that two batches never wait for each other's rooms.
    PERFORM 1 FROM rooms
    WHERE id IN (SELECT e.value ->> 'room' FROM json_array_elements(requests) AS e (value))
    ORDER BY id FOR UPDATE;
    FOR request IN
        SELECT e.ord, e.value ->> 'room' AS room, e.value ->> 'sender' AS sender, e.value ->> 'clientId' AS client_id,
            e.value ->> 'text' AS body
        FROM json_array_elements(requests) WITH ORDINALITY AS e (value, ord)
        ORDER BY e.ord
    LOOP
        ord := request.ord;
        msg_seq := NULL;
        msg_text := NULL;
        msg_sent_at := NULL;
        msg_deleted_at := NULL;
        outbox_id := NULL;
        outbox_payload := NULL;
        IF NOT EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = request.room AND rm.user_id = request.sender) THEN
            status := 'not_found';
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- Checked under the lock, so that a retry racing its original sees the original once it commits; and
        -- after the batch's own inserts, so that a retry within the batch sees its original too.
        SELECT m.seq, m.text, m.sent_at, m.deleted_at INTO msg_seq, msg_text, msg_sent_at, msg_deleted_at
        FROM messages m
        WHERE m.room_id = request.room AND m.sender_id = request.sender AND m.client_id = request.client_id;
        IF FOUND THEN
            status := 'exists';
            RETURN NEXT;
            CONTINUE;
        END IF;
        UPDATE rooms r SET last_seq = r.last_seq + 1 WHERE r.id = request.room RETURNING r.last_seq INTO msg_seq;
        INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at)
        VALUES (request.room, msg_seq, request.client_id, request.sender, request.body, now_ms);
        -- What you sent yourself is read.
        UPDATE room_members rm SET last_read_seq = msg_seq WHERE rm.room_id = request.room AND rm.user_id = request.sender;
        -- The event as Event.messageCreated encodes it.
        outbox_payload := '{"type":"message.created","room":' || to_json(request.room)::text || ',"seq":' || msg_seq
            || ',"clientId":' || to_json(request.client_id)::text || ',"sender":' || to_json(request.sender)::text
            || ',"text":' || to_json(request.body)::text || ',"sentAt":' || to_json(now_iso)::text || '}';
        -- The channel as Channel.room names it.
        INSERT INTO outbox AS o (channel, payload, created_at)
        VALUES ('parley:room:' || request.room, outbox_payload, now_ms)
        RETURNING o.id INTO outbox_id;
        status := 'created';
        msg_text := request.body;
        msg_sent_at := now_ms;
        RETURN NEXT;
    END LOOP;
END
$$;
