-- Search of messages: Postgres's full text over each message's words, with the 'simple' configuration (no stemming
-- and no stop words, which suits chat in any language). Deleted messages and calls' entries have no text, so nothing
-- finds them.
CREATE INDEX messages_search ON messages USING GIN (to_tsvector('simple', text));
