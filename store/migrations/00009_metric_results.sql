-- +goose Up
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

-- +goose Down
DROP TABLE metric_evaluation_results;
