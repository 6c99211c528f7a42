-- Replies, edits, reactions and calls in the timeline.
--
-- A reply names the message it answers by its seq in the same room; what it quotes is read from that message as it
-- is now, so an edit or a deletion shows in the quote too.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;

-- A call's entries in its room's timeline: a message with no text that names its meeting and what became of it
-- ('started', then one of 'answered', 'missed', 'declined', 'cancelled'), with how long an answered call lasted.
ALTER TABLE messages ADD COLUMN call_meeting TEXT;
ALTER TABLE messages ADD COLUMN call_outcome TEXT;
ALTER TABLE messages ADD COLUMN call_duration BIGINT;

-- When someone first answered: an answered call's duration runs from then.
ALTER TABLE meetings ADD COLUMN answered_at BIGINT;

-- One member's emoji on one message, at most once each.
CREATE TABLE reactions (
    room_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq, user_id, emoji),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
