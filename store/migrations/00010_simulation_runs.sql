-- +goose Up
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

-- Conversations a simulation had with a simulated user: kept with the
-- engine's records like any other, but listed only in the run's artifacts.
ALTER TABLE conversations ADD COLUMN simulation_run_id TEXT;

-- +goose Down
ALTER TABLE conversations DROP COLUMN simulation_run_id;
DROP TABLE simulation_run_items;
DROP TABLE simulation_runs;
