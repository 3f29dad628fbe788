package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Preferences are a user's (or an organization's default) preferences.
type Preferences struct {
	EnableResponseRecommendation bool     `json:"enable_response_recommendation"`
	PreferredLanguage            *string  `json:"preferred_language"`
	ConversationsVisibleToAdmins bool     `json:"conversations_visible_to_admins"`
	UserModelVisibleToAdmins     bool     `json:"user_model_visible_to_admins"`
	Timezone                     *string  `json:"timezone"`
	AudioKeyterms                []string `json:"audio_keyterms"`
}

// DefaultPreferences are the preferences an organization starts with.
func DefaultPreferences() Preferences {
	return Preferences{ConversationsVisibleToAdmins: true, UserModelVisibleToAdmins: true, AudioKeyterms: []string{}}
}

// UserDimension is one axis along which an organization models its users.
type UserDimension struct {
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// Organization is a tenant. ID is the name used in every URL.
type Organization struct {
	ID                     string
	Name                   string
	TenantID               *string
	DefaultUserPreferences Preferences
	UserDimensions         []UserDimension
	Logo                   []byte
	SquareLogo             []byte
	Favicon                []byte
	AzureDevopsTeamName    *string
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// NewOrganization is everything created together with an organization: its
// built-in roles and its first user.
type NewOrganization struct {
	Org   Organization
	Roles []Role
	// Admin is created holding the role named AdminRole.
	Admin     User
	AdminRole string
}

// CreateOrganization creates an organization with its roles and first user in
// one transaction. An existing organization with the same ID is a *ConflictError.
func (s *Store) CreateOrganization(ctx context.Context, n NewOrganization) (Organization, User, error) {
	var org Organization
	var admin User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		org, admin, err = s.createOrganization(ctx, tx, n)
		return err
	})
	return org, admin, err
}

func (s *Store) createOrganization(ctx context.Context, tx *sql.Tx, n NewOrganization) (Organization, User, error) {
	now := s.now()
	org := n.Org
	org.CreatedAt, org.UpdatedAt = now, now
	if org.UserDimensions == nil {
		org.UserDimensions = []UserDimension{}
	}
	prefs, err := json.Marshal(org.DefaultUserPreferences)
	if err != nil {
		return Organization{}, User{}, err
	}
	dims, err := json.Marshal(org.UserDimensions)
	if err != nil {
		return Organization{}, User{}, err
	}
	const q = `INSERT INTO organizations (id, name, tenant_id, default_user_preferences, user_dimensions,
		logo, square_logo, favicon, azure_devops_team_name, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = tx.ExecContext(ctx, q, org.ID, org.Name, org.TenantID, string(prefs), string(dims),
		org.Logo, org.SquareLogo, org.Favicon, org.AzureDevopsTeamName, formatTime(now), formatTime(now))
	if isUniqueViolation(err) {
		return Organization{}, User{}, &ConflictError{Refusal{Rule: RuleIDTaken, Kind: KindOrganization, ID: org.ID}}
	}
	if err != nil {
		return Organization{}, User{}, fmt.Errorf("store: create organization %s: %w", org.ID, err)
	}
	adminRoleID := ""
	for _, r := range n.Roles {
		r.OrgID = org.ID
		created, err := s.createRole(ctx, tx, r)
		if err != nil {
			return Organization{}, User{}, err
		}
		if r.Name == n.AdminRole {
			adminRoleID = created.ID
		}
	}
	if adminRoleID == "" {
		return Organization{}, User{}, fmt.Errorf("store: create organization %s: admin role %q not among its roles", org.ID, n.AdminRole)
	}
	admin := n.Admin
	admin.OrgID = org.ID
	admin.RoleID = adminRoleID
	admin, err = s.createUser(ctx, tx, admin, nil)
	if err != nil {
		return Organization{}, User{}, err
	}
	return org, admin, nil
}

// getOrganizationQuery reads an organization without its images (up to a
// megabyte each, and returned by no operation): every request looks its
// organization up. It is prepared once (see hotStatements).
const getOrganizationQuery = `SELECT id, name, tenant_id, default_user_preferences, user_dimensions,
	azure_devops_team_name, created_at, updated_at
	FROM organizations WHERE id = ?`

// GetOrganization returns the organization with the given ID, without its images.
func (s *Store) GetOrganization(ctx context.Context, id string) (Organization, error) {
	if o, ok := s.cache.org(id); ok {
		return o, nil
	}
	gen := s.cache.generation()
	o, err := s.readOrganization(ctx, id)
	if err == nil {
		s.cache.putOrg(gen, o)
	}
	return o, err
}

func (s *Store) readOrganization(ctx context.Context, id string) (Organization, error) {
	var o Organization
	var prefs, dims, created, updated string
	err := s.hot.organization.QueryRowContext(ctx, id).Scan(&o.ID, &o.Name, &o.TenantID, &prefs, &dims,
		&o.AzureDevopsTeamName, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Organization{}, missing(KindOrganization, id)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("store: get organization %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(prefs), &o.DefaultUserPreferences); err != nil {
		return Organization{}, fmt.Errorf("store: get organization %s: preferences: %w", id, err)
	}
	if err := json.Unmarshal([]byte(dims), &o.UserDimensions); err != nil {
		return Organization{}, fmt.Errorf("store: get organization %s: dimensions: %w", id, err)
	}
	if o.CreatedAt, err = parseTime(created); err != nil {
		return Organization{}, err
	}
	if o.UpdatedAt, err = parseTime(updated); err != nil {
		return Organization{}, err
	}
	return o, nil
}

// OrganizationPatch lists the fields to change; nil fields stay as they are.
type OrganizationPatch struct {
	Logo                   *[]byte
	SquareLogo             *[]byte
	Favicon                *[]byte
	UserDimensions         *[]UserDimension
	DefaultUserPreferences *Preferences
}

// UpdateOrganization applies p to the organization.
func (s *Store) UpdateOrganization(ctx context.Context, id string, p OrganizationPatch) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM organizations WHERE id = ?`, id).Scan(&exists)
		if errors.Is(err, sql.ErrNoRows) {
			return missing(KindOrganization, id)
		}
		if err != nil {
			return fmt.Errorf("store: update organization %s: %w", id, err)
		}
		// Columns come from this fixed list, never from the caller.
		var cols []string
		var args []any
		if p.Logo != nil {
			cols, args = append(cols, "logo"), append(args, *p.Logo)
		}
		if p.SquareLogo != nil {
			cols, args = append(cols, "square_logo"), append(args, *p.SquareLogo)
		}
		if p.Favicon != nil {
			cols, args = append(cols, "favicon"), append(args, *p.Favicon)
		}
		addJSON := func(col string, v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			cols, args = append(cols, col), append(args, string(b))
			return nil
		}
		if p.UserDimensions != nil {
			if err := addJSON("user_dimensions", *p.UserDimensions); err != nil {
				return err
			}
		}
		if p.DefaultUserPreferences != nil {
			if err := addJSON("default_user_preferences", *p.DefaultUserPreferences); err != nil {
				return err
			}
		}
		q := `UPDATE organizations SET updated_at = ?`
		for _, c := range cols {
			q += `, ` + c + ` = ?`
		}
		args = append([]any{formatTime(s.now())}, append(args, id)...)
		if _, err := tx.ExecContext(ctx, q+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("store: update organization %s: %w", id, err)
		}
		return nil
	})
}

// DeleteOrganization erases the organization and, by cascade, all its data.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// The full-text rows first: the cascade below does not reach them.
		if err := deleteFullText(ctx, tx, id, false); err != nil {
			return fmt.Errorf("store: delete organization %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM organizations WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete organization %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return missing(KindOrganization, id)
		}
		return nil
	})
}
