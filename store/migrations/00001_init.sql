-- +goose Up
-- Times are stored as fixed-width UTC text (2006-01-02T15:04:05.000000Z) so that
-- they sort and compare correctly as strings and stay readable in a backup.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE organizations (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    tenant_id                TEXT,
    default_user_preferences TEXT NOT NULL,
    user_dimensions          TEXT NOT NULL DEFAULT '[]',
    logo                     BLOB,
    square_logo              BLOB,
    favicon                  BLOB,
    azure_devops_team_name   TEXT,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
) STRICT;

CREATE TABLE roles (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL,
    frontend_view     TEXT NOT NULL,
    permission_grants TEXT NOT NULL,
    builtin           INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    first_name            TEXT NOT NULL,
    last_name             TEXT NOT NULL,
    email                 TEXT NOT NULL COLLATE NOCASE,
    role_id               TEXT NOT NULL REFERENCES roles (id),
    preferences           TEXT NOT NULL,
    additional_context    TEXT NOT NULL DEFAULT '[]',
    enable_actions_access INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    UNIQUE (org_id, email)
) STRICT;

CREATE INDEX users_org_role ON users (org_id, role_id);

-- Secret values are sealed (AES-GCM) before they reach this table.
CREATE TABLE user_variables (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    is_secret INTEGER NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (user_id, name)
) STRICT;

-- Only an argon2id hash of each key's secret is kept.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL UNIQUE,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT,
    secret_hash     TEXT NOT NULL,
    role_id         TEXT NOT NULL REFERENCES roles (id),
    creator_user_id TEXT NOT NULL,
    creator_org_id  TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
) STRICT;

CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE user_variables;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE organizations;
DROP TABLE settings;
