-- +goose Up
-- When an API key's coming expiration was announced to webhook
-- destinations (api-key-expiration-soon), so it is announced once.
ALTER TABLE api_keys ADD COLUMN expiration_announced_at TEXT;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expiration_announced_at;
