-- Compadre's schema as one readable file.
--
-- The goose migrations in store/migrations are the source of truth; this file
-- mirrors the schema they produce, and store/schema_test.go fails if the two
-- disagree. Change a migration (a new one, never a merged one) and this file
-- together.
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
    expires_at      TEXT NOT NULL,
    expiration_announced_at TEXT
) STRICT;

CREATE INDEX api_keys_org ON api_keys (org_id, created_at);

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

CREATE TRIGGER tool_version_files_immutable BEFORE UPDATE ON tool_version_files
BEGIN
    SELECT RAISE(ABORT, 'tool version files are immutable');
END;

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

CREATE TRIGGER tool_invocations_fts_insert AFTER INSERT ON tool_invocations
BEGIN
    INSERT INTO tool_invocations_fts (rowid, output, exception_type, exception_message, exception_stack_trace, logs)
    VALUES (new.rowid, new.output, new.exception_type, new.exception_message, new.exception_stack_trace, new.logs);
END;

CREATE TRIGGER tool_invocations_fts_delete AFTER DELETE ON tool_invocations
BEGIN
    INSERT INTO tool_invocations_fts (tool_invocations_fts, rowid, output, exception_type, exception_message,
        exception_stack_trace, logs)
    VALUES ('delete', old.rowid, old.output, old.exception_type, old.exception_message,
        old.exception_stack_trace, old.logs);
END;

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
    updated_at            TEXT NOT NULL,
    seed                  INTEGER NOT NULL DEFAULT 0,
    engine_state          TEXT NOT NULL DEFAULT '{}',
    interaction_count     INTEGER NOT NULL DEFAULT 0,
    num_messages          INTEGER NOT NULL DEFAULT 0,
    simulation_run_id     TEXT,
    completed_post_processings TEXT NOT NULL DEFAULT '[]'
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
    created_at      TEXT NOT NULL,
    source_blob_id  TEXT
) STRICT;

CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

-- The conversation engine's records. A conversation keeps the engine's own
-- state (where in its context graphs it is) and a seed its model calls
-- use; every interaction is written whole, with its messages, in one
-- transaction, so a failed or abandoned one leaves nothing behind.

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


-- What a judge answered about a conversation for one metric version. The
-- source says why it was asked: manual (evaluate-metrics), post-session
-- (after a conversation finished) or simulation (one run of a unit test).
CREATE TABLE metric_evaluation_results (
    id                         TEXT PRIMARY KEY,
    org_id                     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    metric_id                  TEXT NOT NULL REFERENCES metrics (id) ON DELETE CASCADE,
    metric_version             INTEGER NOT NULL,
    -- JSON: a boolean, a number, a category, or null for "not applicable".
    result                     TEXT NOT NULL,
    justification              TEXT NOT NULL,
    -- JSON array of the IDs of the messages the judge read.
    message_references         TEXT NOT NULL DEFAULT '[]',
    source_type                TEXT NOT NULL,
    -- manual and post-session sources.
    conversation_id            TEXT,
    -- manual sources.
    evaluate_to_interaction_id TEXT,
    invoked_by_org_id          TEXT,
    invoked_by_user_id         TEXT,
    -- simulation sources.
    simulation_run_id          TEXT,
    unit_test_id               TEXT,
    run_index                  INTEGER,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
) STRICT;

CREATE INDEX metric_evaluation_results_org ON metric_evaluation_results (org_id, created_at);
CREATE INDEX metric_evaluation_results_conversation ON metric_evaluation_results (conversation_id);
CREATE INDEX metric_evaluation_results_run ON metric_evaluation_results (simulation_run_id);
-- A later manual evaluation of a conversation for a metric replaces the
-- earlier one, whatever interaction it stopped at.
CREATE UNIQUE INDEX metric_evaluation_results_manual
    ON metric_evaluation_results (conversation_id, metric_id) WHERE source_type = 'manual';

-- A run of a simulation unit test set, and its work: one item per unit
-- test and run index, each a simulated conversation judged by the unit
-- test's metrics. Items are the queue the run's workers take work from,
-- so a run survives a restart: an item that was running when the server
-- stopped is run again from its start.
CREATE TABLE simulation_runs (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    unit_test_set_id    TEXT NOT NULL,
    creator_org_id      TEXT NOT NULL,
    creator_user_id     TEXT NOT NULL,
    -- JSON array of the unit test run specs, pinned when the run was made.
    specs               TEXT NOT NULL,
    is_completed        INTEGER NOT NULL DEFAULT 0,
    failed_metrics      INTEGER NOT NULL DEFAULT 0,
    errored             INTEGER NOT NULL DEFAULT 0,
    artifacts_generated INTEGER NOT NULL DEFAULT 0,
    -- Set by cancel; workers stop the run's items at their next step.
    cancelled           INTEGER NOT NULL DEFAULT 0,
    artifacts_blob_id   TEXT,
    created_at          TEXT NOT NULL,
    completed_at        TEXT
) STRICT;

CREATE INDEX simulation_runs_org ON simulation_runs (org_id, created_at);
-- A user has at most one unfinished run of a set.
CREATE UNIQUE INDEX simulation_runs_unfinished
    ON simulation_runs (org_id, unit_test_set_id, creator_user_id) WHERE is_completed = 0;

CREATE TABLE simulation_run_items (
    run_id          TEXT NOT NULL REFERENCES simulation_runs (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    -- The index of the unit test's spec in the run's specs.
    spec_index      INTEGER NOT NULL,
    unit_test_id    TEXT NOT NULL,
    run_index       INTEGER NOT NULL,
    -- pending, running, done or stopped (cancelled before it finished).
    status          TEXT NOT NULL DEFAULT 'pending',
    conversation_id TEXT,
    -- Why the run of the unit test failed to run or to finish; NULL if it
    -- did not.
    error           TEXT,
    -- JSON array of {metric_id, metric_version, result_id, passed}.
    criteria        TEXT NOT NULL DEFAULT '[]',
    attempts        INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT,
    finished_at     TEXT,
    PRIMARY KEY (run_id, spec_index, run_index)
) STRICT;

CREATE INDEX simulation_run_items_pending ON simulation_run_items (status, run_id);

-- Webhook destinations and the outbox of their deliveries. A delivery row
-- is written in the transaction of the change that causes its event, one
-- per destination accepting the event's type, and a background worker
-- sends it, retrying on the documented schedule; each attempt is appended
-- to the row. Rows are kept 30 days.

CREATE TABLE webhook_destinations (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    -- JSON array of webhook types.
    accepted_types        TEXT NOT NULL,
    -- Retries after the first attempt.
    retry_attempts        INTEGER NOT NULL,
    -- Sealed with the data directory's sealing key, labelled with the ID.
    secret                BLOB NOT NULL,
    -- The secret before the last rotation, which signs too until
    -- dual_signing_stops_at.
    previous_secret       BLOB,
    dual_signing_stops_at TEXT,
    secret_generated_at   TEXT NOT NULL,
    created_at            TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_destinations_org ON webhook_destinations (org_id, created_at);

CREATE TABLE webhook_deliveries (
    -- Also the idempotency key every attempt carries.
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    destination_id  TEXT NOT NULL REFERENCES webhook_destinations (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    -- The JSON body sent.
    content         TEXT NOT NULL,
    -- success, or failed (also while retries remain: next_attempt_at says).
    status          TEXT NOT NULL DEFAULT 'failed',
    -- JSON array of {delivery_time, status_code}.
    attempts        TEXT NOT NULL DEFAULT '[]',
    -- When the next attempt is due; NULL once none remains.
    next_attempt_at TEXT,
    -- A worker sending the delivery holds it until then.
    leased_until    TEXT,
    dual_signed     INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_destination ON webhook_deliveries (destination_id, created_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Post-conversation processing: when a conversation finishes, one job per
-- step is queued in the same transaction; a background worker runs them,
-- and each finished step is recorded on the conversation and announced to
-- webhook destinations in one transaction. What the steps learn about the
-- user is kept as user models and memories.

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

-- Sign-in links asked for with sign-in-with-email. Every request writes one
-- row, whether or not its email belongs to a user, so a known and an unknown
-- email cost the same. Only the SHA-256 of a link's token is kept; the token
-- is derived from the row's ID under the token-signing key when its mail is
-- composed. A row without a user can never be exchanged and is never mailed.
-- Exchanging a link opens a session: the tokens it issues name the row, and
-- stop working when the row or its user is deleted.

CREATE TABLE sign_in_links (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- As asked for, its ASCII letters lowercased.
    email              TEXT NOT NULL,
    -- The verified user the email belonged to when asked; NULL if none.
    user_id            TEXT REFERENCES users (id) ON DELETE CASCADE,
    -- Lowercase hex SHA-256 of the token.
    token_hash         TEXT NOT NULL UNIQUE,
    redirect_link      TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    -- When the link was exchanged, and until when the session it opened lasts.
    used_at            TEXT,
    session_expires_at TEXT,
    -- none (no user), pending, sent, or failed (after its last attempt).
    mail_status        TEXT NOT NULL,
    mail_attempts      INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt is due; NULL once none remains.
    mail_next_at       TEXT,
    -- A worker sending the mail holds it until then.
    mail_leased_until  TEXT
) STRICT;

CREATE INDEX sign_in_links_mail_due ON sign_in_links (mail_next_at) WHERE mail_next_at IS NOT NULL;
CREATE INDEX sign_in_links_user ON sign_in_links (user_id);
CREATE INDEX sign_in_links_expires ON sign_in_links (expires_at);
