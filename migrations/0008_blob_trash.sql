-- Bytes to remove from the blob store, whose rows went with a deleted room: written in the deleting transaction, so
-- that none is forgotten, and emptied by the sweeper.
CREATE TABLE blob_trash (
    key        TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
