-- A user's picture: the name of its image in the blob store (avatars/NAME), served at /api/avatars/NAME; NULL for
-- none.
ALTER TABLE users ADD COLUMN avatar TEXT;
