-- Search of messages: an FTS5 index over the text of the messages table, kept by triggers. Deleted messages and
-- calls' entries have no text, so nothing finds them. (A trigger's body stays on one line, where the migrator does
-- not split it.)
CREATE VIRTUAL TABLE messages_search USING fts5 (text, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO messages_search (rowid, text) SELECT rowid, text FROM messages WHERE text IS NOT NULL;
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text); END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages BEGIN INSERT INTO messages_search (messages_search, rowid, text) SELECT 'delete', old.rowid, old.text WHERE old.text IS NOT NULL; INSERT INTO messages_search (rowid, text) SELECT new.rowid, new.text WHERE new.text IS NOT NULL; END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN INSERT INTO messages_search (messages_search, rowid, text) VALUES ('delete', old.rowid, old.text); END;
