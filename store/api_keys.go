package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MaxAPIKeys is how many unexpired API keys an organization may hold.
const MaxAPIKeys = 20

// APIKey is an organization's API key. KeyID is its public identifier;
// SecretHash is the argon2id hash of its secret.
type APIKey struct {
	ID            string
	KeyID         string
	OrgID         string
	Name          *string
	SecretHash    string
	RoleID        string
	CreatorUserID string
	CreatorOrgID  string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ExpiresAt     time.Time
}

// CreateAPIKey stores a new key. An organization already holding MaxAPIKeys
// unexpired keys gets a *RuleError.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = s.createAPIKey(ctx, tx, k)
		return err
	})
	return k, err
}

func (s *Store) createAPIKey(ctx context.Context, tx *sql.Tx, k APIKey) (APIKey, error) {
	now := s.now()
	var n int
	const count = `SELECT COUNT(*) FROM api_keys WHERE org_id = ? AND expires_at > ?`
	if err := tx.QueryRowContext(ctx, count, k.OrgID, formatTime(now)).Scan(&n); err != nil {
		return APIKey{}, fmt.Errorf("store: count api keys: %w", err)
	}
	if n >= MaxAPIKeys {
		return APIKey{}, &RuleError{Refusal{Rule: RuleLimit, Of: "API keys", Limit: MaxAPIKeys}, nil}
	}
	k.ID = NewID()
	k.CreatedAt, k.UpdatedAt = now, now
	const q = `INSERT INTO api_keys (id, key_id, org_id, name, secret_hash, role_id, creator_user_id,
		creator_org_id, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := tx.ExecContext(ctx, q, k.ID, k.KeyID, k.OrgID, k.Name, k.SecretHash, k.RoleID, k.CreatorUserID,
		k.CreatorOrgID, formatTime(now), formatTime(now), formatTime(k.ExpiresAt))
	if isUniqueViolation(err) {
		return APIKey{}, &ConflictError{Refusal{Rule: RuleIDTaken, Kind: KindAPIKey, ID: k.KeyID}}
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key: %w", err)
	}
	return k, nil
}

const apiKeyColumns = `id, key_id, org_id, name, secret_hash, role_id, creator_user_id, creator_org_id,
	created_at, updated_at, expires_at`

func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var created, updated, expires string
	if err := row.Scan(&k.ID, &k.KeyID, &k.OrgID, &k.Name, &k.SecretHash, &k.RoleID, &k.CreatorUserID,
		&k.CreatorOrgID, &created, &updated, &expires); err != nil {
		return APIKey{}, err
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return APIKey{}, err
	}
	if k.UpdatedAt, err = parseTime(updated); err != nil {
		return APIKey{}, err
	}
	if k.ExpiresAt, err = parseTime(expires); err != nil {
		return APIKey{}, err
	}
	return k, nil
}

// GetAPIKey returns the organization's key with the given public key ID.
func (s *Store) GetAPIKey(ctx context.Context, orgID, keyID string) (APIKey, error) {
	q := `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE org_id = ? AND key_id = ?`
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, q, orgID, keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, missing(KindAPIKey, keyID)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: get api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns the organization's keys, expired ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string) ([]APIKey, error) {
	q := `SELECT ` + apiKeyColumns + ` FROM api_keys WHERE org_id = ? ORDER BY created_at, id`
	rows, err := s.read.QueryContext(ctx, q, orgID)
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	defer rows.Close()
	keys := []APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// DeleteAPIKey removes the key; tokens issued with it stop working at once
// because every request looks the key up (see Principal).
func (s *Store) DeleteAPIKey(ctx context.Context, orgID, keyID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE org_id = ? AND key_id = ?`, orgID, keyID)
		if err != nil {
			return fmt.Errorf("store: delete api key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return missing(KindAPIKey, keyID)
		}
		return nil
	})
}

// Principal is who a request acts as: a user, its role, and the API key its
// token was issued from.
type Principal struct {
	OrgID  string
	UserID string
	Email  string
	// Role is the user's role. Comparisons of privilege ("may this caller
	// hand out that role?") use its grants alone.
	Role Role
	// Grants are what permission checks use: the role's grants and those of
	// the user's unexpired temporary grants.
	Grants []PermissionGrant
	// KeyExpiresAt is when the API key the token was issued with expires,
	// or the session of the sign-in link that issued it.
	KeyExpiresAt time.Time
}

// principalQuery reads a request's user, key and grants in one indexed
// query; the statement is prepared once (see hotStatements).
const principalQuery = principalSelect + `JOIN api_keys k ON k.org_id = u.org_id AND k.key_id = ?` + principalWhere

// principalSelect and principalWhere surround the join of what a token
// names, as k with an expires_at column and one parameter: an API key, or
// the session a sign-in link opened.
const (
	principalSelect = `SELECT u.email, k.expires_at,
	r.id, r.org_id, r.name, r.description, r.frontend_view, r.permission_grants, r.builtin, r.created_at, r.updated_at,
	(SELECT json_group_array(json_object('permission_name', g.permission_name, 'conditions', json(g.conditions)))
		FROM temporary_permission_grants g
		WHERE g.org_id = u.org_id AND g.user_id = u.id AND g.expires_at > ?),
	(SELECT MIN(g.expires_at) FROM temporary_permission_grants g
		WHERE g.org_id = u.org_id AND g.user_id = u.id AND g.expires_at > ?)
	FROM users u
	JOIN roles r ON r.id = u.role_id
	`
	principalWhere = `
	WHERE u.org_id = ? AND u.id = ?`
)

// Principal looks up the user, its role, its unexpired temporary grants
// and the API key a token names, in one query: it runs on every request. A
// user or key that no longer exists in the organization is ErrNotFound.
// The role's grants may be shared with other principals: read them only.
func (s *Store) Principal(ctx context.Context, orgID, userID, keyID string) (Principal, error) {
	return s.principal(principalKey{orgID, userID, keyID}, func(now time.Time) (Principal, time.Time, error) {
		return s.readPrincipal(ctx, orgID, userID, keyID, now)
	})
}

// principal answers a principal lookup from the cache, or reads it as of
// now and remembers the answer until a write or the time read says.
func (s *Store) principal(k principalKey, read func(now time.Time) (Principal, time.Time, error)) (Principal, error) {
	now := s.now()
	if p, ok := s.cache.principal(k, now); ok {
		return p, nil
	}
	gen := s.cache.generation()
	p, until, err := read(now)
	if err == nil {
		s.cache.putPrincipal(gen, k, p, until)
	}
	return p, err
}

// readPrincipal reads a principal as of now, and until when that answer
// holds unless a write changes it.
func (s *Store) readPrincipal(ctx context.Context, orgID, userID, keyID string, now time.Time) (Principal, time.Time, error) {
	at := formatTime(now)
	return s.scanPrincipal(s.hot.principal.QueryRowContext(ctx, at, at, keyID, orgID, userID), orgID, userID)
}

// scanPrincipal reads a principal query's row.
func (s *Store) scanPrincipal(row *sql.Row, orgID, userID string) (Principal, time.Time, error) {
	p := Principal{OrgID: orgID, UserID: userID}
	var expires, temporary string
	var firstGrantExpiry sql.NullString
	var rs roleScan
	dest := append(append([]any{&p.Email, &expires}, rs.dest()...), &temporary, &firstGrantExpiry)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, time.Time{}, missing(KindUser, userID)
	}
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("store: principal: %w", err)
	}
	roleGrants, err := s.grants.parse(rs.grants)
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("store: principal: role %s grants: %w", rs.r.ID, err)
	}
	if p.Role, err = rs.finishWith(roleGrants); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("store: principal: %w", err)
	}
	if p.KeyExpiresAt, err = parseTime(expires); err != nil {
		return Principal{}, time.Time{}, err
	}
	// Expiry needs no background job: an expired grant is simply not read.
	var grants []PermissionGrant
	if err := json.Unmarshal([]byte(temporary), &grants); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("store: principal: temporary grants: %w", err)
	}
	p.Grants = append(slices.Clip(p.Role.PermissionGrants), grants...)
	until := p.KeyExpiresAt
	if firstGrantExpiry.Valid {
		t, err := parseTime(firstGrantExpiry.String)
		if err != nil {
			return Principal{}, time.Time{}, err
		}
		if t.Before(until) {
			until = t
		}
	}
	return p, until, nil
}

// grantCache keeps the parsed grants of recently seen roles, keyed by their
// stored JSON. Parsing an administrator's grants was a third of the work of
// an authenticated request. The key is the text itself, so a changed role
// can never be served from the cache; there is nothing to invalidate.
type grantCache struct {
	mu sync.Mutex
	m  resetMap[string, []PermissionGrant]
}

// grantCacheSize bounds the cache; past it, the cache starts over.
const grantCacheSize = 256

func (c *grantCache) parse(raw string) ([]PermissionGrant, error) {
	c.mu.Lock()
	g, ok := c.m[raw]
	c.mu.Unlock()
	if ok {
		return slices.Clip(g), nil
	}
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m.put(raw, g, grantCacheSize)
	c.mu.Unlock()
	return slices.Clip(g), nil
}
