-- +goose Up
-- A metric is a question a judge answers about a conversation. What can
-- change in place lives here; its description and value shape live in
-- numbered, immutable versions. A deleted metric stays stored (is_deleted)
-- and can still be read by its ID.
CREATE TABLE metrics (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    value_type          TEXT NOT NULL,
    applied_to_services TEXT NOT NULL DEFAULT '[]',
    additional_notes    TEXT,
    tags                TEXT NOT NULL DEFAULT '[]',
    is_deleted          INTEGER NOT NULL DEFAULT 0,
    creator_org_id      TEXT NOT NULL,
    creator_user_id     TEXT NOT NULL,
    updated_by_org_id   TEXT NOT NULL,
    updated_by_user_id  TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE INDEX metrics_org ON metrics (org_id, created_at);
-- Names are unique among live metrics; a deleted metric frees its name.
CREATE UNIQUE INDEX metrics_live_name ON metrics (org_id, name) WHERE is_deleted = 0;

CREATE TABLE metric_versions (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    metric_id       TEXT NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    description     TEXT NOT NULL,
    metric_value    TEXT NOT NULL,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (metric_id, version)
) STRICT;

-- What search-metrics matches: a metric's name, one row per metric.
CREATE VIRTUAL TABLE metrics_fts USING fts5 (
    metric_id UNINDEXED, name, tokenize = 'porter unicode61'
);

-- +goose Down
DROP TABLE metrics_fts;
DROP TABLE metric_versions;
DROP TABLE metrics;
