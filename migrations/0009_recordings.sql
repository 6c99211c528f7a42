-- The recorder: the system user that recordings of meetings are posted by. It is no member of any room, its
-- username is one sign-up refuses, and its password hash matches no password, so nobody signs in as it.
INSERT INTO users (id, username, name, password_hash, created_at) VALUES ('recorder', 'parley:recorder', 'Recorder', '!', 0);

-- Recordings of meetings: jobs that recorder workers claim. A job is pending until a worker claims it, recording
-- while a worker holds its lease (renewed as it records; another worker takes it over, as part + 1, once the lease
-- lapses), stopping once asked to stop (the worker finishes and posts the file), and then done, or failed when no
-- worker took it or its worker was lost. A meeting has at most one recording pending or running.
CREATE TABLE recordings (
    id           TEXT PRIMARY KEY,
    meeting_id   TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    room_id      TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    started_by   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'recording', 'stopping', 'done', 'failed')),
    part         INTEGER NOT NULL DEFAULT 0,
    worker       TEXT,
    lease_until  BIGINT,
    requested_at BIGINT NOT NULL,
    stopped_at   BIGINT,
    stop_reason  TEXT
);
CREATE UNIQUE INDEX recordings_running_per_meeting ON recordings (meeting_id) WHERE state IN ('pending', 'recording');
CREATE INDEX recordings_open ON recordings (requested_at) WHERE state IN ('pending', 'recording', 'stopping');

-- Recorder workers waiting for a job, with when each last asked for one: a recording is accepted only while one is.
CREATE TABLE recorders (
    id      TEXT PRIMARY KEY,
    idle_at BIGINT NOT NULL
);

-- In a group, the owner and admins may forbid recording its meetings.
ALTER TABLE rooms ADD COLUMN recording_allowed INTEGER NOT NULL DEFAULT 1;
