package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Condition restricts a permission grant to resources whose attribute
// matches. Type is "Equals" or "NotEquals" (using Value) or "In" (using Values).
type Condition struct {
	Type   string `json:"type"`
	Value  any    `json:"value,omitempty"`
	Values []any  `json:"values,omitempty"`
}

// PermissionGrant allows one permission, optionally only where every
// condition holds.
type PermissionGrant struct {
	PermissionName string               `json:"permission_name"`
	Conditions     map[string]Condition `json:"conditions"`
}

// Role is a named set of permission grants within an organization.
type Role struct {
	ID               string
	OrgID            string
	Name             string
	Description      string
	FrontendView     string
	PermissionGrants []PermissionGrant
	Builtin          bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (s *Store) createRole(ctx context.Context, tx *sql.Tx, r Role) (Role, error) {
	now := s.now()
	r.ID = NewID()
	r.CreatedAt, r.UpdatedAt = now, now
	if r.PermissionGrants == nil {
		r.PermissionGrants = []PermissionGrant{}
	}
	grants, err := json.Marshal(r.PermissionGrants)
	if err != nil {
		return Role{}, err
	}
	const q = `INSERT INTO roles (id, org_id, name, description, frontend_view, permission_grants, builtin,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, q, r.ID, r.OrgID, r.Name, r.Description, r.FrontendView, string(grants),
		r.Builtin, formatTime(now), formatTime(now))
	if isUniqueViolation(err) {
		return Role{}, &ConflictError{Refusal{Rule: RuleNameTaken, Kind: KindRole, Name: r.Name}}
	}
	if err != nil {
		return Role{}, fmt.Errorf("store: create role %s: %w", r.Name, err)
	}
	return r, nil
}

const roleColumns = `id, org_id, name, description, frontend_view, permission_grants, builtin, created_at, updated_at`

// roleScan holds the raw columns of a role row until finish decodes them.
type roleScan struct {
	r                        Role
	grants, created, updated string
}

func (rs *roleScan) dest() []any {
	return []any{&rs.r.ID, &rs.r.OrgID, &rs.r.Name, &rs.r.Description, &rs.r.FrontendView, &rs.grants,
		&rs.r.Builtin, &rs.created, &rs.updated}
}

func (rs *roleScan) finish() (Role, error) {
	var grants []PermissionGrant
	if err := json.Unmarshal([]byte(rs.grants), &grants); err != nil {
		return Role{}, fmt.Errorf("role %s grants: %w", rs.r.ID, err)
	}
	return rs.finishWith(grants)
}

// finishWith is finish with the grants already parsed.
func (rs *roleScan) finishWith(grants []PermissionGrant) (Role, error) {
	r := rs.r
	r.PermissionGrants = grants
	var err error
	if r.CreatedAt, err = parseTime(rs.created); err != nil {
		return Role{}, err
	}
	if r.UpdatedAt, err = parseTime(rs.updated); err != nil {
		return Role{}, err
	}
	return r, nil
}

func scanRole(row interface{ Scan(...any) error }) (Role, error) {
	var rs roleScan
	if err := row.Scan(rs.dest()...); err != nil {
		return Role{}, err
	}
	return rs.finish()
}

// GetRoleByName returns the organization's role with the given name.
func (s *Store) GetRoleByName(ctx context.Context, orgID, name string) (Role, error) {
	return roleByName(ctx, s.read, orgID, name)
}

// roleByName reads a role by name through db, a connection or a
// transaction. A missing role is a *NotFoundError naming it.
func roleByName(ctx context.Context, db queryer, orgID, name string) (Role, error) {
	q := `SELECT ` + roleColumns + ` FROM roles WHERE org_id = ? AND name = ?`
	r, err := scanRole(db.QueryRowContext(ctx, q, orgID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Role{}, missing(KindRole, name)
	}
	if err != nil {
		return Role{}, fmt.Errorf("store: get role %s: %w", name, err)
	}
	return r, nil
}

// GetRole returns the organization's role with the given ID.
func (s *Store) GetRole(ctx context.Context, orgID, id string) (Role, error) {
	q := `SELECT ` + roleColumns + ` FROM roles WHERE org_id = ? AND id = ?`
	r, err := scanRole(s.read.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Role{}, missing(KindRole, id)
	}
	if err != nil {
		return Role{}, fmt.Errorf("store: get role %s: %w", id, err)
	}
	return r, nil
}

// ListRoles returns the organization's roles ordered by name.
func (s *Store) ListRoles(ctx context.Context, orgID string) ([]Role, error) {
	q := `SELECT ` + roleColumns + ` FROM roles WHERE org_id = ? ORDER BY name`
	rows, err := s.read.QueryContext(ctx, q, orgID)
	if err != nil {
		return nil, fmt.Errorf("store: list roles: %w", err)
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list roles: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRole creates a role. A role of the same name is a *ConflictError.
func (s *Store) CreateRole(ctx context.Context, r Role) (Role, error) {
	var created Role
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		created, err = s.createRole(ctx, tx, r)
		return err
	})
	return created, err
}

// UpdateRole loads the organization's role by name, lets change modify its
// description, frontend view and grants, and writes them back in one
// transaction. The role keeps its ID, so its users and API keys follow it.
func (s *Store) UpdateRole(ctx context.Context, orgID, name string, change func(*Role) error) (Role, error) {
	var r Role
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = roleByName(ctx, tx, orgID, name); err != nil {
			return err
		}
		if err := change(&r); err != nil {
			return err
		}
		grants, err := json.Marshal(r.PermissionGrants)
		if err != nil {
			return err
		}
		r.UpdatedAt = s.now()
		const u = `UPDATE roles SET description = ?, frontend_view = ?, permission_grants = ?, updated_at = ?
			WHERE id = ?`
		if _, err := tx.ExecContext(ctx, u, r.Description, r.FrontendView, string(grants), formatTime(r.UpdatedAt), r.ID); err != nil {
			return fmt.Errorf("store: update role %s: %w", name, err)
		}
		return nil
	})
	return r, err
}

// AssignRole gives the user the organization's role named roleName. check
// sees the role and the user's current role inside the transaction, so a
// concurrent change cannot slip between the check and the write. A missing
// role or user is a *NotFoundError naming it.
func (s *Store) AssignRole(ctx context.Context, orgID, userID, roleName string, check func(role, current Role) error) (Role, error) {
	var role Role
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if role, err = roleByName(ctx, tx, orgID, roleName); err != nil {
			return err
		}
		q := `SELECT ` + roleColumns + ` FROM roles WHERE id = (SELECT role_id FROM users WHERE org_id = ? AND id = ?)`
		current, err := scanRole(tx.QueryRowContext(ctx, q, orgID, userID))
		if errors.Is(err, sql.ErrNoRows) {
			return missing(KindUser, userID)
		}
		if err != nil {
			return fmt.Errorf("store: assign role to user %s: %w", userID, err)
		}
		if err := check(role, current); err != nil {
			return err
		}
		const u = `UPDATE users SET role_id = ?, updated_at = ? WHERE org_id = ? AND id = ?`
		if _, err := tx.ExecContext(ctx, u, role.ID, formatTime(s.now()), orgID, userID); err != nil {
			return fmt.Errorf("store: assign role to user %s: %w", userID, err)
		}
		return nil
	})
	return role, err
}
