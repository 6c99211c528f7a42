-- parley_send_one: a send that makes a batch of its own, the common case below saturation, as plain statements
-- instead of parley_send_batch's one statement for a whole batch. The same steps, rows and guarantees as a batch of
-- one (the room's lock first, then membership, the retry's check under it, the message, the room's counter, the
-- sender's read mark and the outbox row), and the published outbox rows deleted in the same transaction. A batch
-- statement pays for its generality on every call: the request list parsed from JSON twice, a plan of a dozen
-- nodes started and stopped; for one request that is about as much work again as the steps themselves.
CREATE FUNCTION parley_send_one(
    p_room text, p_sender text, p_client_id text, p_body text, now_ms bigint, now_iso text, published bigint[],
    OUT status text, OUT msg_seq bigint, OUT msg_text text, OUT msg_sent_at bigint, OUT msg_deleted_at bigint,
    OUT outbox_id bigint, OUT outbox_payload text
)
LANGUAGE plpgsql AS $$
DECLARE
    last bigint;
BEGIN
    -- The room's lock serialises its senders, so the next seq is free and no seq is skipped.
    SELECT r.last_seq INTO last FROM rooms AS r WHERE r.id = p_room FOR UPDATE;
    IF cardinality(published) > 0 THEN
        DELETE FROM outbox WHERE id = ANY (published);
    END IF;
    IF last IS NULL OR NOT EXISTS (SELECT FROM room_members AS rm WHERE rm.room_id = p_room AND rm.user_id = p_sender) THEN
        status := 'not_found';
        RETURN;
    END IF;
    -- A retry of a message already stored; checked under the lock, so that it sees its original once committed.
    SELECT 'exists', m.seq, m.text, m.sent_at, m.deleted_at INTO status, msg_seq, msg_text, msg_sent_at, msg_deleted_at
    FROM messages AS m
    WHERE m.room_id = p_room AND m.sender_id = p_sender AND m.client_id = p_client_id;
    IF FOUND THEN
        RETURN;
    END IF;
    status := 'created';
    msg_seq := last + 1;
    msg_text := p_body;
    msg_sent_at := now_ms;
    -- The event as Event.messageCreated encodes it, on the channel as Channel.room names it.
    outbox_payload := '{"type":"message.created","room":' || to_json(p_room)::text || ',"seq":' || msg_seq
        || ',"clientId":' || to_json(p_client_id)::text || ',"sender":' || to_json(p_sender)::text
        || ',"text":' || to_json(p_body)::text || ',"sentAt":' || to_json(now_iso)::text || '}';
    INSERT INTO messages (room_id, seq, client_id, sender_id, text, sent_at)
    VALUES (p_room, msg_seq, p_client_id, p_sender, p_body, now_ms);
    UPDATE rooms SET last_seq = msg_seq WHERE id = p_room;
    -- What you sent yourself is read.
    UPDATE room_members SET last_read_seq = msg_seq WHERE room_id = p_room AND user_id = p_sender;
    INSERT INTO outbox (channel, payload, created_at)
    VALUES ('parley:room:' || p_room, outbox_payload, now_ms)
    RETURNING id INTO outbox_id;
END
$$;
