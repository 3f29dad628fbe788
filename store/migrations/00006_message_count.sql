-- +goose Up
-- A conversation keeps its number of messages, written with each message,
-- rather than counting them at every read: reading a conversation is on
-- the path of every interaction.
ALTER TABLE conversations ADD COLUMN num_messages INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET num_messages = (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = conversations.id);

-- +goose Down
ALTER TABLE conversations DROP COLUMN num_messages;
