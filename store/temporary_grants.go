package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TemporaryGrant gives a user one permission grant until ExpiresAt.
type TemporaryGrant struct {
	ID            string
	OrgID         string
	UserID        string
	Grant         PermissionGrant
	Tags          []Tag
	Justification string
	Creator       Actor
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreateTemporaryGrant stores a grant for a user of the organization, lasting
// lifetime from now. An unknown user is ErrNotFound.
func (s *Store) CreateTemporaryGrant(ctx context.Context, g TemporaryGrant, lifetime time.Duration) (TemporaryGrant, error) {
	now := s.now()
	g.ID = NewID()
	g.CreatedAt, g.UpdatedAt, g.ExpiresAt = now, now, now.Add(lifetime)
	if g.Grant.Conditions == nil {
		g.Grant.Conditions = map[string]Condition{}
	}
	if g.Tags == nil {
		g.Tags = []Tag{}
	}
	conds, err := json.Marshal(g.Grant.Conditions)
	if err != nil {
		return TemporaryGrant{}, err
	}
	tags, err := json.Marshal(g.Tags)
	if err != nil {
		return TemporaryGrant{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE org_id = ? AND id = ?`, g.OrgID, g.UserID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return missing(KindUser, g.UserID)
		}
		if err != nil {
			return fmt.Errorf("store: create temporary grant: %w", err)
		}
		const q = `INSERT INTO temporary_permission_grants (id, org_id, user_id, permission_name, conditions, tags,
			justification, creator_org_id, creator_user_id, expires_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err = tx.ExecContext(ctx, q, g.ID, g.OrgID, g.UserID, g.Grant.PermissionName, string(conds), string(tags),
			g.Justification, g.Creator.OrgID, g.Creator.UserID, formatTime(g.ExpiresAt), formatTime(now), formatTime(now))
		if err != nil {
			return fmt.Errorf("store: create temporary grant: %w", err)
		}
		return nil
	})
	if err != nil {
		return TemporaryGrant{}, err
	}
	return g, nil
}

const temporaryGrantColumns = `g.id, g.org_id, g.user_id, g.permission_name, g.conditions, g.tags, g.justification,
	g.creator_org_id, g.creator_user_id, g.expires_at, g.created_at, g.updated_at`

func scanTemporaryGrant(row interface{ Scan(...any) error }) (TemporaryGrant, error) {
	var g TemporaryGrant
	var conds, tags, expires, created, updated string
	err := row.Scan(&g.ID, &g.OrgID, &g.UserID, &g.Grant.PermissionName, &conds, &tags, &g.Justification,
		&g.Creator.OrgID, &g.Creator.UserID, &expires, &created, &updated)
	if err != nil {
		return TemporaryGrant{}, err
	}
	if err := json.Unmarshal([]byte(conds), &g.Grant.Conditions); err != nil {
		return TemporaryGrant{}, fmt.Errorf("temporary grant %s conditions: %w", g.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &g.Tags); err != nil {
		return TemporaryGrant{}, fmt.Errorf("temporary grant %s tags: %w", g.ID, err)
	}
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&g.ExpiresAt, expires}, {&g.CreatedAt, created}, {&g.UpdatedAt, updated}} {
		if *t.dst, err = parseTime(t.src); err != nil {
			return TemporaryGrant{}, err
		}
	}
	return g, nil
}

// temporaryGrantSortColumns maps the API's sort fields to columns.
var temporaryGrantSortColumns = map[string]string{
	"user_id": "g.user_id", "expires_at": "g.expires_at", "permission_grant.permission_name": "g.permission_name",
}

// ValidTemporaryGrantSortField reports whether ListTemporaryGrants can sort by field.
var ValidTemporaryGrantSortField = sortable(temporaryGrantSortColumns)

// TemporaryGrantFilter selects grants for ListTemporaryGrants. Empty slices
// and nil pointers do not filter. Expired compares with the store's clock.
type TemporaryGrantFilter struct {
	IDs            []string
	UserIDs        []string
	CreatorUserIDs []string
	PermissionName *string
	Expired        *bool
	Tags           []TagFilter
	Sort           []SortKey
}

// ListTemporaryGrants returns the organization's grants matching f, expired
// ones included unless f says otherwise, in f.Sort order with ties broken by
// creation. Callers filter by visibility and page the result.
func (s *Store) ListTemporaryGrants(ctx context.Context, orgID string, f TemporaryGrantFilter) ([]TemporaryGrant, error) {
	var where strings.Builder
	args := []any{orgID}
	where.WriteString(`g.org_id = ?`)
	args = andIn(&where, args, "g.id", f.IDs)
	args = andIn(&where, args, "g.user_id", f.UserIDs)
	args = andIn(&where, args, "g.creator_user_id", f.CreatorUserIDs)
	if f.PermissionName != nil {
		where.WriteString(` AND g.permission_name = ?`)
		args = append(args, *f.PermissionName)
	}
	if f.Expired != nil {
		if *f.Expired {
			where.WriteString(` AND g.expires_at <= ?`)
		} else {
			where.WriteString(` AND g.expires_at > ?`)
		}
		args = append(args, formatTime(s.now()))
	}
	for _, tf := range f.Tags {
		cond, targs := tagCondition("g.tags", tf)
		where.WriteString(` AND ` + cond)
		args = append(args, targs...)
	}
	order, err := orderBy(f.Sort, temporaryGrantSortColumns)
	if err != nil {
		return nil, fmt.Errorf("store: list temporary grants: %w", err)
	}
	// Grants made in the same microsecond keep the order they were made in.
	order = append(order, "g.created_at", "g.rowid")
	q := `SELECT ` + temporaryGrantColumns + ` FROM temporary_permission_grants g WHERE ` + where.String() +
		` ORDER BY ` + strings.Join(order, ", ")
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list temporary grants: %w", err)
	}
	defer rows.Close()
	out := []TemporaryGrant{}
	for rows.Next() {
		g, err := scanTemporaryGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list temporary grants: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
