-- +goose Up
-- Post-conversation processing: when a conversation finishes, one job per
-- step is queued in the same transaction; a background worker runs them,
-- and each finished step is recorded on the conversation and announced to
-- webhook destinations in one transaction. What the steps learn about the
-- user is kept as user models and memories.

ALTER TABLE conversations ADD COLUMN completed_post_processings TEXT NOT NULL DEFAULT '[]';

CREATE TABLE post_processing_jobs (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    -- generate-user-models, extract-memories or compute-metrics.
    step            TEXT NOT NULL,
    -- pending, done or failed (after its last attempt).
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    -- A worker running the step holds it until then.
    leased_until    TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, step)
) STRICT;

CREATE INDEX post_processing_jobs_pending ON post_processing_jobs (created_at) WHERE status = 'pending';

CREATE TABLE user_models (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    content         TEXT NOT NULL,
    -- JSON arrays: the reference's dimensions and insight IDs.
    dimensions      TEXT NOT NULL DEFAULT '[]',
    insight_ids     TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX user_models_user ON user_models (org_id, user_id, created_at);

CREATE TABLE memories (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    content         TEXT NOT NULL,
    context         TEXT NOT NULL,
    -- JSON array of the message IDs the memory rests on.
    refs            TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX memories_user ON memories (org_id, user_id, created_at);

-- +goose Down
DROP TABLE memories;
DROP TABLE user_models;
DROP TABLE post_processing_jobs;
ALTER TABLE conversations DROP COLUMN completed_post_processings;
