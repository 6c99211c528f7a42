-- Parley's first schema. Times are milliseconds since 1970 (BIGINT), ids are opaque text.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_username_trgm ON users USING gin (username gin_trgm_ops);
CREATE INDEX users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);

-- Refresh tokens are stored as SHA-256 hashes. A token is used once: rotating it sets used_at, and presenting a
-- used token again revokes its whole family (every token descended from the same login).
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- last_seq is the room's message counter: a send locks the room row, so seq has no gaps.
CREATE TABLE rooms (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name       TEXT,
    direct_key TEXT UNIQUE,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE room_members (
    room_id       TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    last_read_seq BIGINT NOT NULL DEFAULT 0,
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE contacts (
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
);

CREATE TABLE messages (
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    sender_id  TEXT NOT NULL REFERENCES users (id),
    text       TEXT,
    sent_at    BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (room_id, seq),
    UNIQUE (room_id, sender_id, client_id)
);

-- The transactional outbox: events committed with their change, published after commit, and republished by the
-- relay if the node that committed them died first.
CREATE TABLE outbox (
    id         BIGSERIAL PRIMARY KEY,
    channel    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
