-- +goose Up
-- The conversation engine's records. A conversation keeps the engine's own
-- state (where in its context graphs it is) and a seed its model calls
-- use; every interaction is written whole, with its messages, in one
-- transaction, so a failed or abandoned one leaves nothing behind.
ALTER TABLE conversations ADD COLUMN seed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN engine_state TEXT NOT NULL DEFAULT '{}';
ALTER TABLE conversations ADD COLUMN interaction_count INTEGER NOT NULL DEFAULT 0;

-- A voice message keeps the audio it came from (source_blob_id).
ALTER TABLE messages ADD COLUMN source_blob_id TEXT;

-- insights is the engine's record of the interaction (states walked, tool
-- calls, working memory), read whole by get-interaction-insights.
CREATE TABLE interactions (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id       TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq                   INTEGER NOT NULL,
    state_machine_id      TEXT NOT NULL,
    state_machine_version INTEGER NOT NULL,
    insights              TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
) STRICT;

-- Every prompt sent to a model and the completion received, under a key
-- whose prefixes select a conversation, an interaction or a simulation run.
CREATE TABLE prompt_logs (
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    conversation_id TEXT,
    interaction_id  TEXT,
    purpose         TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    completion      TEXT NOT NULL,
    error           TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT;

CREATE INDEX prompt_logs_created ON prompt_logs (created_at);

-- Audio kept for a message's source.
CREATE TABLE blobs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE blobs;
DROP TABLE prompt_logs;
DROP TABLE interactions;
ALTER TABLE messages DROP COLUMN source_blob_id;
ALTER TABLE conversations DROP COLUMN interaction_count;
ALTER TABLE conversations DROP COLUMN engine_state;
ALTER TABLE conversations DROP COLUMN seed;
