-- +goose Up
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

-- +goose Down
DROP TABLE sign_in_links;
