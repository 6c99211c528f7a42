-- Files shared in rooms. A row is made when the upload is announced; its bytes go to the blob store (PARLEY_FILES)
-- under files/ROOM/ID. stored_at is set once they are in whole, message_seq once a message carries the file; files
-- never sent are swept a day on, with their bytes.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    room_id      TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader_id  TEXT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    stored_at    BIGINT,
    message_seq  BIGINT
);

CREATE INDEX files_by_message ON files (room_id, message_seq);
CREATE INDEX files_unsent ON files (created_at) WHERE message_seq IS NULL;
