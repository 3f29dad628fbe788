-- +goose Up
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

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_destinations;
