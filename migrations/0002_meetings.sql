-- Meetings: calls in a room. A room has at most one open (ringing or active) meeting, which dialling again joins.
-- The same in both dialects (so it sits outside the dialect folders); flags are 0 or 1.
CREATE TABLE meetings (
    id          TEXT PRIMARY KEY,
    room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    host_id     TEXT NOT NULL REFERENCES users (id),
    state       TEXT NOT NULL CHECK (state IN ('ringing', 'active', 'ended', 'declined', 'missed')),
    started_at  BIGINT NOT NULL,
    rings_until BIGINT NOT NULL,
    ended_at    BIGINT,
    end_reason  TEXT
);
CREATE UNIQUE INDEX meetings_open_per_room ON meetings (room_id) WHERE state IN ('ringing', 'active');
CREATE INDEX meetings_ringing ON meetings (rings_until) WHERE state = 'ringing';

-- Attendees are connections. node_id is the node that holds the connection: when it dies, its attendees go.
CREATE TABLE attendees (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    conn_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    node_id    TEXT NOT NULL,
    audio      INTEGER NOT NULL,
    video      INTEGER NOT NULL,
    screen     INTEGER NOT NULL,
    joined_at  BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, conn_id)
);
CREATE INDEX attendees_node ON attendees (node_id);

-- The members who declined a ringing group meeting: it stops ringing for them, and is declined once all have.
CREATE TABLE meeting_declines (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (meeting_id, user_id)
);
