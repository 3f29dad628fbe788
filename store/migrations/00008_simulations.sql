-- +goose Up
-- The building blocks of a simulation: personas (simulated users) and
-- scenarios (what they want), each with numbered, immutable versions; unit
-- tests (a persona and a scenario against a service, judged by metrics);
-- and unit test sets (unit tests with run counts). Deletion is soft for all
-- four: a deleted record stays readable by its ID and in lists that ask for
-- deleted records, keeps the references made to it valid, and frees its
-- name, as a deleted metric does.

CREATE TABLE simulation_personas (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    role               TEXT NOT NULL,
    -- A JSON object of tag key to value (string or null).
    tags               TEXT NOT NULL DEFAULT '{}',
    is_deleted         INTEGER NOT NULL DEFAULT 0,
    creator_org_id     TEXT NOT NULL,
    creator_user_id    TEXT NOT NULL,
    updated_by_org_id  TEXT NOT NULL,
    updated_by_user_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE INDEX simulation_personas_org ON simulation_personas (org_id, created_at);
CREATE UNIQUE INDEX simulation_personas_live_name ON simulation_personas (org_id, name) WHERE is_deleted = 0;

CREATE TABLE simulation_persona_versions (
    id                          TEXT PRIMARY KEY,
    org_id                      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    persona_id                  TEXT NOT NULL REFERENCES simulation_personas (id) ON DELETE CASCADE,
    version                     INTEGER NOT NULL,
    background                  TEXT NOT NULL,
    -- NULL: not set; the organization's (then the agent's) language applies.
    preferred_language          TEXT,
    -- NULL: not set; the organization's timezone (then UTC) applies.
    timezone                    TEXT,
    -- JSON array of strings.
    user_models                 TEXT NOT NULL DEFAULT '[]',
    -- JSON objects of variable name to string value.
    nonsensitive_user_variables TEXT NOT NULL DEFAULT '{}',
    sensitive_user_variables    TEXT NOT NULL DEFAULT '{}',
    creator_org_id              TEXT NOT NULL,
    creator_user_id             TEXT NOT NULL,
    created_at                  TEXT NOT NULL,
    UNIQUE (persona_id, version)
) STRICT;

-- What search-simulation-personas matches: the name and the background of
-- the latest version, one row per persona, rewritten with each version.
CREATE VIRTUAL TABLE simulation_personas_fts USING fts5 (
    persona_id UNINDEXED, name, background, tokenize = 'porter unicode61'
);

CREATE TABLE simulation_scenarios (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    tags               TEXT NOT NULL DEFAULT '{}',
    is_deleted         INTEGER NOT NULL DEFAULT 0,
    creator_org_id     TEXT NOT NULL,
    creator_user_id    TEXT NOT NULL,
    updated_by_org_id  TEXT NOT NULL,
    updated_by_user_id TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE INDEX simulation_scenarios_org ON simulation_scenarios (org_id, created_at);
CREATE UNIQUE INDEX simulation_scenarios_live_name ON simulation_scenarios (org_id, name) WHERE is_deleted = 0;

CREATE TABLE simulation_scenario_versions (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scenario_id            TEXT NOT NULL REFERENCES simulation_scenarios (id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,
    objective              TEXT NOT NULL,
    instructions           TEXT NOT NULL,
    -- user-message, external-event or skip.
    initial_message_type   TEXT NOT NULL,
    -- NULL: the conversation starts at the server's time when it runs.
    conversation_starts_at TEXT,
    creator_org_id         TEXT NOT NULL,
    creator_user_id        TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    UNIQUE (scenario_id, version)
) STRICT;

CREATE VIRTUAL TABLE simulation_scenarios_fts USING fts5 (
    scenario_id UNINDEXED, name, tokenize = 'porter unicode61'
);

CREATE TABLE simulation_unit_tests (
    id                       TEXT PRIMARY KEY,
    org_id                   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    description              TEXT NOT NULL,
    service_id               TEXT NOT NULL,
    service_version_set_name TEXT NOT NULL,
    persona_id               TEXT NOT NULL,
    scenario_id              TEXT NOT NULL,
    max_interactions         INTEGER NOT NULL,
    -- JSON array of {name, metric_id, criterion}; json_each over it answers
    -- "which unit tests use this metric".
    success_criterions       TEXT NOT NULL,
    -- JSON array of {key, value}, as the instance carries them.
    tags                     TEXT NOT NULL DEFAULT '[]',
    is_deleted               INTEGER NOT NULL DEFAULT 0,
    creator_org_id           TEXT NOT NULL,
    creator_user_id          TEXT NOT NULL,
    updated_by_org_id        TEXT NOT NULL,
    updated_by_user_id       TEXT NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
) STRICT;

CREATE INDEX simulation_unit_tests_org ON simulation_unit_tests (org_id, created_at);
CREATE INDEX simulation_unit_tests_persona ON simulation_unit_tests (persona_id);
CREATE INDEX simulation_unit_tests_scenario ON simulation_unit_tests (scenario_id);
CREATE UNIQUE INDEX simulation_unit_tests_live_name ON simulation_unit_tests (org_id, name) WHERE is_deleted = 0;

CREATE VIRTUAL TABLE simulation_unit_tests_fts USING fts5 (
    unit_test_id UNINDEXED, name, description, tokenize = 'porter unicode61'
);

CREATE TABLE simulation_unit_test_sets (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    description           TEXT,
    -- JSON array of {unit_test_id, run_count}.
    unit_test_runs        TEXT NOT NULL,
    last_triggered_run_id TEXT,
    tags                  TEXT NOT NULL DEFAULT '[]',
    is_deleted            INTEGER NOT NULL DEFAULT 0,
    creator_org_id        TEXT NOT NULL,
    creator_user_id       TEXT NOT NULL,
    updated_by_org_id     TEXT NOT NULL,
    updated_by_user_id    TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;

CREATE INDEX simulation_unit_test_sets_org ON simulation_unit_test_sets (org_id, created_at);
CREATE UNIQUE INDEX simulation_unit_test_sets_live_name ON simulation_unit_test_sets (org_id, name) WHERE is_deleted = 0;

CREATE VIRTUAL TABLE simulation_unit_test_sets_fts USING fts5 (
    unit_test_set_id UNINDEXED, name, description, tokenize = 'porter unicode61'
);

-- +goose Down
DROP TABLE simulation_unit_test_sets_fts;
DROP TABLE simulation_unit_test_sets;
DROP TABLE simulation_unit_tests_fts;
DROP TABLE simulation_unit_tests;
DROP TABLE simulation_scenarios_fts;
DROP TABLE simulation_scenario_versions;
DROP TABLE simulation_scenarios;
DROP TABLE simulation_personas_fts;
DROP TABLE simulation_persona_versions;
DROP TABLE simulation_personas;
