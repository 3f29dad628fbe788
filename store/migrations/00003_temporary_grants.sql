-- +goose Up
-- A temporary grant adds one permission grant to a user until expires_at.
-- Grants are never deleted when they expire, nor when their user or creator
-- is deleted: they are the audit trail of who was given what, by whom and why.
CREATE TABLE temporary_permission_grants (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    permission_name TEXT NOT NULL,
    conditions      TEXT NOT NULL DEFAULT '{}',
    tags            TEXT NOT NULL DEFAULT '[]',
    justification   TEXT NOT NULL,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

-- Every authenticated request reads a user's unexpired grants.
CREATE INDEX temporary_permission_grants_user ON temporary_permission_grants (org_id, user_id, expires_at);

-- +goose Down
DROP TABLE temporary_permission_grants;
