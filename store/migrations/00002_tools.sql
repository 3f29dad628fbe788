-- +goose Up
-- Tools are never deleted, only deprecated; a deprecated tool's name may be
-- used again, so names are unique only among live tools.
CREATE TABLE tools (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    tags               TEXT NOT NULL DEFAULT '[]',
    deprecated         INTEGER NOT NULL DEFAULT 0,
    -- last_commit is the newest commit published; older ones are refused.
    last_commit        TEXT,
    creator_org_id     TEXT NOT NULL,
    creator_user_id    TEXT NOT NULL,
    updated_by_org_id  TEXT NOT NULL,
    updated_by_user_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX tools_live_name ON tools (org_id, name) WHERE deprecated = 0;
CREATE INDEX tools_org ON tools (org_id, created_at);

-- Secret values are sealed (AES-GCM) before they reach this table. A deleted
-- variable keeps its row, without a value, until its name may be reused.
CREATE TABLE tool_envvars (
    tool_id    TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    is_secret  INTEGER NOT NULL,
    value      BLOB,
    deleted_at TEXT,
    PRIMARY KEY (tool_id, name)
) STRICT;

CREATE TABLE tool_versions (
    id                      TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_id                 TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    major                   INTEGER NOT NULL,
    minor                   INTEGER NOT NULL,
    patch                   INTEGER NOT NULL,
    required_envvars        TEXT NOT NULL,
    required_secret_envvars TEXT NOT NULL,
    input_schema            TEXT NOT NULL,
    entrypoint              TEXT NOT NULL,
    tool_repo               TEXT NOT NULL,
    tool_commit_hash        TEXT NOT NULL,
    scaffold_hash           TEXT NOT NULL,
    project_directory       TEXT NOT NULL,
    lambda_version          INTEGER NOT NULL,
    deprecated              INTEGER NOT NULL DEFAULT 0,
    creator_org_id          TEXT NOT NULL,
    creator_user_id         TEXT NOT NULL,
    updated_by_org_id       TEXT NOT NULL,
    updated_by_user_id      TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    UNIQUE (tool_id, major, minor, patch)
) STRICT;

-- A version's files are the snapshot it runs: written once at publish and
-- never changed, whatever later happens to the git repository.
CREATE TABLE tool_version_files (
    version_id TEXT NOT NULL REFERENCES tool_versions (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    content    BLOB NOT NULL,
    PRIMARY KEY (version_id, path)
) STRICT;

-- +goose StatementBegin
CREATE TRIGGER tool_version_files_immutable BEFORE UPDATE ON tool_version_files
BEGIN
    SELECT RAISE(ABORT, 'tool version files are immutable');
END;
-- +goose StatementEnd

CREATE TABLE tool_invocations (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_id               TEXT NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
    version_id            TEXT NOT NULL,
    major                 INTEGER NOT NULL,
    minor                 INTEGER NOT NULL,
    patch                 INTEGER NOT NULL,
    source_type           TEXT NOT NULL,
    user_id               TEXT,
    conversation_id       TEXT,
    interaction_id        TEXT,
    simulation_run_id     TEXT,
    unit_test_id          TEXT,
    run_index             INTEGER,
    invocation_metadata   TEXT,
    inputs                TEXT NOT NULL,
    succeeded             INTEGER NOT NULL,
    output                TEXT NOT NULL DEFAULT '',
    exception_type        TEXT NOT NULL DEFAULT '',
    exception_message     TEXT NOT NULL DEFAULT '',
    exception_stack_trace TEXT NOT NULL DEFAULT '',
    logs                  TEXT NOT NULL DEFAULT '[]',
    duration_ms           INTEGER NOT NULL,
    created_at            TEXT NOT NULL
) STRICT;

CREATE INDEX tool_invocations_org ON tool_invocations (org_id, created_at);
CREATE INDEX tool_invocations_tool ON tool_invocations (tool_id, created_at);

-- Full-text index over what a failing or succeeding run said. Invocations
-- are never updated, so inserts and deletes keep it in step.
CREATE VIRTUAL TABLE tool_invocations_fts USING fts5 (
    output, exception_type, exception_message, exception_stack_trace, logs,
    content = 'tool_invocations', content_rowid = 'rowid'
);

-- +goose StatementBegin
CREATE TRIGGER tool_invocations_fts_insert AFTER INSERT ON tool_invocations
BEGIN
    INSERT INTO tool_invocations_fts (rowid, output, exception_type, exception_message, exception_stack_trace, logs)
    VALUES (new.rowid, new.output, new.exception_type, new.exception_message, new.exception_stack_trace, new.logs);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tool_invocations_fts_delete AFTER DELETE ON tool_invocations
BEGIN
    INSERT INTO tool_invocations_fts (tool_invocations_fts, rowid, output, exception_type, exception_message,
        exception_stack_trace, logs)
    VALUES ('delete', old.rowid, old.output, old.exception_type, old.exception_message,
        old.exception_stack_trace, old.logs);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tool_invocations_fts_delete;
DROP TRIGGER tool_invocations_fts_insert;
DROP TABLE tool_invocations_fts;
DROP TABLE tool_invocations;
DROP TRIGGER tool_version_files_immutable;
DROP TABLE tool_version_files;
DROP TABLE tool_versions;
DROP TABLE tool_envvars;
DROP TABLE tools;
