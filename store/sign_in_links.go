package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The states of a sign-in link's mail.
const (
	// SignInMailNone: the email belonged to no verified user; nothing is sent.
	SignInMailNone = "none"
	// SignInMailPending: the mail is to be sent (again, after a failure).
	SignInMailPending = "pending"
	SignInMailSent    = "sent"
	// SignInMailFailed: every attempt failed, or the link expired first.
	SignInMailFailed = "failed"
)

// NewSignInLink is a sign-in link to record.
type NewSignInLink struct {
	// ID is random: the link's token is derived from it.
	ID           string
	OrgID        string
	Email        string
	TokenHash    string
	RedirectLink string
	// TTL is how long after its creation the link can be exchanged.
	TTL time.Duration
}

// CreateSignInLink records a sign-in link asked for email. If the email is a
// verified user's of the organization (every user is: see DECISIONS.md, "Why
// is there no invitation flow?"), the link names the user and its mail is
// due at once; otherwise it names nobody, can never be exchanged, and is not
// mailed. Either way it is the same one statement, and the caller is not
// told which it was, so it cannot answer differently.
//
// It does not empty the per-request cache: a new link changes no principal.
func (s *Store) CreateSignInLink(ctx context.Context, l NewSignInLink) error {
	created := s.now()
	now := formatTime(created)
	const q = `INSERT INTO sign_in_links (id, org_id, email, user_id, token_hash, redirect_link, created_at, expires_at,
		mail_status, mail_next_at)
		SELECT ?, ?, ?, uid, ?, ?, ?, ?, IIF(uid IS NULL, 'none', 'pending'), IIF(uid IS NULL, NULL, ?)
		FROM (SELECT (SELECT id FROM users WHERE org_id = ? AND email = ?) AS uid)`
	_, err := s.write.ExecContext(ctx, q, l.ID, l.OrgID, l.Email, l.TokenHash, l.RedirectLink, now,
		formatTime(created.Add(l.TTL)), now, l.OrgID, l.Email)
	if err != nil {
		return fmt.Errorf("store: create sign-in link: %w", err)
	}
	return nil
}

// ExchangeSignInLink uses the organization's link whose token has the given
// hash: it must be unused, unexpired, and name a user who still exists with
// the email the link was sent to. open is given the link and its user and
// returns until when the session it opens lasts; the link is then used, in
// the same transaction, so it opens one session at most. Any link that does
// not qualify is the same *NotFoundError.
func (s *Store) ExchangeSignInLink(ctx context.Context, orgID, tokenHash string,
	open func(linkID, userID string) (time.Time, error)) error {
	now := s.now()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id, userID string
		err := tx.QueryRowContext(ctx, `SELECT l.id, l.user_id FROM sign_in_links l
			JOIN users u ON u.id = l.user_id AND u.org_id = l.org_id AND u.email = l.email
			WHERE l.org_id = ? AND l.token_hash = ? AND l.used_at IS NULL AND l.expires_at > ?`,
			orgID, tokenHash, formatTime(now)).Scan(&id, &userID)
		if errors.Is(err, sql.ErrNoRows) {
			return missing(KindSignInLink, "")
		}
		if err != nil {
			return fmt.Errorf("store: exchange sign-in link: %w", err)
		}
		until, err := open(id, userID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sign_in_links SET used_at = ?, session_expires_at = ? WHERE id = ?`,
			formatTime(now), formatTime(until), id); err != nil {
			return fmt.Errorf("store: exchange sign-in link: %w", err)
		}
		return nil
	})
}

// signInPrincipalQuery is the principal query over the session a sign-in
// link opened.
const signInPrincipalQuery = principalSelect + `JOIN (SELECT id, org_id, user_id, session_expires_at AS expires_at
		FROM sign_in_links WHERE session_expires_at IS NOT NULL) k
		ON k.org_id = u.org_id AND k.user_id = u.id AND k.id = ?` + principalWhere

// SignInPrincipal is Principal for a token a sign-in link issued: the user,
// with the session's end as KeyExpiresAt. A user, link or session that no
// longer exists is ErrNotFound.
func (s *Store) SignInPrincipal(ctx context.Context, orgID, userID, linkID string) (Principal, error) {
	// API key IDs are UUIDs, so the prefix keeps the two kinds apart in
	// the cache.
	return s.principal(principalKey{orgID, userID, "sign-in link " + linkID}, func(now time.Time) (Principal, time.Time, error) {
		at := formatTime(now)
		return s.scanPrincipal(s.read.QueryRowContext(ctx, signInPrincipalQuery, at, at, linkID, orgID, userID), orgID, userID)
	})
}

// SignInLink is a recorded sign-in link (never its token).
type SignInLink struct {
	ID           string
	OrgID        string
	Email        string
	UserID       *string
	RedirectLink string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time
	MailStatus   string
	MailAttempts int
}

// ListSignInLinks returns the organization's links asked for email, oldest
// first.
func (s *Store) ListSignInLinks(ctx context.Context, orgID, email string) ([]SignInLink, error) {
	links, err := queryAll(ctx, s.read, func(row interface{ Scan(...any) error }) (SignInLink, error) {
		var l SignInLink
		var created, expires string
		var used *string
		if err := row.Scan(&l.ID, &l.OrgID, &l.Email, &l.UserID, &l.RedirectLink, &created, &expires, &used,
			&l.MailStatus, &l.MailAttempts); err != nil {
			return l, err
		}
		var err error
		if l.CreatedAt, err = parseTime(created); err != nil {
			return l, err
		}
		if l.ExpiresAt, err = parseTime(expires); err != nil {
			return l, err
		}
		if used != nil {
			t, err := parseTime(*used)
			if err != nil {
				return l, err
			}
			l.UsedAt = &t
		}
		return l, nil
	}, `SELECT id, org_id, email, user_id, redirect_link, created_at, expires_at, used_at, mail_status, mail_attempts
		FROM sign_in_links WHERE org_id = ? AND email = ? ORDER BY created_at, id`, orgID, email)
	if err != nil {
		return nil, fmt.Errorf("store: list sign-in links: %w", err)
	}
	return links, nil
}

// SignInMail is a sign-in link whose mail is due, with what the mail says.
type SignInMail struct {
	LinkID           string
	OrgID            string
	OrganizationName string
	Email            string
	FirstName        string
	RedirectLink     string
	ExpiresAt        time.Time
	// Attempts is how many attempts were made before this one.
	Attempts int
}

// ClaimSignInMails leases up to limit links whose mail is due at now for
// lease, so no other worker sends them meanwhile; one whose worker stopped
// mid-send is due again when its lease ends.
func (s *Store) ClaimSignInMails(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]SignInMail, error) {
	at := formatTime(now)
	if found, err := s.anyRow(ctx, `SELECT 1 FROM sign_in_links WHERE mail_next_at IS NOT NULL AND mail_next_at <= ?
		AND (mail_leased_until IS NULL OR mail_leased_until <= ?) LIMIT 1`, at, at); err != nil || !found {
		return nil, err
	}
	var out []SignInMail
	// Claiming changes no principal, so the per-request cache is kept.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: claim sign-in mails: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	out, err = queryAll(ctx, tx, func(row interface{ Scan(...any) error }) (SignInMail, error) {
		var m SignInMail
		var expires string
		if err := row.Scan(&m.LinkID, &m.OrgID, &m.OrganizationName, &m.Email, &m.FirstName, &m.RedirectLink,
			&expires, &m.Attempts); err != nil {
			return m, err
		}
		var err error
		m.ExpiresAt, err = parseTime(expires)
		return m, err
	}, `SELECT l.id, l.org_id, o.name, l.email, u.first_name, l.redirect_link, l.expires_at, l.mail_attempts
		FROM sign_in_links l
		JOIN users u ON u.id = l.user_id
		JOIN organizations o ON o.id = l.org_id
		WHERE l.mail_next_at IS NOT NULL AND l.mail_next_at <= ? AND (l.mail_leased_until IS NULL OR l.mail_leased_until <= ?)
		ORDER BY l.mail_next_at, l.id LIMIT ?`, at, at, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim sign-in mails: %w", err)
	}
	for _, m := range out {
		if _, err := tx.ExecContext(ctx, `UPDATE sign_in_links SET mail_leased_until = ? WHERE id = ?`,
			formatTime(now.Add(lease)), m.LinkID); err != nil {
			return nil, fmt.Errorf("store: claim sign-in mails: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: claim sign-in mails: %w", err)
	}
	return out, nil
}

// RecordSignInMail counts an attempt at a link's mail and sets what
// follows: sent, another attempt at next, or (next nil) failed for good.
func (s *Store) RecordSignInMail(ctx context.Context, linkID string, sent bool, next *time.Time) error {
	status, nextAt := SignInMailFailed, (*string)(nil)
	switch {
	case sent:
		status = SignInMailSent
	case next != nil:
		status = SignInMailPending
		t := formatTime(*next)
		nextAt = &t
	}
	_, err := s.write.ExecContext(ctx, `UPDATE sign_in_links SET mail_attempts = mail_attempts + 1, mail_status = ?,
		mail_next_at = ?, mail_leased_until = NULL WHERE id = ?`, status, nextAt, linkID)
	if err != nil {
		return fmt.Errorf("store: record sign-in mail: %w", err)
	}
	return nil
}

// ReleaseSignInMailLeases frees the mails a stopped process was sending, so
// they are sent at once rather than when their lease ends. One process
// serves a data directory, so at its start no lease is live.
func (s *Store) ReleaseSignInMailLeases(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `UPDATE sign_in_links SET mail_leased_until = NULL WHERE mail_leased_until IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("store: release sign-in mail leases: %w", err)
	}
	return nil
}

// NextSignInMail is when the earliest mail not leased is due, if any is
// waiting.
func (s *Store) NextSignInMail(ctx context.Context) (time.Time, bool, error) {
	var next *string
	err := s.read.QueryRowContext(ctx, `SELECT MIN(MAX(mail_next_at, COALESCE(mail_leased_until, ''))) FROM sign_in_links
		WHERE mail_next_at IS NOT NULL`).Scan(&next)
	if err != nil || next == nil {
		return time.Time{}, false, err
	}
	t, err := parseTime(*next)
	return t, err == nil, err
}

// PruneSignInLinks deletes the links that expired before before, and whose
// session (if any) ended before it too, unless their mail is still to be
// tried. It returns how many it deleted.
func (s *Store) PruneSignInLinks(ctx context.Context, before time.Time) (int64, error) {
	at := formatTime(before)
	res, err := s.write.ExecContext(ctx, `DELETE FROM sign_in_links WHERE expires_at < ? AND mail_next_at IS NULL
		AND (session_expires_at IS NULL OR session_expires_at < ?)`, at, at)
	if err != nil {
		return 0, fmt.Errorf("store: prune sign-in links: %w", err)
	}
	return res.RowsAffected()
}
