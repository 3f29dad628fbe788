-- +goose Up
-- Agents, context graphs (service hierarchical state machines) and dynamic
-- behavior sets are records with numbered, immutable versions. A version's
-- content is stored as one JSON document (body): it is written once, read
-- whole, and never queried by its inner fields.

-- Deleting an agent or state machine marks it deprecated: conversations and
-- services keep naming it. Names are unique among live records.
CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    deprecated      INTEGER NOT NULL DEFAULT 0,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX agents_live_name ON agents (org_id, name) WHERE deprecated = 0;

CREATE TABLE agent_versions (
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    body            TEXT NOT NULL,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
) STRICT;

CREATE TABLE state_machines (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    deprecated      INTEGER NOT NULL DEFAULT 0,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX state_machines_live_name ON state_machines (org_id, name) WHERE deprecated = 0;

CREATE TABLE state_machine_versions (
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    state_machine_id TEXT NOT NULL REFERENCES state_machines (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    body             TEXT NOT NULL,
    creator_org_id   TEXT NOT NULL,
    creator_user_id  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (state_machine_id, version)
) STRICT;

-- A service pairs an agent with a state machine. Only one active service may
-- carry a given name.
CREATE TABLE services (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    is_active          INTEGER NOT NULL,
    agent_id           TEXT NOT NULL,
    state_machine_id   TEXT NOT NULL,
    tags               TEXT NOT NULL DEFAULT '{}',
    keyterms           TEXT NOT NULL DEFAULT '[]',
    creator_org_id     TEXT NOT NULL,
    creator_user_id    TEXT NOT NULL,
    updated_by_org_id  TEXT NOT NULL,
    updated_by_user_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX services_active_name ON services (org_id, name) WHERE is_active = 1;
CREATE INDEX services_org ON services (org_id, created_at);

-- A version set pins the agent and state machine versions (NULL: the latest)
-- and model preferences a service's conversations use.
CREATE TABLE service_version_sets (
    service_id            TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    agent_version         INTEGER,
    state_machine_version INTEGER,
    llm_model_preferences TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    PRIMARY KEY (service_id, name)
) STRICT;

CREATE TABLE dynamic_behavior_sets (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    is_active           INTEGER NOT NULL,
    applied_to_services TEXT NOT NULL DEFAULT '[]',
    tags                TEXT NOT NULL DEFAULT '[]',
    creator_org_id      TEXT NOT NULL,
    creator_user_id     TEXT NOT NULL,
    updated_by_org_id   TEXT NOT NULL,
    updated_by_user_id  TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE INDEX dynamic_behavior_sets_org ON dynamic_behavior_sets (org_id, created_at);
-- Only one active set may carry a given name; inactive ones may share it.
CREATE UNIQUE INDEX dynamic_behavior_sets_active_name ON dynamic_behavior_sets (org_id, name) WHERE is_active = 1;

CREATE TABLE dynamic_behavior_set_versions (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    set_id          TEXT NOT NULL REFERENCES dynamic_behavior_sets (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    body            TEXT NOT NULL,
    creator_org_id  TEXT NOT NULL,
    creator_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (set_id, version)
) STRICT;

-- What search-dynamic-behavior-sets matches: a set's name and the
-- conversation triggers of its newest version, one row per set, kept in step
-- by the store in the transaction that changes either.
CREATE VIRTUAL TABLE dynamic_behavior_sets_fts USING fts5 (
    set_id UNINDEXED, name, conversation_triggers, tokenize = 'porter unicode61'
);

-- An invocation records that one version of a dynamic behavior set fired in
-- a conversation. The conversation engine writes them; body holds the
-- message IDs it names.
CREATE TABLE dynamic_behavior_invocations (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    set_id          TEXT NOT NULL,
    set_version     INTEGER NOT NULL,
    body            TEXT NOT NULL,
    invoked_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE INDEX dynamic_behavior_invocations_set ON dynamic_behavior_invocations (org_id, set_id, invoked_at);

-- A conversation runs one service's version set, resolved to concrete agent
-- and state machine versions when it is created.
CREATE TABLE conversations (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL,
    service_id            TEXT NOT NULL,
    version_set_name      TEXT NOT NULL,
    agent_id              TEXT NOT NULL,
    agent_version         INTEGER NOT NULL,
    state_machine_id      TEXT NOT NULL,
    state_machine_version INTEGER NOT NULL,
    llm_model_preferences TEXT NOT NULL DEFAULT '{}',
    tags                  TEXT NOT NULL DEFAULT '{}',
    is_finished           INTEGER NOT NULL DEFAULT 0,
    final_message         TEXT,
    finished_at           TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;

CREATE INDEX conversations_org ON conversations (org_id, created_at);
CREATE INDEX conversations_user ON conversations (org_id, user_id, created_at);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    interaction_id  TEXT NOT NULL,
    sender          TEXT NOT NULL,
    message         TEXT NOT NULL,
    format          TEXT NOT NULL,
    message_type    TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

-- +goose Down
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE dynamic_behavior_invocations;
DROP TABLE dynamic_behavior_sets_fts;
DROP TABLE dynamic_behavior_set_versions;
DROP TABLE dynamic_behavior_sets;
DROP TABLE service_version_sets;
DROP TABLE services;
DROP TABLE state_machine_versions;
DROP TABLE state_machines;
DROP TABLE agent_versions;
DROP TABLE agents;
